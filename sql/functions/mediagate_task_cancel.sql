-- mediagate tasks cancel ID: a queued or running task is dead at once (a
-- running holder finds its lease gone at its next heartbeat and stops its
-- child); its job becomes CANCELED. Returns 'canceled', 'finished' (done or
-- dead already) or 'no_such_task'.
CREATE OR REPLACE FUNCTION mediagate_task_cancel(p_id bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    t outbox%ROWTYPE;
BEGIN
    SELECT * INTO t FROM outbox WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'no_such_task';
    END IF;
    IF t.done_at IS NOT NULL OR t.failed_at IS NOT NULL THEN
        RETURN 'finished';
    END IF;
    UPDATE outbox SET failed_at = now(), last_error = 'canceled by an operator',
                      locked_by = NULL, locked_until = NULL
     WHERE id = p_id;
    IF t.payload ? 'job_id' THEN
        PERFORM mediagate_job_event(t.payload->>'job_id', jsonb_build_object('status', 'CANCELED'));
    END IF;
    RETURN 'canceled';
END
$$;
