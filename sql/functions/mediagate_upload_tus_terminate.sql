-- Termination of the tus upload of slot p_id (token digest p_token): the
-- slot ends now and its job is CANCELED with error_message p_message, in
-- one transaction. Returns the job id, or NULL when nothing changed (no
-- such slot or token, its file stored, expired or terminated already).
-- The caller then removes the bytes (app/uploads/tus.h's discard).
CREATE OR REPLACE FUNCTION mediagate_upload_tus_terminate(p_id uuid, p_token bytea, p_message text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    jid text;
BEGIN
    UPDATE uploads SET tus_terminated_at = now(), expires_at = least(expires_at, now())
     WHERE id = p_id AND token_hash = p_token AND stored_at IS NULL
       AND tus_terminated_at IS NULL AND expires_at > now()
    RETURNING job_id INTO jid;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    PERFORM mediagate_job_event(jid, jsonb_build_object(
        'status', 'CANCELED',
        'error_message', p_message));
    RETURN jid;
END
$$;
