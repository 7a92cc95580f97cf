-- Job p_job's history for GET /media/events: its creation and its current
-- state, its notifications (never their raw bodies), its tasks (payload
-- job_id or media_job) and its webhook deliveries, each
-- {at, kind, summary, ...its fields}, oldest first: the newest 500 of them.
-- Each part is one scan of an index by job (sql/047), newest first. The
-- webhook endpoints are the administrators' (p_admin): anyone else sees a
-- delivery's event, state, HTTP status and attempts only, never its
-- endpoint, its webhook-id or its error text (hosts, addresses).
DROP FUNCTION IF EXISTS mediagate_job_events(text);
CREATE OR REPLACE FUNCTION mediagate_job_events(p_job text, p_admin boolean) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    WITH e (at, rank, id, ev) AS (
        SELECT j.created_at, 0, 0::bigint,
               jsonb_build_object('kind', 'job', 'summary',
                                  'Job created (encoder ' || j.backend || ')',
                                  'backend', j.backend)
          FROM jobs j WHERE j.id = p_job
        UNION ALL
        SELECT j.updated_at, 4, 0::bigint,
               jsonb_build_object('kind', 'job', 'summary',
                                  'Job ' || j.status ||
                                  CASE WHEN j.status = 'PROGRESSING'
                                       THEN ' (' || j.progress_rate || '%)' ELSE '' END ||
                                  coalesce(': ' || left(j.error_message, 200), ''),
                                  'job_status', j.status, 'progress_rate', j.progress_rate,
                                  'error_code', j.error_code,
                                  'error_message', left(j.error_message, 500))
          FROM jobs j WHERE j.id = p_job
        UNION ALL
        (SELECT n.received_at, 1, n.id,
                jsonb_build_object('kind', 'notification', 'summary',
                                   n.backend || ' event ' || left(n.event_id, 100) || ': ' ||
                                   n.result || coalesce(' (' || left(n.error, 200) || ')', ''),
                                   'backend', n.backend, 'event_id', n.event_id,
                                   'source', n.source, 'result', n.result,
                                   'error', left(n.error, 500), 'replays', n.replays)
           FROM notifications n WHERE n.job_id = p_job ORDER BY n.id DESC LIMIT 500)
        UNION ALL
        (SELECT t.created_at, 2, t.id,
                jsonb_build_object('kind', 'task', 'summary',
                                   t.kind || ' ' || t.state || ', ' || t.attempts ||
                                   CASE WHEN t.attempts = 1 THEN ' attempt' ELSE ' attempts' END ||
                                   coalesce(': ' || left(t.last_error, 200), ''),
                                   'task_id', t.id::text, 'task_kind', t.kind, 'state', t.state,
                                   'attempts', t.attempts,
                                   'done_at', mediagate_rfc3339(t.done_at),
                                   'failed_at', mediagate_rfc3339(t.failed_at),
                                   'last_error', left(t.last_error, 500))
           FROM tasks t WHERE coalesce(t.payload->>'job_id', t.payload->>'media_job') = p_job
          ORDER BY t.id DESC LIMIT 500)
        UNION ALL
        (SELECT d.created_at, 3, d.id,
                CASE WHEN p_admin THEN
                jsonb_build_object('kind', 'webhook', 'summary',
                                   d.event_type || ' to endpoint ' || d.endpoint_id || ': ' ||
                                   d.state || coalesce(' (HTTP ' || d.last_status || ')', '') ||
                                   ', ' || d.attempts ||
                                   CASE WHEN d.attempts = 1 THEN ' attempt' ELSE ' attempts' END,
                                   'delivery_id', d.id::text, 'endpoint_id', d.endpoint_id,
                                   'event', d.event_type, 'webhook_id', d.msg_id,
                                   'state', d.state, 'last_status', d.last_status,
                                   'attempts', d.attempts,
                                   'last_error', left(btrim(d.last_error), 500))
                ELSE
                jsonb_build_object('kind', 'webhook', 'summary',
                                   d.event_type || ': ' || d.state ||
                                   coalesce(' (HTTP ' || d.last_status || ')', '') ||
                                   ', ' || d.attempts ||
                                   CASE WHEN d.attempts = 1 THEN ' attempt' ELSE ' attempts' END,
                                   'event', d.event_type, 'state', d.state,
                                   'last_status', d.last_status, 'attempts', d.attempts)
                END
           FROM webhook_deliveries d WHERE d.subject = 'job:' || p_job
          ORDER BY d.id DESC LIMIT 500)
    ), newest AS (
        SELECT * FROM e ORDER BY at DESC, rank DESC, id DESC LIMIT 500
    )
    SELECT coalesce(jsonb_agg(jsonb_build_object('at', mediagate_rfc3339(at)) || ev
                              ORDER BY at, rank, id), '[]'::jsonb)
      FROM newest
$$;
