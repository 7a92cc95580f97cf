-- Applies stored notification p_id's event: queues its task, or applies it
-- to its job. Returns the job id, '' for an event of no job, or NULL when
-- its job does not exist and may not be created.
CREATE OR REPLACE FUNCTION mediagate_notify_apply(p_id bigint, p_backend text, ev jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    mine    jobs%ROWTYPE;
    further jobs%ROWTYPE;
    r       text;
BEGIN
    -- An id the sender echoes that may be mediagate's job or the sender's
    -- customer's own (a Mux passthrough UUID): mediagate's only when it
    -- made a job of that id for this backend (always before the asset),
    -- and then the event is that job's (mediagate_job replaces create and
    -- input_file, and an event of no job becomes that job's: a direct
    -- upload that ended without a file); else it is applied as anyone's.
    IF jsonb_typeof(ev->'mediagate_job') = 'object' THEN
        SELECT * INTO mine FROM jobs
         WHERE id = ev->'mediagate_job'->>'mediagate_job_id'
           AND backend = coalesce(ev->>'job_backend', p_backend)
           AND profile IS NOT NULL;
        IF FOUND THEN
            ev := (ev - 'mediagate_job' - 'create' - 'input_file' - 'no_job')
                  || (ev->'mediagate_job');
        ELSE
            ev := ev - 'mediagate_job';
        END IF;
    END IF;
    -- An event of no job (unless it named mediagate's, above).
    IF coalesce((ev->>'no_job')::boolean, false) THEN
        -- Only a kind some worker serves is queued (outbox_kind_served).
        IF coalesce(ev->>'queue_kind', '') <> ''
           AND EXISTS (SELECT 1 FROM task_kinds WHERE name = ev->>'queue_kind') THEN
            INSERT INTO outbox (kind, payload)
            VALUES (ev->>'queue_kind', coalesce(ev->'queue_payload', '{}'::jsonb)
                                       || jsonb_build_object('notification_id', p_id));
        END IF;
        RETURN '';
    END IF;
    -- A further file for the job of an upload slot handed to the platform
    -- that has its file already (a Tencent signature used again, with
    -- MEDIAGATE_TENCENT_UPLOAD_ONE_TIME=off): never a job of its own (it
    -- would have neither the slot's owner, ACL nor profile) and never
    -- processed; the notification keeps why (mediagate notifications list).
    SELECT * INTO further FROM jobs j
     WHERE j.id = ev->>'mediagate_job_id' AND j.backend = coalesce(ev->>'job_backend', p_backend)
       AND j.backend_job_id <> ev->>'backend_job_id'
       AND EXISTS (SELECT 1 FROM uploads u WHERE u.job_id = j.id AND u.target IS NOT NULL);
    IF FOUND THEN
        UPDATE notifications
           SET job_id = further.id,
               error = format('a further file (%s) for upload job %s, which has its file (%s) '
                              'already: no job made, nothing processed',
                              ev->>'backend_job_id', further.id, further.backend_job_id)
         WHERE id = p_id;
        RAISE WARNING 'notification %: a further file (%) for upload job %: no job made',
            p_id, ev->>'backend_job_id', further.id;
        RETURN '';
    END IF;
    r := mediagate_apply_event(coalesce(ev->>'job_backend', p_backend), ev);
    -- The sender made it for a job canceled here (a direct upload's file
    -- that came all the same): it is deleted there, by an encoder.cancel
    -- task (app/encoders/mux.c), unless one is queued already.
    IF mine.status = 'CANCELED' AND r = mine.id AND coalesce(ev->>'backend_job_id', '') <> ''
       AND EXISTS (SELECT 1 FROM task_kinds WHERE name = 'encoder.cancel')
       AND NOT EXISTS (SELECT 1 FROM outbox WHERE kind = 'encoder.cancel'
                        AND payload->>'job_id' = mine.id AND done_at IS NULL
                        AND failed_at IS NULL) THEN
        INSERT INTO outbox (kind, payload)
        VALUES ('encoder.cancel', jsonb_build_object('job_id', mine.id));
    END IF;
    RETURN r;
END
$$;
