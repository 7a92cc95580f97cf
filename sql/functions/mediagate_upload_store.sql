-- The file of slot p_id (p_size bytes, at p_path) is in place: spends the
-- token and queues the encode, in one transaction. Returns the job id, or
-- NULL when the slot was spent, expired or the token is wrong meanwhile
-- (then nothing changed). p_token NULL: the slot has no token (API key).
-- Its caller renamed the file into place, so nobody else did: a second
-- call with the same size is the same request's retry (see
-- mediagate_upload_spend).
CREATE OR REPLACE FUNCTION mediagate_upload_store(p_id uuid, p_token bytea, p_size bigint, p_path text)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    RETURN mediagate_upload_spend(p_id, p_token, p_size, 'local', NULL,
                                  jsonb_build_object('input', p_path));
END
$$;
