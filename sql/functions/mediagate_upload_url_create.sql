-- An upload by URL: the slot (no token, no expiry: no client sends its
-- file), its job (SUBMITTED, waiting for the file like any slot's), its
-- profile (mediagate_upload_profile) and the upload.fetch task that brings
-- the file from p_url, in one transaction. The task carries p_owner, so
-- the claim's per-owner cap (MEDIAGATE_ENCODE_OWNER_CAP) bounds how many
-- fetches one API key runs at once. p_source is what is kept and shown of
-- the URL (no query, no fragment); p_url, whole, is in the task alone.
CREATE OR REPLACE FUNCTION mediagate_upload_url_create(p_id uuid, p_job text, p_owner text,
                                            p_name text, p_max bigint, p_acl text,
                                            p_source text, p_url text, p_profile jsonb,
                                            p_kind text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    PERFORM mediagate_upload_create_acl(p_id, p_job, p_owner, p_name, NULL, p_max, NULL, NULL,
                                        p_acl);
    PERFORM mediagate_upload_profile(p_id, p_profile, p_kind);
    UPDATE uploads SET source_url = p_source WHERE id = p_id;
    INSERT INTO outbox (kind, payload, owner)
    VALUES ('upload.fetch', jsonb_build_object('job_id', p_job, 'upload_id', p_id, 'url', p_url),
            p_owner);
END
$$;
