-- Derives the job rows of videos (backend 'jwplatform', backend_job_id =
-- the video key, id 'jwplatform:<key>') from the mirror: every video when
-- p_all, else those written since their last derivation; only p_key when
-- given. Platform status ready -> COMPLETE, failed -> ERROR 30,
-- processing/updating -> PROGRESSING, else SUBMITTED; a deleted video is
-- ERROR 31. A video made by an upload whose create answer was lost (its
-- custom.mediagate_upload names a jwplatform_creates row that is not
-- 'created') is never a job. Returns how many jobs were written.
CREATE OR REPLACE FUNCTION mediagate_mirror_derive(p_all boolean, p_key text DEFAULT NULL) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
    n bigint;
BEGIN
    WITH todo AS (
        UPDATE cached_resource c SET derived_at = now()
         WHERE c.type = 'video' AND (p_key IS NULL OR c.key = p_key)
           AND (p_all OR c.derived_at IS NULL OR c.derived_at < c.updated_at)
           AND NOT EXISTS (SELECT 1 FROM jwplatform_creates p
                            WHERE p.state <> 'created'
                              AND p.id::text = c.data->'custom'->>'mediagate_upload')
        RETURNING c.key, c.data, c.deleted_at IS NOT NULL AS gone
    ), j AS (
        SELECT key, CASE WHEN gone THEN 'ERROR'
                         WHEN data->>'status' = 'ready' THEN 'COMPLETE'
                         WHEN data->>'status' = 'failed' THEN 'ERROR'
                         WHEN data->>'status' IN ('processing', 'updating') THEN 'PROGRESSING'
                         ELSE 'SUBMITTED' END AS status,
               CASE WHEN (data->>'duration') ~ '^[0-9]{1,9}(\.[0-9]+)?$'
                    THEN round((data->>'duration')::numeric * 1000)::bigint END AS duration_ms,
               CASE WHEN gone THEN 31 WHEN data->>'status' = 'failed' THEN 30 END AS error_code,
               CASE WHEN gone THEN 'the video was deleted on JW Platform'
                    WHEN data->>'status' = 'failed'
                    THEN 'JW Platform: ' || coalesce(left(data->>'error', 400), 'the video failed') END
                   AS error_message
          FROM todo
    )
    INSERT INTO jobs (id, backend, backend_job_id, input_file, status, progress_rate, duration_ms,
                      error_code, error_message)
    SELECT 'jwplatform:' || key, 'jwplatform', key, 'jwplatform/' || key, status,
           CASE WHEN status = 'COMPLETE' THEN 100 ELSE 0 END, duration_ms, error_code, error_message
      FROM j
    ON CONFLICT (backend, backend_job_id) WHERE backend_job_id IS NOT NULL DO UPDATE
       SET status = EXCLUDED.status, progress_rate = EXCLUDED.progress_rate,
           duration_ms = EXCLUDED.duration_ms, error_code = EXCLUDED.error_code,
           error_message = EXCLUDED.error_message, updated_at = now()
     WHERE (jobs.status, jobs.duration_ms, jobs.error_code, jobs.error_message)
           IS DISTINCT FROM (EXCLUDED.status, EXCLUDED.duration_ms, EXCLUDED.error_code,
                             EXCLUDED.error_message);
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
