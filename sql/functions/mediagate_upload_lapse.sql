-- The upload.expire task, for any slot: the job of a slot that never got
-- its file is CANCELED (as mediagate_upload_expire), and what the bucket
-- may hold of it is named, so that the task removes it: the key (an s3
-- slot's object, written too late or never confirmed) and the multipart
-- upload id to abort. The row is locked first, so a confirmation that
-- commits meanwhile is seen (then nothing is named). One row: canceled
-- (true when the job was canceled now), storage, key, multipart_id (NULL
-- when there is nothing to remove). Called again after a failed removal,
-- it names the same things.
CREATE OR REPLACE FUNCTION mediagate_upload_lapse(p_id uuid,
                                       OUT canceled boolean, OUT storage text,
                                       OUT key text, OUT multipart_id text)
LANGUAGE plpgsql AS $$
DECLARE
    u uploads%ROWTYPE;
BEGIN
    canceled := false;
    SELECT * INTO u FROM uploads
     WHERE id = p_id AND stored_at IS NULL AND expires_at <= now() FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    canceled := mediagate_upload_expire(p_id);
    storage := u.storage;
    IF u.storage = 's3' THEN
        key := 'uploads/' || u.id || '/' || u.name;
        multipart_id := u.multipart_id;
    END IF;
END
$$;
