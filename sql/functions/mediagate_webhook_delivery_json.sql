-- A delivery as the HTTP routes answer it (GET /media/webhooks/deliveries,
-- the redeliver's 202): never its body or its endpoint's secret; the id a
-- string of digits (a bigint past JSON's exact integers); the subject
-- split into job_id and stream_id; the last error trimmed to 500
-- characters; times in RFC 3339 UTC.
CREATE OR REPLACE FUNCTION mediagate_webhook_delivery_json(d webhook_deliveries)
RETURNS jsonb LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object(
        'id', d.id::text, 'endpoint_id', d.endpoint_id, 'event', d.event_type,
        'webhook_id', d.msg_id, 'state', d.state, 'attempts', d.attempts,
        'last_status', d.last_status,
        'last_error', left(btrim(d.last_error), 500),
        'created_at', mediagate_rfc3339(d.created_at),
        'updated_at', mediagate_rfc3339(greatest(d.created_at, d.last_attempt_at, d.delivered_at)),
        'next_attempt_at', CASE WHEN d.state = 'pending' THEN mediagate_rfc3339(d.next_attempt_at) END,
        'job_id', CASE WHEN d.subject LIKE 'job:%' THEN substr(d.subject, 5) END,
        'stream_id', CASE WHEN d.subject LIKE 'stream:%' THEN substr(d.subject, 8) END)
$$;
