-- Queues event p_type about p_subject with p_data: one delivery per enabled
-- endpoint subscribed to it, each with its webhook.deliver task. Only when
-- a worker serves that kind (the outbox refuses a kind nobody serves).
-- Returns how many deliveries were made.
CREATE OR REPLACE FUNCTION mediagate_webhook_queue(p_type text, p_subject text, p_data jsonb)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    body text;
    n    integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM task_kinds WHERE name = 'webhook.deliver') THEN
        RETURN 0;
    END IF;
    body := '{"type":' || to_jsonb(p_type)::text
         || ',"timestamp":' || to_jsonb(to_char(now() AT TIME ZONE 'UTC',
                                                'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'))::text
         || ',"data":' || p_data::text || '}';
    WITH d AS (
        INSERT INTO webhook_deliveries (endpoint_id, msg_id, event_type, subject, body)
        SELECT e.id, 'msg_' || gen_random_uuid(), p_type, p_subject, body
          FROM webhook_endpoints e
         WHERE e.enabled AND (e.events IS NULL OR p_type = ANY (e.events))
        RETURNING id)
    INSERT INTO outbox (kind, payload)
    SELECT 'webhook.deliver', jsonb_build_object('delivery_id', d.id) FROM d;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
