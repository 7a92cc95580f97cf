-- A PUT that held an API key: the slot, its job (with profile p_profile
-- and encode kind p_kind, mediagate_upload_profile; NULL: none) and the
-- encode of the file already in place at p_path, in one transaction.
-- Returns the job id.
DROP FUNCTION IF EXISTS mediagate_upload_put(uuid, text, text, text, text, bigint, bigint, text);
CREATE OR REPLACE FUNCTION mediagate_upload_put(p_id uuid, p_job text, p_owner text, p_name text,
                                     p_type text, p_max bigint, p_size bigint, p_path text,
                                     p_profile jsonb DEFAULT NULL, p_kind text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    -- p_id is fresh for each request: a row with it is this request's own,
    -- committed before a lost connection made db_exec retry.
    IF EXISTS (SELECT 1 FROM uploads WHERE id = p_id) THEN
        RETURN (SELECT job_id FROM uploads WHERE id = p_id AND stored_at IS NOT NULL);
    END IF;
    PERFORM mediagate_upload_create(p_id, p_job, p_owner, p_name, p_type, p_max, NULL, NULL);
    PERFORM mediagate_upload_profile(p_id, p_profile, p_kind);
    RETURN mediagate_upload_store(p_id, NULL, p_size, p_path);
END
$$;
