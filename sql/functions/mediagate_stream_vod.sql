-- Makes the VOD job of a stream, at most once, in the same transaction as
-- the change that completes the stream: the stream is stopped, no publisher
-- is still writing, and something was recorded (p_rtmp: RTMP publishes are
-- recorded; p_put: PUT segments are kept). The worker finds the files. The job and its encode task are one
-- transaction. Returns the stream's VOD job id, or NULL.
CREATE OR REPLACE FUNCTION mediagate_stream_vod(p_id uuid, p_rtmp boolean, p_put boolean)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    s   streams%ROWTYPE;
    jid text;
BEGIN
    SELECT * INTO s FROM streams WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR s.vod_job_id IS NOT NULL OR s.status <> 'STOPPED' OR s.open_writes > 0
       OR NOT ((p_rtmp AND (s.published OR cardinality(s.recordings) > 0))
               OR (p_put AND s.uploaded)) THEN
        RETURN s.vod_job_id;
    END IF;
    jid := gen_random_uuid()::text;
    INSERT INTO jobs (id, backend, backend_job_id, input_file)
    VALUES (jid, 'local', 'stream:' || p_id, 'streams/' || p_id);
    -- A PUT authorized just before the stop may still be sending its body:
    -- segments are read 10 s on.
    -- With s3 storage, a worker on the ingest host serves stream.archive:
    -- it copies the files into the store first, then queues the encode.
    INSERT INTO outbox (kind, payload, run_after)
    VALUES (CASE WHEN EXISTS (SELECT 1 FROM task_kinds WHERE name = 'stream.archive')
                 THEN 'stream.archive' ELSE 'local.encode' END, jsonb_build_object(
        'job_id', jid, 'stream_id', p_id,
        'recordings', CASE WHEN p_rtmp THEN to_jsonb(s.recordings) ELSE '[]'::jsonb END,
        'segments', p_put AND s.uploaded),
        now() + CASE WHEN p_put AND s.uploaded THEN interval '10 seconds' ELSE interval '0' END);
    UPDATE streams SET vod_job_id = jid WHERE id = p_id;
    RETURN jid;
END
$$;
