-- The retention purge (jobs.purge, MEDIAGATE_RETENTION_DAYS = p_days > 0),
-- one bounded batch of each step, in one transaction:
--   jobs not changed for p_days are deleted as their owner would delete
--   them (mediagate_job_delete with reason 'retention': canceled if still
--   running, their files removed by a job.delete task, a job.deleted
--   webhook); JW Platform videos are left to the platform (the mirror);
--   deleted jobs whose files are gone and that were deleted p_days ago
--   lose their row (with their uploads, captions, thumbnails and keys);
--   notifications received p_days ago go.
-- Returns how many of each: deleted, rows removed, notifications removed.
-- At most p_batch of each per call: the task calls again while a batch
-- was full.
CREATE OR REPLACE FUNCTION mediagate_jobs_purge(p_days integer, p_batch integer,
                                                p_create_kinds text[], p_remote text[],
                                                OUT deleted integer, OUT removed integer,
                                                OUT notifications integer)
LANGUAGE plpgsql AS $$
DECLARE
    cutoff timestamptz := now() - make_interval(days => p_days);
    jid text;
BEGIN
    deleted := 0;
    FOR jid IN SELECT id FROM jobs
                WHERE deleted_at IS NULL AND updated_at < cutoff AND backend <> 'jwplatform'
                ORDER BY updated_at LIMIT p_batch
                  FOR UPDATE SKIP LOCKED LOOP
        IF (SELECT d.result FROM mediagate_job_delete(jid, NULL, p_create_kinds, p_remote,
                                                      'retention') d) = 'deleted' THEN
            deleted := deleted + 1;
        END IF;
    END LOOP;
    DELETE FROM jobs WHERE id IN (
        SELECT id FROM jobs WHERE deleted_at < cutoff AND files_removed_at IS NOT NULL
         ORDER BY deleted_at LIMIT p_batch FOR UPDATE SKIP LOCKED);
    GET DIAGNOSTICS removed = ROW_COUNT;
    DELETE FROM notifications WHERE id IN (
        SELECT id FROM notifications WHERE received_at < cutoff
         ORDER BY received_at LIMIT p_batch);
    GET DIAGNOSTICS notifications = ROW_COUNT;
END
$$;
