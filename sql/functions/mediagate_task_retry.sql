-- mediagate tasks retry ID: a dead task runs again from attempt 1; its job,
-- if the task's death made it ERROR, is SUBMITTED again. Returns 'retried',
-- 'not_dead' or 'no_such_task'.
CREATE OR REPLACE FUNCTION mediagate_task_retry(p_id bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    t outbox%ROWTYPE;
BEGIN
    SELECT * INTO t FROM outbox WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'no_such_task';
    END IF;
    IF t.failed_at IS NULL THEN
        RETURN 'not_dead';
    END IF;
    UPDATE outbox SET failed_at = NULL, attempts = 0, run_after = now(), locked_by = NULL,
                      locked_until = NULL
     WHERE id = p_id;
    IF t.payload ? 'job_id' THEN
        UPDATE jobs SET status = 'SUBMITTED', progress_rate = 0, error_code = NULL,
                        error_message = NULL, updated_at = now()
         WHERE id = t.payload->>'job_id' AND status IN ('ERROR', 'CANCELED');
    END IF;
    RETURN 'retried';
END
$$;
