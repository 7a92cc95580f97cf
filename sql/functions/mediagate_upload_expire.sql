-- The upload.expire task: the job of a slot that never got its file is
-- CANCELED (the slot refuses PUTs from its expiry on). Returns true when it did that.
CREATE OR REPLACE FUNCTION mediagate_upload_expire(p_id uuid) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    jid text;
BEGIN
    SELECT job_id INTO jid FROM uploads
     WHERE id = p_id AND stored_at IS NULL AND expires_at <= now();
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    PERFORM mediagate_job_event(jid, jsonb_build_object(
        'status', 'CANCELED',
        'error_message', 'the upload URL expired before a file arrived'));
    RETURN true;
END
$$;
