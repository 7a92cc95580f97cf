-- mediagate_upload_spend for an object in the bucket at p_key (p_size
-- bytes, ETag p_etag, as the store answered): the encode reads exactly
-- that object (the task's input_key, with If-Match on its input_etag).
-- Returns the job id or NULL.
CREATE OR REPLACE FUNCTION mediagate_upload_s3_spend(p_id uuid, p_token bytea, p_size bigint,
                                          p_key text, p_etag text)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN mediagate_upload_spend(p_id, p_token, p_size, 's3', p_etag,
                                  jsonb_build_object('input_key', p_key, 'input_etag', p_etag,
                                                     'size', p_size));
END
$$;
