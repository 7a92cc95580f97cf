-- DELETE /media/captions/<job>/<language> by p_owner: the captions are
-- marked deleted (the next publish removes their files, then the row) and
-- a captions.publish task is queued. Returns 'deleted', 'no_such_language',
-- or mediagate_captions_owned's refusal.
CREATE OR REPLACE FUNCTION mediagate_captions_delete(p_job text, p_owner text, p_language text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    why text := mediagate_captions_owned(p_job, p_owner);
BEGIN
    IF why <> 'ok' THEN
        RETURN why;
    END IF;
    UPDATE captions SET deleted_at = now(), updated_at = now()
     WHERE job_id = p_job AND language = p_language AND deleted_at IS NULL;
    IF NOT FOUND THEN
        RETURN 'no_such_language';
    END IF;
    PERFORM mediagate_captions_queue(p_job);
    RETURN 'deleted';
END
$$;
