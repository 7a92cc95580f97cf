-- mediagate apikey revoke ID: API key p_id is refused from now on, and so
-- is every credential made with it (by the key or by one of its console
-- sessions), which would otherwise outlive it: its streams not STOPPED
-- stop as POST /stream/stop stops them (p_rtmp, p_put: what counts as a
-- recording), so their RTMP stream key and HTTP ingest token are refused
-- (nginx-rtmp's publish and update checks, /stream/upload_auth); its
-- upload slots still waiting for their file (direct and tus) expire now,
-- their upload.expire task brought forward (the job CANCELED, what the
-- bucket or the platform holds of it removed). Its console sessions end
-- with it (STMT_SESSION_CALLER reads the key). One row per thing ended:
-- ('key', id) first, then ('stream', id) and ('upload', id, job id); none
-- when there is no key p_id. Revoking again ends what was made since.
CREATE OR REPLACE FUNCTION mediagate_apikey_revoke(p_id bigint, p_rtmp boolean, p_put boolean)
RETURNS TABLE (what text, id text, job_id text) LANGUAGE plpgsql AS $$
DECLARE
    o text := 'key:' || p_id;
    s uuid;
BEGIN
    UPDATE api_keys SET revoked_at = coalesce(revoked_at, now()) WHERE api_keys.id = p_id;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    RETURN QUERY SELECT 'key', p_id::text, NULL::text;
    FOR s IN SELECT st.id FROM streams st WHERE st.owner = o AND st.status <> 'STOPPED'
              ORDER BY st.start_date, st.id LOOP
        PERFORM mediagate_stream_stop(s, o, p_rtmp, p_put);
        RETURN QUERY SELECT 'stream', s::text, NULL::text;
    END LOOP;
    RETURN QUERY
    WITH u AS (UPDATE uploads SET expires_at = now()
                WHERE owner = o AND stored_at IS NULL AND expires_at > now()
                RETURNING uploads.id, uploads.job_id, uploads.created_at),
         t AS (UPDATE outbox SET run_after = now()
                WHERE kind = 'upload.expire' AND payload->>'upload_id' IN (SELECT u.id::text FROM u)
                  AND done_at IS NULL AND failed_at IS NULL AND run_after > now())
    SELECT 'upload', u.id::text, u.job_id FROM u ORDER BY u.created_at, u.id;
END
$$;
