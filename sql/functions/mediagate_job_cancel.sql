-- mediagate jobs cancel ID: job p_job becomes CANCELED at once. Its work
-- that never started stops with it (a create task of p_create_kinds not yet
-- tried; its local encode or upload by URL's fetch, running or not: the
-- holder finds its lease gone at its next heartbeat). A job of an encoder in p_remote (the rows that
-- can cancel) that was created there, or whose create is in flight, gets
-- an encoder.cancel task, which waits for that create's answer. A Mux
-- direct upload of the job's slot that got no file yet is canceled at Mux
-- by the slot's upload.expire task, run at once (app/worker/upload.c; an
-- asset made of it all the same is deleted: mediagate_notify_apply). A JW
-- Platform upload's video is deleted there the same way (its create
-- 'discarded' at once, so the mirror never derives the job again:
-- app/worker/jwplatform.c). Returns 'canceling' (the encoder.cancel task
-- queued), 'canceling_upload' (the upload.expire task brought forward),
-- 'canceled', 'finished' (the job was final already), 'platform_managed'
-- (a JW Platform video not made by an upload here: nothing changed, its
-- job follows the platform) or 'no_such_job'.
CREATE OR REPLACE FUNCTION mediagate_job_cancel(p_job text, p_create_kinds text[],
                                                p_remote text[])
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    j jobs%ROWTYPE;
BEGIN
    SELECT * INTO j FROM jobs WHERE id = p_job FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'no_such_job';
    END IF;
    IF mediagate_status_rank(j.status) = 2 THEN
        RETURN 'finished';
    END IF;
    IF j.backend = 'jwplatform'
       AND NOT EXISTS (SELECT 1 FROM jwplatform_creates WHERE job_id = p_job) THEN
        RETURN 'platform_managed';
    END IF;
    UPDATE outbox SET failed_at = now(), last_error = 'canceled by an operator',
                      locked_by = NULL, locked_until = NULL
     WHERE payload->>'job_id' = p_job AND done_at IS NULL AND failed_at IS NULL
       AND (kind IN ('local.encode', 'upload.fetch')
            OR (kind = ANY (p_create_kinds) AND attempts = 0
                AND (locked_until IS NULL OR locked_until < now())));
    PERFORM mediagate_job_event(p_job, '{"status": "CANCELED"}'::jsonb);
    UPDATE jwplatform_creates SET state = 'discarded', updated_at = now()
     WHERE job_id = p_job AND state = 'created';
    IF j.backend = ANY (p_remote)
       AND EXISTS (SELECT 1 FROM task_kinds WHERE name = 'encoder.cancel')
       AND (j.backend_job_id IS NOT NULL
            OR EXISTS (SELECT 1 FROM outbox WHERE payload->>'job_id' = p_job
                        AND kind = ANY (p_create_kinds) AND done_at IS NULL AND failed_at IS NULL))
    THEN
        INSERT INTO outbox (kind, payload)
        VALUES ('encoder.cancel', jsonb_build_object('job_id', p_job));
        RETURN 'canceling';
    END IF;
    UPDATE outbox o SET run_after = now()
      FROM uploads u
     WHERE u.job_id = p_job AND u.stored_at IS NULL
       AND (u.platform_upload_id IS NOT NULL OR u.target = 'jwplatform')
       AND o.kind = 'upload.expire' AND o.payload->>'upload_id' = u.id::text
       AND o.done_at IS NULL AND o.failed_at IS NULL;
    IF FOUND THEN
        RETURN 'canceling_upload';
    END IF;
    -- A JW upload's slot whose task ended already (its video got its
    -- file before the link's expiry): one more, to delete the video.
    INSERT INTO outbox (kind, payload)
    SELECT 'upload.expire', jsonb_build_object('job_id', p_job, 'upload_id', u.id)
      FROM uploads u
     WHERE u.job_id = p_job AND u.target = 'jwplatform' AND u.stored_at IS NULL;
    IF FOUND THEN
        RETURN 'canceling_upload';
    END IF;
    RETURN 'canceled';
END
$$;
