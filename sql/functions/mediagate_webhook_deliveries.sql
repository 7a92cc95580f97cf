-- Deliveries newest first, at most p_limit: of endpoint p_endpoint, of job
-- p_job (subject job:<id>), in state p_state, with an id below p_before (a
-- page's keyset cursor); NULL: any. `mediagate webhook deliveries` and
-- GET /media/webhooks/deliveries. Inlined into its caller, so each given
-- filter is an index's (endpoint, subject).
CREATE OR REPLACE FUNCTION mediagate_webhook_deliveries(p_endpoint bigint, p_job text,
                                                        p_state text, p_before bigint,
                                                        p_limit integer)
RETURNS SETOF webhook_deliveries
LANGUAGE sql STABLE AS $$
    SELECT * FROM webhook_deliveries
     WHERE (p_endpoint IS NULL OR endpoint_id = p_endpoint)
       AND (p_job IS NULL OR subject = 'job:' || p_job)
       AND (p_state IS NULL OR state = p_state)
       AND (p_before IS NULL OR id < p_before)
     ORDER BY id DESC LIMIT p_limit
$$;
