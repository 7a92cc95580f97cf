-- Makes a slot, its SUBMITTED job and, for a slot that waits for a PUT, the
-- task that ends it at expiry, in one transaction. p_ttl NULL: no slot
-- wait (a PUT with an API key stores the file at once). Returns the
-- expiry (NULL for those).
CREATE OR REPLACE FUNCTION mediagate_upload_create(p_id uuid, p_job text, p_owner text, p_name text,
                                        p_type text, p_max bigint, p_token bytea,
                                        p_ttl integer)
RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE
    exp timestamptz := CASE WHEN p_ttl IS NULL THEN NULL
                            ELSE now() + make_interval(secs => p_ttl) END;
BEGIN
    INSERT INTO jobs (id, backend, backend_job_id, input_file)
    VALUES (p_job, 'local', 'upload:' || p_id, 'uploads/' || p_id || '/' || p_name);
    INSERT INTO uploads (id, job_id, owner, name, content_type, max_bytes, token_hash, expires_at)
    VALUES (p_id, p_job, p_owner, p_name, p_type, p_max, p_token, exp);
    IF exp IS NOT NULL THEN
        INSERT INTO outbox (kind, payload, run_after)
        VALUES ('upload.expire', jsonb_build_object('job_id', p_job, 'upload_id', p_id), exp);
    END IF;
    RETURN exp;
END
$$;
