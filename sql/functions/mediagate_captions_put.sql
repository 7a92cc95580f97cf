-- PUT /media/captions/<job>/<language> by p_owner: the job's captions in
-- p_language become p_vtt (checked WebVTT) labelled p_label, and a
-- captions.publish task is queued, in one transaction. p_storage is the
-- installation's storage ('local' or 's3'), the only one captions.publish
-- writes to. Returns 'created', 'replaced', 'too_many' (the job has p_max
-- other languages already), 'not_canonical' (p_language is not in
-- mediagate_captions_language's case), 'other_storage' (the job's outputs
-- are on another storage than p_storage), or mediagate_captions_owned's
-- refusal.
DROP FUNCTION IF EXISTS mediagate_captions_put(text, text, text, text, text, integer);
CREATE OR REPLACE FUNCTION mediagate_captions_put(p_job text, p_owner text, p_language text,
                                                  p_label text, p_vtt text, p_max integer,
                                                  p_storage text)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    why text := mediagate_captions_owned(p_job, p_owner);
    had boolean;
BEGIN
    IF why <> 'ok' THEN
        RETURN why;
    END IF;
    IF p_language IS DISTINCT FROM mediagate_captions_language(p_language) THEN
        RETURN 'not_canonical';
    END IF;
    IF EXISTS (SELECT 1 FROM jobs WHERE id = p_job AND storage <> p_storage) THEN
        RETURN 'other_storage';
    END IF;
    SELECT deleted_at IS NULL INTO had FROM captions
     WHERE job_id = p_job AND language = p_language FOR UPDATE;
    IF NOT coalesce(had, false)
       AND (SELECT count(*) FROM captions
             WHERE job_id = p_job AND deleted_at IS NULL) >= p_max THEN
        RETURN 'too_many';
    END IF;
    INSERT INTO captions (job_id, language, label, vtt)
    VALUES (p_job, p_language, p_label, p_vtt)
    ON CONFLICT (job_id, language) DO UPDATE
       SET label = EXCLUDED.label, vtt = EXCLUDED.vtt, updated_at = now(), deleted_at = NULL;
    PERFORM mediagate_captions_queue(p_job);
    RETURN CASE WHEN coalesce(had, false) THEN 'replaced' ELSE 'created' END;
END
$$;
