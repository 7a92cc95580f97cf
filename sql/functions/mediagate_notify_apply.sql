-- Applies stored notification p_id's event: queues its task, or applies it
-- to its job. Returns the job id, '' for an event of no job, or NULL when
-- its job does not exist and may not be created.
CREATE OR REPLACE FUNCTION mediagate_notify_apply(p_id bigint, p_backend text, ev jsonb) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
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
    -- An id the sender echoes that may be mediagate's job or the sender's
    -- customer's own (a Mux passthrough UUID): mediagate's only when it
    -- made a job of that id for this backend (always before the asset),
    -- and then the event is that job's (mediagate_job replaces create and
    -- input_file); else it is applied as anyone's.
    IF jsonb_typeof(ev->'mediagate_job') = 'object' THEN
        IF EXISTS (SELECT 1 FROM jobs
                    WHERE id = ev->'mediagate_job'->>'mediagate_job_id'
                      AND backend = coalesce(ev->>'job_backend', p_backend)
                      AND profile IS NOT NULL) THEN
            ev := (ev - 'mediagate_job' - 'create' - 'input_file') || (ev->'mediagate_job');
        ELSE
            ev := ev - 'mediagate_job';
        END IF;
    END IF;
    RETURN mediagate_apply_event(coalesce(ev->>'job_backend', p_backend), ev);
END
$$;
