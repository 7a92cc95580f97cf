-- A PUT that held an API key on S3 storage: the slot, its job and the
-- encode of the object already in the bucket at p_key (p_size bytes, ETag
-- p_etag), in one transaction; the job has profile p_profile and encode
-- kind p_kind (mediagate_upload_profile). Returns the job id. p_id is
-- fresh for each request: a row with it is this request's own, committed
-- before a lost connection made db_exec retry.
DROP FUNCTION IF EXISTS mediagate_upload_put_s3(uuid, text, text, text, text, bigint, bigint,
                                                 text, text);
CREATE OR REPLACE FUNCTION mediagate_upload_put_s3(p_id uuid, p_job text, p_owner text, p_name text,
                                        p_type text, p_max bigint, p_size bigint, p_key text,
                                        p_etag text, p_profile jsonb DEFAULT NULL,
                                        p_kind text DEFAULT NULL)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM uploads WHERE id = p_id) THEN
        PERFORM mediagate_upload_create(p_id, p_job, p_owner, p_name, p_type, p_max, NULL, NULL);
        PERFORM mediagate_upload_profile(p_id, p_profile, p_kind);
    END IF;
    RETURN mediagate_upload_s3_spend(p_id, NULL, p_size, p_key, p_etag);
END
$$;
