-- Applies a task's result event ev to job p_job (mediagate_task_finish,
-- mediagate_task_cancel). A backend_job_id in ev is kept when the job has
-- none yet (the first one stays): a cloud encoder's create answer names the
-- job there, taking the id from a job registered with it (POST /media/jobs'
-- registration form), never from a job mediagate or an event created. A
-- backend_task_id in ev is kept when the job has none yet, and replaces the
-- job's when ev names the job's own backend id (Tencent: ProcessMedia's
-- answer for the job's FileId, after its PullUpload's); an answer without a
-- backend_job_id for a job that has one (a pull's answer late behind the
-- file's tie-back) sets nothing. ev then applies as the job's own
-- backend's event, found by its id (mediagate_job_id) even while the job
-- has no backend id. With poll_after (seconds), the job's reconciler task
-- (encoder.poll) is queued to run that much later, unless one is queued;
-- with cancel_at_encoder, an encoder.cancel task.
-- Returns the job id, or NULL for no such job.
CREATE OR REPLACE FUNCTION mediagate_job_event(p_job text, ev jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    r text;
    bid text := nullif(ev->>'backend_job_id', '');
BEGIN
    IF coalesce(ev->>'backend_task_id', '') <> '' THEN
        UPDATE jobs SET backend_task_id = CASE
                            WHEN backend_job_id = bid THEN ev->>'backend_task_id'
                            WHEN backend_job_id IS NOT NULL AND bid IS NULL THEN backend_task_id
                            ELSE coalesce(backend_task_id, ev->>'backend_task_id') END,
                        updated_at = now()
         WHERE id = p_job;
    END IF;
    -- (backend, backend_job_id) names one job: a job registered with that
    -- id (POST /media/jobs' registration form) gives it up, the encoder's
    -- answer to our own create says whose job it is. A job mediagate or an
    -- event created keeps it: this job then stays without (its events find
    -- it by mediagate_job_id).
    IF bid IS NOT NULL AND EXISTS (SELECT 1 FROM jobs WHERE id = p_job AND backend_job_id IS NULL)
    THEN
        UPDATE jobs o SET backend_job_id = NULL, updated_at = now()
          FROM jobs j
         WHERE j.id = p_job AND o.backend = j.backend AND o.backend_job_id = bid AND o.id <> p_job
           AND o.registered;
        UPDATE jobs j SET backend_job_id = bid, updated_at = now()
         WHERE id = p_job AND backend_job_id IS NULL
           AND NOT EXISTS (SELECT 1 FROM jobs o WHERE o.backend = j.backend
                            AND o.backend_job_id = bid AND o.id <> p_job);
    END IF;
    IF ev ? 'poll_after' AND EXISTS (SELECT 1 FROM task_kinds WHERE name = 'encoder.poll')
       AND NOT EXISTS (SELECT 1 FROM outbox WHERE kind = 'encoder.poll'
                        AND payload->>'job_id' = p_job AND done_at IS NULL AND failed_at IS NULL)
    THEN
        INSERT INTO outbox (kind, payload, run_after)
        VALUES ('encoder.poll', jsonb_build_object('job_id', p_job),
                now() + make_interval(secs => (ev->>'poll_after')::double precision));
    END IF;
    -- With cancel_at_encoder (the reconciler ended the job), the job is
    -- canceled at its encoder too, unless that is queued already.
    IF coalesce((ev->>'cancel_at_encoder')::boolean, false)
       AND EXISTS (SELECT 1 FROM task_kinds WHERE name = 'encoder.cancel')
       AND NOT EXISTS (SELECT 1 FROM outbox WHERE kind = 'encoder.cancel'
                        AND payload->>'job_id' = p_job AND done_at IS NULL AND failed_at IS NULL)
    THEN
        INSERT INTO outbox (kind, payload)
        VALUES ('encoder.cancel', jsonb_build_object('job_id', p_job));
    END IF;
    SELECT mediagate_apply_event(j.backend, (ev - 'backend_task_id' - 'poll_after'
                                             - 'cancel_at_encoder')
                                 || jsonb_build_object('backend_job_id', j.backend_job_id,
                                                       'mediagate_job_id', j.id))
      INTO r FROM jobs j WHERE j.id = p_job;
    RETURN r;
END
$$;
