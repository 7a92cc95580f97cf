-- Tasks whose every attempt ended with its worker gone (a crash, kill -9)
-- and that reached their kind's cap are dead: never claimed again, and
-- their job becomes ERROR 5 with the last error. Returns each one's kind
-- and job, so that the worker can clean up what its attempts left.
CREATE OR REPLACE FUNCTION mediagate_task_reap() RETURNS TABLE (kind text, job_id text)
LANGUAGE plpgsql AS $$
DECLARE
    t   record;
    msg text;
BEGIN
    FOR t IN SELECT o.id, o.kind, o.attempts, o.payload, o.last_error
               FROM outbox o JOIN task_kinds k ON k.name = o.kind
              WHERE o.done_at IS NULL AND o.failed_at IS NULL
                AND o.attempts >= k.max_attempts
                AND (o.locked_until IS NULL OR o.locked_until < now())
                FOR UPDATE OF o SKIP LOCKED LOOP
        msg := 'gave up after ' || t.attempts || ' attempt' ||
               CASE WHEN t.attempts = 1 THEN '' ELSE 's' END || ': ' ||
               coalesce(t.last_error, 'the worker stopped during the attempt');
        UPDATE outbox SET failed_at = now(), locked_by = NULL, locked_until = NULL,
                          last_error = msg
         WHERE id = t.id;
        IF t.payload ? 'job_id' THEN
            PERFORM mediagate_job_event(t.payload->>'job_id', jsonb_build_object(
                'status', 'ERROR', 'error_code', 5, 'error_message', msg));
        END IF;
        kind := t.kind;
        job_id := t.payload->>'job_id';
        RETURN NEXT;
    END LOOP;
END
$$;
