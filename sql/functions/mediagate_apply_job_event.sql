-- Applies one normalized event (built by the notification parsers) to jobs.
-- The job is the one with the sender's (backend, backend_job_id), else the
-- sender's job named by mediagate_job_id (see below). Returns the job id,
-- or NULL when the event names a job that does not exist and may not
-- create one. Monotonic: a terminal status is final,
-- progress never goes down, an older event never overwrites a newer one.
-- Queues ProcessMedia only when a worker serves tencent.process_media: a
-- kind no row serves is never queued (outbox's foreign key to task_kinds
-- would refuse it, and the notification with it).
CREATE OR REPLACE FUNCTION mediagate_apply_job_event(p_backend text, ev jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    j          jobs%ROWTYPE;
    new_status text := ev->>'status';
    new_time   timestamptz := (ev->>'event_time')::timestamptz;
    new_id     text;
    terminal   boolean;
    created    boolean := false;
    tied       boolean := false;
    n          int;
BEGIN
    -- A time that is not finite or lies in the future would freeze the job.
    IF new_time IS NOT NULL AND (NOT isfinite(new_time) OR new_time > now() + interval '1 day') THEN
        new_time := NULL;
    END IF;
    -- A job mediagate created names itself (the provider echoes our id, in
    -- an event authenticated as the sender's): that job first, if it is the
    -- sender's and has no other backend id, even before its create answer
    -- is committed; the event's id becomes its own. A job registered with
    -- that backend id (POST /media/jobs' registration form) gives it up:
    -- the encoder says whose job it is; a job mediagate or an event created
    -- keeps it (this one is then found by its mediagate_job_id alone).
    IF coalesce(ev->>'mediagate_job_id', '') <> '' THEN
        SELECT * INTO j FROM jobs
         WHERE id = ev->>'mediagate_job_id' AND backend = p_backend
           AND (backend_job_id IS NULL OR coalesce(ev->>'backend_job_id', '') = ''
                OR backend_job_id = ev->>'backend_job_id')
           FOR UPDATE;
        IF FOUND AND j.backend_job_id IS NULL AND coalesce(ev->>'backend_job_id', '') <> '' THEN
            UPDATE jobs SET backend_job_id = NULL, updated_at = now()
             WHERE backend = p_backend AND backend_job_id = ev->>'backend_job_id' AND registered;
            IF NOT EXISTS (SELECT 1 FROM jobs WHERE backend = p_backend
                            AND backend_job_id = ev->>'backend_job_id') THEN
                UPDATE jobs SET backend_job_id = ev->>'backend_job_id' WHERE id = j.id;
                j.backend_job_id := ev->>'backend_job_id';
                tied := true;
                -- A slot handed to the platform (app/uploads/target.h): the
                -- platform has the file, so its expiry no longer cancels.
                UPDATE uploads SET stored_at = now()
                 WHERE job_id = j.id AND target IS NOT NULL AND stored_at IS NULL;
            END IF;
        END IF;
    END IF;
    -- Else a job is found by its own backend's id, never another's.
    IF j.id IS NULL THEN
        SELECT * INTO j FROM jobs
         WHERE backend = p_backend AND backend_job_id = ev->>'backend_job_id' FOR UPDATE;
    END IF;
    IF j.id IS NULL THEN
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
    -- A deleted job (its owner's DELETE, or retention) is a tombstone:
    -- final as well, whatever its status.
    IF terminal OR j.deleted_at IS NOT NULL THEN
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
        output_path   = CASE WHEN p_backend <> 'local' AND j.storage = 's3' THEN output_path
                             ELSE coalesce(ev->>'output_path', output_path) END,
        -- A cloud encoder that wrote to the storage bucket (the job's
        -- storage 's3', output_path and playlists since its create: the
        -- master.m3u8 when the profile has HLS) wrote mediagate's layout
        -- there: players read it like a local encode's (/media/status
        -- answers playback's output_path, app/playback.h), whatever URLs the
        -- encoder's event names.
        playlists     = CASE WHEN p_backend <> 'local' AND j.storage = 's3' THEN playlists
                             ELSE coalesce(ev->'playlists', playlists) END,
        error_code    = coalesce((ev->>'error_code')::int, error_code),
        -- Never a signed URL (an encoder's message may quote the input it
        -- was given): queries cut, a local upload's /in/<sig>/<exp>/ too.
        error_message = coalesce(regexp_replace(regexp_replace(ev->>'error_message',
                                     '(https?://[^\s?#"''<>\[\]]*)[?#][^\s"''<>\[\]]*', '\1', 'gi'),
                                     '/in/[A-Za-z0-9_-]{22}/[0-9]{1,12}/', '/in/', 'g'),
                                 error_message),
        variations    = CASE WHEN ev ? 'variations' THEN ev->'variations'
                             WHEN ev ? 'outputs_by_format'
                             THEN mediagate_match_variations(variations, ev->'outputs_by_format')
                             ELSE variations END,
        outputs       = coalesce(ev->'outputs', outputs),
        extras        = CASE WHEN new_status = 'COMPLETE' THEN coalesce(ev->'extras', extras)
                             ELSE extras END,
        -- Where the outputs live: the local encoder says (a provider's are
        -- where the provider put them).
        storage       = CASE WHEN p_backend = 'local' AND new_status = 'COMPLETE'
                             THEN coalesce(ev->>'storage', storage) ELSE storage END,
        resource      = coalesce(ev->'resource', resource),
        event_time    = greatest(event_time, new_time),
        last_event_at = now(),
        updated_at    = now()
    WHERE id = j.id;

    -- Only a kind some worker serves is queued (ProcessMedia has none yet).
    IF created AND coalesce((ev->>'want_process')::boolean, false)
       AND EXISTS (SELECT 1 FROM task_kinds WHERE name = 'tencent.process_media') THEN
        INSERT INTO outbox (kind, payload)
        VALUES ('tencent.process_media', jsonb_build_object('job_id', j.id, 'file_id', ev->>'backend_job_id'));
    END IF;
    -- A file mediagate's PullUpload brought (or a browser uploaded with the
    -- signature of a tencent upload slot), now tied to its job: the job's
    -- ProcessMedia, with the profile snapshot its create task (or its slot)
    -- carried (the profile as it is now if neither is there); the pull's task id gives
    -- way to the transcode's.
    IF tied AND coalesce((ev->>'want_process')::boolean, false) AND j.profile IS NOT NULL
       AND EXISTS (SELECT 1 FROM task_kinds WHERE name = 'tencent.process_media') THEN
        UPDATE jobs SET backend_task_id = NULL WHERE id = j.id;
        INSERT INTO outbox (kind, payload)
        SELECT 'tencent.process_media',
               jsonb_build_object('job_id', j.id, 'profile', snap,
                                  'input', jsonb_build_object('file_id', ev->>'backend_job_id'))
          FROM coalesce((SELECT o.payload->'profile' FROM outbox o
                          WHERE o.kind = 'tencent.process_media' AND o.payload->>'job_id' = j.id
                            AND o.payload ? 'profile' ORDER BY o.id LIMIT 1),
                        (SELECT u.profile FROM uploads u WHERE u.job_id = j.id),
                        (SELECT p.spec || jsonb_build_object('name', p.name) FROM profiles p
                          WHERE p.name = j.profile)) AS snap
         WHERE snap IS NOT NULL;
    END IF;
    RETURN j.id;
END
$$;
