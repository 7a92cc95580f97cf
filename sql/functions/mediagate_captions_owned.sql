-- Job p_job for a change of its captions by p_owner, locked (a COMPLETE
-- in flight waits, so its trigger sees the change, or the change sees
-- COMPLETE): 'ok', or why not: 'no_such_job' (absent, deleted, or not p_owner's: the
-- owner of its upload, or of the stream it is the recording of),
-- 'not_local' (another encoder made it: its outputs are not ours to
-- change), 'finished' (ERROR or CANCELED).
CREATE OR REPLACE FUNCTION mediagate_captions_owned(p_job text, p_owner text) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    j jobs%ROWTYPE;
BEGIN
    SELECT * INTO j FROM jobs WHERE id = p_job FOR UPDATE;
    IF NOT FOUND OR j.deleted_at IS NOT NULL
       OR NOT (EXISTS (SELECT 1 FROM uploads u WHERE u.job_id = p_job AND u.owner = p_owner)
               OR EXISTS (SELECT 1 FROM streams s
                           WHERE s.vod_job_id = p_job AND s.owner = p_owner)) THEN
        RETURN 'no_such_job';
    END IF;
    IF j.backend <> 'local' THEN
        RETURN 'not_local';
    END IF;
    IF j.status IN ('ERROR', 'CANCELED') THEN
        RETURN 'finished';
    END IF;
    RETURN 'ok';
END
$$;
