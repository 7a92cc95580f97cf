-- What GET /stream/status?id= answers for stream s (handlers/stream.c).
CREATE OR REPLACE FUNCTION mediagate_stream_status_json(s streams) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('stream', jsonb_strip_nulls(jsonb_build_object(
        'id', s.id, 'name', s.name, 'status', s.status,
        'start_date', to_char(s.start_date AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
        'stop_date', to_char(s.stop_date AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
        'vod_job_id', s.vod_job_id)))
$$;
