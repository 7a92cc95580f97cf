-- POST /media/webhooks/deliveries/<id>/redeliver: mediagate_webhook_redeliver's
-- outcome and the delivery as it is after it (mediagate_webhook_delivery_json;
-- NULL when there is no such delivery).
CREATE OR REPLACE FUNCTION mediagate_webhook_redeliver_json(p_id bigint,
                                                            OUT result text, OUT delivery jsonb)
LANGUAGE plpgsql AS $$
BEGIN
    result := mediagate_webhook_redeliver(p_id);
    SELECT mediagate_webhook_delivery_json(d) INTO delivery FROM webhook_deliveries d
     WHERE d.id = p_id;
END
$$;
