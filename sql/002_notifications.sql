-- Inbound notifications from encoding backends, stored raw before they are
-- applied, and the job columns they fill.

ALTER TABLE jobs
    ADD COLUMN event_time  timestamptz,          -- time of the newest event applied
    ADD COLUMN variations  jsonb,                -- Zencoder: one entry per output variation
    ADD COLUMN outputs     jsonb;                -- Tencent: transcoding outputs

CREATE TABLE notifications (
    id           bigserial PRIMARY KEY,
    backend      text NOT NULL,
    event_id     text NOT NULL,
    received_at  timestamptz NOT NULL DEFAULT now(),
    body         bytea NOT NULL,                 -- the exact bytes received
    result       text NOT NULL CHECK (result IN ('applied', 'failed')),
    error        text,
    job_id       text,
    applied_at   timestamptz,
    replays      integer NOT NULL DEFAULT 0,
    UNIQUE (backend, event_id)
);
CREATE INDEX notifications_failed ON notifications (received_at) WHERE result = 'failed';

-- Work that an applied event asks for (e.g. Tencent ProcessMedia), written in
-- the same transaction; the worker issue claims it.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    kind        text NOT NULL,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    run_after   timestamptz NOT NULL DEFAULT now(),
    attempts    integer NOT NULL DEFAULT 0,
    done_at     timestamptz
);
CREATE INDEX outbox_pending ON outbox (run_after) WHERE done_at IS NULL;

CREATE FUNCTION mediagate_status_rank(s text) RETURNS int
LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE s WHEN 'SUBMITTED' THEN 0 WHEN 'PROGRESSING' THEN 1 ELSE 2 END
$$;

-- Applies one normalized event (built by handlers/notify_*.c) to jobs.
-- Returns the job id, or NULL when the event names a job that does not
-- exist and may not create one. Monotonic: a terminal status is final,
-- progress never goes down, an older event never overwrites a newer one.
CREATE FUNCTION mediagate_apply_event(p_backend text, ev jsonb) RETURNS text
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

    IF created AND coalesce((ev->>'want_process')::boolean, false) THEN
        INSERT INTO outbox (kind, payload)
        VALUES ('tencent.process_media', jsonb_build_object('job_id', j.id, 'file_id', ev->>'backend_job_id'));
    END IF;
    RETURN j.id;
END
$$;

-- Zencoder: give each variation of a job the size of its matching output,
-- matched by format and width, else by format alone.
CREATE FUNCTION mediagate_match_variations(vars jsonb, outs jsonb) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
    o jsonb;
    i int;
    hit int;
BEGIN
    IF vars IS NULL OR jsonb_typeof(vars) <> 'array' THEN
        RETURN vars;
    END IF;
    FOR o IN SELECT * FROM jsonb_array_elements(outs) LOOP
        hit := NULL;
        FOR i IN 0 .. jsonb_array_length(vars) - 1 LOOP
            IF vars->i->>'format' = o->>'format' AND vars->i->>'width' = o->>'width' THEN
                hit := i; EXIT;
            END IF;
        END LOOP;
        IF hit IS NULL THEN
            FOR i IN 0 .. jsonb_array_length(vars) - 1 LOOP
                IF vars->i->>'format' = o->>'format' THEN hit := i; EXIT; END IF;
            END LOOP;
        END IF;
        IF hit IS NOT NULL THEN
            vars := jsonb_set(vars, ARRAY[hit::text],
                              (vars->hit) || jsonb_strip_nulls(jsonb_build_object(
                                  'file_size_in_bytes', o->'file_size_in_bytes',
                                  'width', o->'width', 'height', o->'height',
                                  'url', o->'url')));
        END IF;
    END LOOP;
    RETURN vars;
END
$$;

-- Stores an authenticated notification and applies it, atomically. Returns
-- 'applied', 'duplicate', or 'unknown_job' (then nothing is written).
CREATE FUNCTION mediagate_notify(p_backend text, p_event_id text, p_body bytea, ev jsonb)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    nid bigint;
    jid text;
BEGIN
    INSERT INTO notifications (backend, event_id, body, result, applied_at)
    VALUES (p_backend, p_event_id, p_body, 'applied', now())
    ON CONFLICT (backend, event_id) DO NOTHING
    RETURNING id INTO nid;
    IF nid IS NULL THEN
        RETURN 'duplicate';
    END IF;
    jid := mediagate_apply_event(p_backend, ev);
    IF jid IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'P0404', MESSAGE = 'unknown job';
    END IF;
    UPDATE notifications SET job_id = jid WHERE id = nid;
    RETURN 'applied';
END
$$;

-- Applies a stored notification again (operator replay after a fix).
CREATE FUNCTION mediagate_replay(p_id bigint, ev jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    b   text;
    jid text;
BEGIN
    SELECT backend INTO b FROM notifications WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'no_such_notification';
    END IF;
    jid := mediagate_apply_event(b, ev);
    IF jid IS NULL THEN
        UPDATE notifications SET result = 'failed', error = 'unknown job', replays = replays + 1
         WHERE id = p_id;
        RETURN 'unknown_job';
    END IF;
    UPDATE notifications SET result = 'applied', error = NULL, job_id = jid,
           applied_at = now(), replays = replays + 1
     WHERE id = p_id;
    RETURN 'applied';
END
$$;
