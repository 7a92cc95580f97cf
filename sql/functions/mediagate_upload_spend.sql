-- The file of slot p_id is in place (p_size bytes; on S3 storage the
-- object whose ETag is p_etag): spends the token and queues the encode
-- (mediagate_upload_encode: p_input for the local encoder), in one
-- transaction. Returns the job id, or NULL when the slot was spent,
-- expired or the token is wrong meanwhile (then nothing changed). p_token
-- NULL: the slot has no token (API key). p_storage: 'local' or 's3', where
-- the file is.
CREATE OR REPLACE FUNCTION mediagate_upload_spend(p_id uuid, p_token bytea, p_size bigint,
                                       p_storage text, p_etag text, p_input jsonb)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    jid text;
BEGIN
    UPDATE uploads SET stored_at = now(), size = p_size, storage = p_storage, etag = p_etag
     WHERE id = p_id AND stored_at IS NULL AND p_size <= max_bytes
       AND (expires_at IS NULL OR expires_at > now())
       AND token_hash IS NOT DISTINCT FROM p_token
    RETURNING job_id INTO jid;
    IF NOT FOUND THEN
        -- Stored already with this very file: the same request's retry
        -- after a connection lost past the commit (db_exec retries once),
        -- or a completion call repeated after its answer was lost.
        SELECT job_id INTO jid FROM uploads
         WHERE id = p_id AND stored_at IS NOT NULL AND size = p_size
           AND etag IS NOT DISTINCT FROM p_etag AND token_hash IS NOT DISTINCT FROM p_token;
        RETURN jid;
    END IF;
    PERFORM mediagate_upload_encode(p_id, jid, p_input);
    RETURN jid;
END
$$;
