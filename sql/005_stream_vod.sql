-- A stopped stream's recording becomes a local VOD job: nginx-rtmp's
-- recordings (on_record_done) or the HLS segments a broadcaster PUT.

ALTER TABLE streams
    -- A publisher is connected, or its recording is not closed yet.
    ADD COLUMN publishing  boolean NOT NULL DEFAULT false,
    -- Recordings nginx-rtmp finished (on_record_done paths), in order.
    ADD COLUMN recordings  text[] NOT NULL DEFAULT '{}',
    -- The broadcaster was allowed to PUT at least one file.
    ADD COLUMN uploaded    boolean NOT NULL DEFAULT false,
    ADD COLUMN vod_job_id  text REFERENCES jobs (id) ON DELETE SET NULL;

-- Makes the VOD job of a stream, at most once, in the same transaction as
-- the change that completes the stream: the stream is stopped, no publisher
-- is still writing, and something was recorded (p_rtmp: RTMP recordings
-- count; p_put: PUT segments count). The job and its encode task are one
-- transaction. Returns the stream's VOD job id, or NULL.
CREATE FUNCTION mediagate_stream_vod(p_id uuid, p_rtmp boolean, p_put boolean)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    s   streams%ROWTYPE;
    jid text;
BEGIN
    SELECT * INTO s FROM streams WHERE id = p_id FOR UPDATE;
    IF NOT FOUND OR s.vod_job_id IS NOT NULL OR s.status <> 'STOPPED' OR s.publishing
       OR NOT ((p_rtmp AND cardinality(s.recordings) > 0) OR (p_put AND s.uploaded)) THEN
        RETURN s.vod_job_id;
    END IF;
    jid := gen_random_uuid()::text;
    INSERT INTO jobs (id, backend, backend_job_id, input_file)
    VALUES (jid, 'local', 'stream:' || p_id, 'streams/' || p_id);
    INSERT INTO outbox (kind, payload)
    VALUES ('local.encode', jsonb_build_object(
        'job_id', jid, 'stream_id', p_id,
        'recordings', CASE WHEN p_rtmp THEN to_jsonb(s.recordings) ELSE '[]'::jsonb END,
        'segments', p_put AND s.uploaded));
    UPDATE streams SET vod_job_id = jid WHERE id = p_id;
    RETURN jid;
END
$$;

-- POST /stream/stop.
CREATE FUNCTION mediagate_stream_stop(p_id uuid, p_owner text, p_rtmp boolean, p_put boolean)
RETURNS SETOF streams LANGUAGE plpgsql AS $$
BEGIN
    UPDATE streams SET status = 'STOPPED', stop_date = coalesce(stop_date, now()),
                       updated_at = now()
     WHERE id = p_id AND owner = p_owner;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM mediagate_stream_vod(p_id, p_rtmp, p_put);
    RETURN QUERY SELECT * FROM streams WHERE id = p_id;
END
$$;

-- nginx-rtmp's publish_done. When nginx-rtmp records (p_recorded), the
-- recording closes later, with record_done; until then the stream is still
-- being written.
CREATE FUNCTION mediagate_stream_unpublished(p_id uuid, p_recorded boolean, p_rtmp boolean,
                                             p_put boolean)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    UPDATE streams SET status = CASE WHEN status = 'LIVE' THEN 'IDLE' ELSE status END,
                       publishing = publishing AND p_recorded, updated_at = now()
     WHERE id = p_id;
    RETURN mediagate_stream_vod(p_id, p_rtmp, p_put);
END
$$;

-- nginx-rtmp's record_done: one more finished recording.
CREATE FUNCTION mediagate_stream_recorded(p_id uuid, p_path text, p_rtmp boolean, p_put boolean)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    UPDATE streams SET recordings = CASE WHEN p_path = ANY (recordings) THEN recordings
                                         ELSE recordings || p_path END,
                       publishing = false, updated_at = now()
     WHERE id = p_id;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    RETURN mediagate_stream_vod(p_id, p_rtmp, p_put);
END
$$;
