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
