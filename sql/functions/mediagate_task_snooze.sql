-- A full media disk is not the input's fault: attempt p_token of task p_id
-- ends without counting, to run again p_delay seconds on with p_error
-- kept. Returns true, or NULL (changing nothing) when p_worker does not
-- hold the attempt.
CREATE OR REPLACE FUNCTION mediagate_task_snooze(p_id bigint, p_token integer, p_worker text,
                                      p_delay double precision, p_error text)
RETURNS boolean LANGUAGE sql AS $$
    UPDATE outbox SET attempts = greatest(attempts - 1, 0), last_error = p_error,
                      locked_by = NULL, locked_until = NULL,
                      run_after = now() + make_interval(secs => greatest(p_delay, 0))
     WHERE id = p_id AND attempts = p_token AND locked_by = p_worker
       AND done_at IS NULL AND failed_at IS NULL
    RETURNING true
$$;
