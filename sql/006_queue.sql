-- The work queue, rebuilt: task kinds as rows, fenced leases, dead tasks,
-- and finishing a task and applying its result in one transaction.

-- One row per kind a worker serves. `mediagate migrate` and every worker
-- start write it from the kind table in app/worker/kinds.c; the rows here
-- are the kinds the schema itself queues.
CREATE TABLE task_kinds (
    name          text PRIMARY KEY,
    max_attempts  integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 1000),
    timeout_s     integer NOT NULL CHECK (timeout_s >= 0)    -- 0: a setting decides
);
INSERT INTO task_kinds (name, max_attempts, timeout_s)
VALUES ('local.encode', 3, 0), ('stream.settle', 10, 60);

-- Rows of kinds that nothing serves could never run (tencent.process_media
-- was queued before any worker called ProcessMedia). Their notifications
-- are stored raw; `mediagate notifications replay` queues them again once
-- the kind exists.
DELETE FROM outbox WHERE kind NOT IN (SELECT name FROM task_kinds);

-- A kind that no row serves is refused, not left queued. The cap on
-- attempts is the kind's, not the row's.
ALTER TABLE outbox
    DROP COLUMN max_attempts,
    ADD COLUMN started_at timestamptz,          -- when the current or last attempt began
    ADD CONSTRAINT outbox_kind_served FOREIGN KEY (kind) REFERENCES task_kinds (name);

-- The claim walks ready tasks in run_after order; done and dead ones (which
-- pile up) are not in the index.
CREATE INDEX outbox_claim ON outbox (run_after, id) WHERE done_at IS NULL AND failed_at IS NULL;

-- Tasks that are dead (failed for good) or done are never claimed; the
-- operator commands list dead ones.
CREATE INDEX outbox_dead ON outbox (failed_at) WHERE failed_at IS NOT NULL;

-- What an operator sees: one state per task.
CREATE VIEW tasks AS
SELECT o.*, CASE WHEN o.done_at IS NOT NULL THEN 'done'
                 WHEN o.failed_at IS NOT NULL THEN 'dead'
                 WHEN o.locked_until > now() THEN 'running'
                 ELSE 'queued' END AS state
  FROM outbox o;

-- Applies a normalized event to job p_job, whatever its backend, with the
-- monotonic rules of mediagate_apply_event. Returns the job id, or NULL
-- when there is no such job.
CREATE FUNCTION mediagate_job_event(p_job text, ev jsonb) RETURNS text
LANGUAGE sql AS $$
    SELECT mediagate_apply_event(j.backend, ev || jsonb_build_object('backend_job_id', j.backend_job_id))
      FROM jobs j WHERE j.id = p_job
$$;

