-- Every webhook endpoint with its deliveries by state, oldest endpoint
-- first; never the secret. `mediagate webhook list` and GET /media/webhooks.
CREATE OR REPLACE FUNCTION mediagate_webhook_endpoints()
RETURNS TABLE (id bigint, url text, events text[], enabled boolean, disabled_reason text,
               disabled_at timestamptz, created_at timestamptz,
               pending bigint, delivered bigint, failed bigint)
LANGUAGE sql STABLE AS $$
    SELECT e.id, e.url, e.events, e.enabled, e.disabled_reason, e.disabled_at, e.created_at,
           count(d.id) FILTER (WHERE d.state = 'pending'),
           count(d.id) FILTER (WHERE d.state = 'delivered'),
           count(d.id) FILTER (WHERE d.state = 'failed')
      FROM webhook_endpoints e LEFT JOIN webhook_deliveries d ON d.endpoint_id = e.id
     GROUP BY e.id ORDER BY e.id
$$;
