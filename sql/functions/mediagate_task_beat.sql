-- A heartbeat of the holder of attempt p_token: renews the lease and, with
-- p_progress, moves the task's job (payload job_id) to PROGRESSING at that
-- rate. Returns false, changing nothing, when p_worker no longer holds that
-- attempt (the lease was lost, or the task canceled).
CREATE OR REPLACE FUNCTION mediagate_task_beat(p_id bigint, p_token integer, p_worker text,
                                    p_lease double precision, p_progress integer)
RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
    jid text;
BEGIN
    UPDATE outbox SET locked_until = now() + make_interval(secs => p_lease)
     WHERE id = p_id AND attempts = p_token AND locked_by = p_worker
       AND done_at IS NULL AND failed_at IS NULL
    RETURNING payload->>'job_id' INTO jid;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    IF p_progress IS NOT NULL AND jid IS NOT NULL THEN
        PERFORM mediagate_job_event(jid, jsonb_build_object('status', 'PROGRESSING',
                                                            'progress_rate', p_progress));
    END IF;
    RETURN true;
END
$$;
