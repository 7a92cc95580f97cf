-- GET /media/thumbnail: thumbnail (p_job, p_time_ms, p_width) as it stands,
-- one row (t_status, t_file, t_error, t_queued):
--   made      t_file is its file, relative to the job's directory;
--   queued    its task has not made it yet (t_queued: queued by this call);
--   failed    t_error says why (the task's, or its last attempt's when it
--             died); asked again p_retry_s seconds after it was queued, it
--             is queued again;
--   over_cap  the job has p_cap thumbnails made or queued (failed ones do
--             not count): nothing written;
--   busy      p_queued_cap thumbnail.make tasks of any job wait already:
--             nothing written.
-- The first call inserts the row and queues its thumbnail.make task in this
-- transaction; calls of one job queue one at a time (the job's row locked),
-- so the cap holds and a thumbnail is queued once.
DROP FUNCTION IF EXISTS mediagate_thumbnail_request(text, integer, integer, integer);
CREATE OR REPLACE FUNCTION mediagate_thumbnail_request(p_job text, p_time_ms integer,
                                                       p_width integer, p_cap integer,
                                                       p_queued_cap integer, p_retry_s integer)
RETURNS TABLE (t_status text, t_file text, t_error text, t_queued boolean)
LANGUAGE plpgsql AS $$
DECLARE
    t thumbnails%ROWTYPE;
    task outbox%ROWTYPE;
    tid bigint;
BEGIN
    SELECT * INTO t FROM thumbnails th
     WHERE th.job_id = p_job AND th.time_ms = p_time_ms AND th.width = p_width;
    IF NOT FOUND OR (t.status = 'failed'
                     AND t.created_at < now() - make_interval(secs => p_retry_s)) THEN
        PERFORM 1 FROM jobs j WHERE j.id = p_job FOR NO KEY UPDATE;
        SELECT * INTO t FROM thumbnails th
         WHERE th.job_id = p_job AND th.time_ms = p_time_ms AND th.width = p_width;
        IF FOUND AND NOT (t.status = 'failed'
                          AND t.created_at < now() - make_interval(secs => p_retry_s)) THEN
            RETURN QUERY SELECT t.status, t.file, t.error, false;
            RETURN;
        END IF;
        IF NOT FOUND AND (SELECT count(*) FROM thumbnails th
                           WHERE th.job_id = p_job AND th.status <> 'failed') >= p_cap THEN
            RETURN QUERY SELECT 'over_cap'::text, NULL::text, NULL::text, false;
            RETURN;
        END IF;
        IF (SELECT count(*) FROM outbox o
             WHERE o.kind = 'thumbnail.make' AND o.done_at IS NULL
               AND o.failed_at IS NULL) >= p_queued_cap THEN
            RETURN QUERY SELECT 'busy'::text, NULL::text, NULL::text, false;
            RETURN;
        END IF;
        INSERT INTO outbox (kind, payload)
        VALUES ('thumbnail.make', jsonb_build_object('job_id', p_job, 'time_ms', p_time_ms,
                                                     'width', p_width))
        RETURNING id INTO tid;
        INSERT INTO thumbnails (job_id, time_ms, width, task_id)
        VALUES (p_job, p_time_ms, p_width, tid)
        ON CONFLICT (job_id, time_ms, width) DO UPDATE
           SET status = 'queued', error = NULL, file = NULL, bytes = NULL, task_id = tid,
               created_at = now(), made_at = NULL;
        RETURN QUERY SELECT 'queued'::text, NULL::text, NULL::text, true;
        RETURN;
    END IF;
    IF t.status = 'queued' THEN
        SELECT * INTO task FROM outbox o WHERE o.id = t.task_id;
        IF NOT FOUND OR task.failed_at IS NOT NULL THEN
            UPDATE thumbnails th
               SET status = 'failed',
                   error = coalesce(task.last_error, 'its task is gone')
             WHERE th.job_id = p_job AND th.time_ms = p_time_ms AND th.width = p_width
               AND th.status = 'queued'
            RETURNING * INTO t;
        END IF;
    END IF;
    RETURN QUERY SELECT t.status, t.file, t.error, false;
END
$$;
