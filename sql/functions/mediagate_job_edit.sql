-- Job p_id's ACL (p_set_acl: to p_acl, NULL for WORLD) and/or title
-- (p_set_title: to p_title), for `mediagate jobs acl`, `jobs title` and
-- PATCH /media/jobs/<id>. p_owner: only a job of that owner that is not
-- deleted; '*' (the CLI's, explicitly; no owner is '*'): any job, deleted
-- too; NULL: no job at all (an owner-less caller edits nothing). A JW Platform video's change is written back
-- (mediagate_jw_write; p_sync: MEDIAGATE_JWPLATFORM_SYNC_ITEMS), and refused
-- ('too_long', nothing changed) unless p_fits says the values fit the
-- write-back. A job on the store gets its media.acl task from the jobs
-- trigger (mediagate_media_acl_queue). No row: no such job; else one:
-- 'ok' or 'too_long', the job's storage, whether it is a JW video's, its
-- ACL and title as they are now.
CREATE OR REPLACE FUNCTION mediagate_job_edit(p_id text, p_owner text, p_set_acl boolean,
                                              p_acl text, p_set_title boolean, p_title text,
                                              p_sync boolean, p_fits boolean)
RETURNS TABLE (result text, storage text, jw boolean, acl text, title text)
LANGUAGE plpgsql AS $$
DECLARE
    j jobs%ROWTYPE;
BEGIN
    SELECT * INTO j FROM jobs
     WHERE jobs.id = p_id AND (p_owner = '*' OR (jobs.owner = p_owner AND jobs.deleted_at IS NULL))
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF j.backend = 'jwplatform' AND NOT p_fits THEN
        RETURN QUERY SELECT 'too_long', j.storage, true, j.acl, j.title;
        RETURN;
    END IF;
    UPDATE jobs SET acl = CASE WHEN p_set_acl THEN p_acl ELSE jobs.acl END,
                    title = CASE WHEN p_set_title THEN p_title ELSE jobs.title END,
                    updated_at = now()
     WHERE jobs.id = p_id RETURNING * INTO j;
    IF j.backend = 'jwplatform' THEN
        PERFORM mediagate_jw_write(j.backend_job_id, CASE WHEN p_set_title THEN p_title END,
                                   CASE WHEN p_set_acl THEN 'acl:' || coalesce(p_acl, 'WORLD') || ':' END,
                                   p_sync);
    END IF;
    RETURN QUERY SELECT 'ok', j.storage, j.backend = 'jwplatform', j.acl, j.title;
END
$$;
