-- Amazon SNS and Mux notifications (handlers/notify/sns.c, mux.c). Their
-- normalized events may carry, besides a job's fields:
--   job_backend   the job is that backend's (an SNS-delivered MediaConvert
--                 event is applied to the mediaconvert job, as
--                 /notifications/mediaconvert applies it);
--   dedupe_key    a second key the event is known by (SNS: the inner
--                 MediaConvert event, which EventBridge may publish twice
--                 under two MessageIds);
--   no_job        stored, applied to no job (SNS confirmations, Mux events
--                 about no job's state), with queue_kind/queue_payload: a
--                 task queued in the same transaction (sns.confirm).

-- The second keys: one row per key, pointing at the notification that
-- holds it; a later notification with the same key is a duplicate.
CREATE TABLE notification_keys (
    backend          text NOT NULL,
    key              text NOT NULL,
    notification_id  bigint NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    PRIMARY KEY (backend, key)
);

-- Applies stored notification p_id's event: queues its task, or applies it
-- to its job. Returns the job id, '' for an event of no job, or NULL when
-- its job does not exist and may not be created.
CREATE FUNCTION mediagate_notify_apply(p_id bigint, p_backend text, ev jsonb) RETURNS text
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

-- As in 002, plus the second key, events of no job ('stored') and the
-- job's own backend.
CREATE OR REPLACE FUNCTION mediagate_notify(p_backend text, p_event_id text, p_body bytea, ev jsonb)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    nid   bigint;
    first_id bigint;
    jid   text;
BEGIN
    INSERT INTO notifications (backend, event_id, body, result, applied_at)
    VALUES (p_backend, p_event_id, p_body, 'applied', now())
    ON CONFLICT (backend, event_id) DO NOTHING
    RETURNING id INTO nid;
    IF nid IS NULL THEN
        RETURN 'duplicate';
    END IF;
    IF coalesce(ev->>'dedupe_key', '') <> '' THEN
        -- Two copies racing: the second waits here for the first to commit.
        INSERT INTO notification_keys (backend, key, notification_id)
        VALUES (p_backend, ev->>'dedupe_key', nid)
        ON CONFLICT (backend, key) DO NOTHING;
        IF NOT FOUND THEN
            SELECT notification_id INTO first_id FROM notification_keys
             WHERE backend = p_backend AND key = ev->>'dedupe_key';
            -- Stored (it passed authentication), applied once already.
            UPDATE notifications
               SET error = 'duplicate of notification ' || first_id,
                   job_id = (SELECT job_id FROM notifications WHERE id = first_id)
             WHERE id = nid;
            RETURN 'duplicate';
        END IF;
    END IF;
    jid := mediagate_notify_apply(nid, p_backend, ev);
    IF jid IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'P0404', MESSAGE = 'unknown job';
    END IF;
    IF jid = '' THEN
        RETURN 'stored';
    END IF;
    UPDATE notifications SET job_id = jid WHERE id = nid;
    RETURN 'applied';
END
$$;

-- As in 002, for every kind of event above.
CREATE OR REPLACE FUNCTION mediagate_replay(p_id bigint, ev jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    b   text;
    jid text;
BEGIN
    SELECT backend INTO b FROM notifications WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'no_such_notification';
    END IF;
    jid := mediagate_notify_apply(p_id, b, ev);
    IF jid IS NULL THEN
        UPDATE notifications SET result = 'failed', error = 'unknown job', replays = replays + 1
         WHERE id = p_id;
        RETURN 'unknown_job';
    END IF;
    UPDATE notifications SET result = 'applied', error = NULL, job_id = nullif(jid, ''),
           applied_at = now(), replays = replays + 1
     WHERE id = p_id;
    RETURN 'applied';
END
$$;
