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
    RETURN mediagate_apply_event(coalesce(ev->>'job_backend', p_backend), ev);
END
$$;
