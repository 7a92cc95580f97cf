-- The file of slot p_id (p_size bytes, at p_path) is in place: spends the
-- token and queues the encode (its profile's: mediagate_upload_encode), in
-- one transaction. Returns the job id, or NULL when the slot was spent,
-- expired or the token is wrong meanwhile (then nothing changed). p_token
-- NULL: the slot has no token (API key).
CREATE OR REPLACE FUNCTION mediagate_upload_store(p_id uuid, p_token bytea, p_size bigint, p_path text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    jid text;
BEGIN
    UPDATE uploads SET stored_at = now(), size = p_size
     WHERE id = p_id AND stored_at IS NULL AND p_size <= max_bytes
       AND (expires_at IS NULL OR expires_at > now())
       AND token_hash IS NOT DISTINCT FROM p_token
    RETURNING job_id INTO jid;
    IF NOT FOUND THEN
        -- Stored already with this very file: the same request's retry
        -- after a connection lost past the commit (db_exec retries once).
        -- Its caller renamed the file into place, so nobody else did.
        SELECT job_id INTO jid FROM uploads
         WHERE id = p_id AND stored_at IS NOT NULL AND size = p_size
           AND token_hash IS NOT DISTINCT FROM p_token;
        RETURN jid;
    END IF;
    PERFORM mediagate_upload_encode(p_id, jid, jsonb_build_object('input', p_path));
    RETURN jid;
END
$$;