-- A heartbeat of the holder of attempt p_token: renews the lease and, with
-- p_progress, moves the task's job (payload job_id) to PROGRESSING at that
-- rate. Returns false, changing nothing, when p_worker no longer holds that
-- attempt (the lease was lost, or the task canceled).
CREATE FUNCTION mediagate_task_beat(p_id bigint, p_token integer, p_worker text,
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

-- Ends attempt p_token of task p_id, and applies p_event (when given) to
-- the task's job, in one transaction:
--   done      finished;
--   retry     run again p_delay seconds on, p_error kept;
--   failed    dead for good with p_error;
--   handback  not run (the worker is stopping): the attempt is not counted.
-- Returns false, changing nothing, when p_worker does not hold the attempt.
CREATE FUNCTION mediagate_task_finish(p_id bigint, p_token integer, p_worker text,
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

-- Tasks whose every attempt ended with its worker gone (a crash, kill -9)
-- and that reached their kind's cap are dead: never claimed again, and
-- their job becomes ERROR 5 with the last error. Returns each one's kind
-- and job, so that the worker can clean up what its attempts left.
CREATE FUNCTION mediagate_task_reap() RETURNS TABLE (kind text, job_id text)
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

-- mediagate tasks retry ID: a dead task runs again from attempt 1; its job,
-- if the task's death made it ERROR, is SUBMITTED again. Returns 'retried',
-- 'not_dead' or 'no_such_task'.
CREATE FUNCTION mediagate_task_retry(p_id bigint) RETURNS text
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

-- mediagate tasks cancel ID: a queued or running task is dead at once (a
-- running holder finds its lease gone at its next heartbeat and stops its
-- child); its job becomes CANCELED. Returns 'canceled', 'finished' (done or
-- dead already) or 'no_such_task'.
CREATE FUNCTION mediagate_task_cancel(p_id bigint) RETURNS text
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

-- Applies a normalized event (as in 002), but queues ProcessMedia only when
-- a worker serves tencent.process_media: a kind no row serves is never
-- queued (the FOREIGN KEY above would refuse it, and the notification with it).
CREATE OR REPLACE FUNCTION mediagate_apply_event(p_backend text, ev jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    j          jobs%ROWTYPE;
    new_status text := ev->>'status';
    new_time   timestamptz := (ev->>'event_time')::timestamptz;
    new_id     text;
    terminal   boolean;
    created    boolean := false;
    n          int;
BEGIN
    -- A time that is not finite or lies in the future would freeze the job.
    IF new_time IS NOT NULL AND (NOT isfinite(new_time) OR new_time > now() + interval '1 day') THEN
        new_time := NULL;
    END IF;
    -- A job is always found by its own backend's id, never another's.
    SELECT * INTO j FROM jobs
     WHERE backend = p_backend AND backend_job_id = ev->>'backend_job_id' FOR UPDATE;
    IF NOT FOUND THEN
        IF NOT coalesce((ev->>'create')::boolean, false) THEN
            RETURN NULL;
        END IF;
        new_id := coalesce(ev->>'job_id', ev->>'backend_job_id');
        IF EXISTS (SELECT 1 FROM jobs WHERE id = new_id) THEN
            new_id := p_backend || ':' || (ev->>'backend_job_id');
        END IF;
        -- Two first events of one job may race: the loser finds the winner's row.
        INSERT INTO jobs (id, backend, backend_job_id, input_file, status)
        VALUES (new_id, p_backend, ev->>'backend_job_id', coalesce(ev->>'input_file', ''),
                'SUBMITTED')
        ON CONFLICT DO NOTHING;
        GET DIAGNOSTICS n = ROW_COUNT;
        created := n = 1;
        SELECT * INTO j FROM jobs
         WHERE backend = p_backend AND backend_job_id = ev->>'backend_job_id' FOR UPDATE;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'job id % is taken', new_id USING ERRCODE = '23505';
        END IF;
    END IF;

    terminal := mediagate_status_rank(j.status) = 2;
    IF terminal THEN
        RETURN j.id;        -- final: stored, changes nothing
    END IF;
    IF new_time IS NOT NULL AND j.event_time IS NOT NULL AND new_time < j.event_time
       AND mediagate_status_rank(coalesce(new_status, j.status)) < 2 THEN
        RETURN j.id;        -- older than what is applied already
    END IF;
    IF new_status IS NULL OR mediagate_status_rank(new_status) < mediagate_status_rank(j.status) THEN
        new_status := j.status;
    END IF;

    UPDATE jobs SET
        status        = new_status,
        progress_rate = CASE WHEN new_status = 'COMPLETE' THEN 100
                             ELSE greatest(progress_rate, least(100, greatest(0,
                                  coalesce((ev->>'progress_rate')::int, 0)))) END,
        input_file    = CASE WHEN coalesce(ev->>'input_file', '') <> '' THEN ev->>'input_file'
                             ELSE input_file END,
        duration_ms   = coalesce((ev->>'duration_ms')::bigint, duration_ms),
        width_px      = coalesce((ev->>'width_px')::int, width_px),
        height_px     = coalesce((ev->>'height_px')::int, height_px),
        output_path   = coalesce(ev->>'output_path', output_path),
        playlists     = coalesce(ev->'playlists', playlists),
        error_code    = coalesce((ev->>'error_code')::int, error_code),
        error_message = coalesce(ev->>'error_message', error_message),
        variations    = CASE WHEN ev ? 'variations' THEN ev->'variations'
                             WHEN ev ? 'outputs_by_format'
                             THEN mediagate_match_variations(variations, ev->'outputs_by_format')
                             ELSE variations END,
        outputs       = coalesce(ev->'outputs', outputs),
        resource      = coalesce(ev->'resource', resource),
        event_time    = greatest(event_time, new_time),
        updated_at    = now()
    WHERE id = j.id;

    -- Only a kind some worker serves is queued (ProcessMedia has none yet).
    IF created AND coalesce((ev->>'want_process')::boolean, false)
       AND EXISTS (SELECT 1 FROM task_kinds WHERE name = 'tencent.process_media') THEN
        INSERT INTO outbox (kind, payload)
        VALUES ('tencent.process_media', jsonb_build_object('job_id', j.id, 'file_id', ev->>'backend_job_id'));
    END IF;
    RETURN j.id;
END
$$;
