-- Ends attempt p_token of task p_id, and applies p_event (when given) to
-- the task's job, in one transaction:
--   done      finished;
--   retry     run again p_delay seconds on, p_error kept;
--   failed    dead for good with p_error;
--   handback  not run (the worker is stopping): the attempt is not counted.
-- Returns false, changing nothing, when p_worker does not hold the attempt.
CREATE OR REPLACE FUNCTION mediagate_task_finish(p_id bigint, p_token integer, p_worker text,
                                      p_outcome text, p_delay double precision,
                                      p_error text, p_event jsonb)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    t outbox%ROWTYPE;
BEGIN
    SELECT * INTO t FROM outbox
     WHERE id = p_id AND attempts = p_token AND locked_by = p_worker
       AND done_at IS NULL AND failed_at IS NULL
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF p_event IS NOT NULL AND t.payload ? 'job_id' THEN
        PERFORM mediagate_job_event(t.payload->>'job_id', p_event);
    END IF;
    IF p_outcome = 'done' THEN
        UPDATE outbox SET done_at = now(), locked_by = NULL, locked_until = NULL
         WHERE id = p_id;
    ELSIF p_outcome = 'retry' THEN
        UPDATE outbox SET last_error = p_error, locked_by = NULL, locked_until = NULL,
                          run_after = now() + make_interval(secs => greatest(p_delay, 0))
         WHERE id = p_id;
    ELSIF p_outcome = 'failed' THEN
        UPDATE outbox SET failed_at = now(), last_error = p_error, locked_by = NULL,
                          locked_until = NULL
         WHERE id = p_id;
    ELSIF p_outcome = 'handback' THEN
        UPDATE outbox SET attempts = greatest(attempts - 1, 0), locked_by = NULL,
                          locked_until = NULL
         WHERE id = p_id;
    ELSE
        RAISE EXCEPTION 'unknown task outcome %', p_outcome USING ERRCODE = '22023';
    END IF;
    RETURN true;
END
$$;
