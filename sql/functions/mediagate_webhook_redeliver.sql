-- mediagate webhook redeliver ID: the delivery is sent again, under the same
-- webhook-id and body. Returns 'queued', 'queued_already' (a task of it is
-- waiting or running), 'endpoint_disabled' or 'no_such_delivery'.
CREATE OR REPLACE FUNCTION mediagate_webhook_redeliver(p_id bigint) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    d webhook_deliveries%ROWTYPE;
    e webhook_endpoints%ROWTYPE;
BEGIN
    SELECT * INTO d FROM webhook_deliveries WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'no_such_delivery';
    END IF;
    SELECT * INTO e FROM webhook_endpoints WHERE id = d.endpoint_id;
    IF NOT e.enabled THEN
        RETURN 'endpoint_disabled';
    END IF;
    IF EXISTS (SELECT 1 FROM outbox WHERE kind = 'webhook.deliver'
                  AND payload @> jsonb_build_object('delivery_id', p_id)
                  AND done_at IS NULL AND failed_at IS NULL) THEN
        RETURN 'queued_already';
    END IF;
    UPDATE webhook_deliveries SET state = 'pending', next_attempt_at = now() WHERE id = p_id;
    INSERT INTO outbox (kind, payload)
    VALUES ('webhook.deliver', jsonb_build_object('delivery_id', p_id));
    RETURN 'queued';
END
$$;
