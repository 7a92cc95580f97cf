-- A stopped stream's recording becomes a local VOD job: nginx-rtmp's
-- recordings (on_record_done) or the HLS segments a broadcaster PUT.

ALTER TABLE streams
    -- Someone published over RTMP (and so, when nginx-rtmp records, left a
    -- recording).
    ADD COLUMN published   boolean NOT NULL DEFAULT false,
    -- Publishes still being written: +1 on publish, -1 when its recording
    -- closes (record_done of a new file, or publish_done when nginx-rtmp
    -- does not record). A count, not a flag: callbacks of two publishes may
    -- arrive interleaved.
    ADD COLUMN open_writes integer NOT NULL DEFAULT 0 CHECK (open_writes >= 0),
    -- Recordings nginx-rtmp finished (on_record_done paths), in order.
    ADD COLUMN recordings  text[] NOT NULL DEFAULT '{}',
    -- The broadcaster was allowed to PUT at least one file.
    ADD COLUMN uploaded    boolean NOT NULL DEFAULT false,
    ADD COLUMN vod_job_id  text REFERENCES jobs (id) ON DELETE SET NULL;

-- Makes the VOD job of a stream, at most once, in the same transaction as
-- the change that completes the stream: the stream is stopped, no publisher
-- is still writing, and something was recorded (p_rtmp: RTMP publishes are
-- recorded; p_put: PUT segments are kept). The worker finds the files. The job and its encode task are one
-- transaction. Returns the stream's VOD job id, or NULL.
CREATE FUNCTION mediagate_stream_vod(p_id uuid, p_rtmp boolean, p_put boolean)
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
    INSERT INTO outbox (kind, payload, run_after)
    VALUES ('local.encode', jsonb_build_object(
        'job_id', jid, 'stream_id', p_id,
        'recordings', CASE WHEN p_rtmp THEN to_jsonb(s.recordings) ELSE '[]'::jsonb END,
        'segments', p_put AND s.uploaded),
        now() + CASE WHEN p_put AND s.uploaded THEN interval '10 seconds' ELSE interval '0' END);
    UPDATE streams SET vod_job_id = jid WHERE id = p_id;
    RETURN jid;
END
$$;

-- POST /stream/stop. A stream still being written at its first stop also
-- gets a 'stream.settle' task, 30 s on: nginx-rtmp does not retry its
-- callbacks, so if publish_done or record_done was lost (mediagate or the
-- database down at that moment), the worker still makes the VOD job then.
CREATE FUNCTION mediagate_stream_stop(p_id uuid, p_owner text, p_rtmp boolean, p_put boolean)
RETURNS SETOF streams LANGUAGE plpgsql AS $$
DECLARE
    first boolean;
    busy  boolean;
BEGIN
    SELECT stop_date IS NULL, open_writes > 0 INTO first, busy
      FROM streams WHERE id = p_id AND owner = p_owner FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    UPDATE streams SET status = 'STOPPED', stop_date = coalesce(stop_date, now()),
                       updated_at = now()
     WHERE id = p_id;
    IF first AND busy AND (p_rtmp OR p_put) THEN
        INSERT INTO outbox (kind, payload, run_after)
        VALUES ('stream.settle', jsonb_build_object('stream_id', p_id),
                now() + interval '30 seconds');
    END IF;
    PERFORM mediagate_stream_vod(p_id, p_rtmp, p_put);
    RETURN QUERY SELECT * FROM streams WHERE id = p_id;
END
$$;

-- The 'stream.settle' task: 30 s after the stop, no publisher is connected
-- any more (nginx-rtmp cuts it within a few seconds), so a stream still
-- marked as being written lost a callback; the recording is on disk.
CREATE FUNCTION mediagate_stream_settle(p_id uuid, p_rtmp boolean, p_put boolean)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    UPDATE streams SET open_writes = 0, updated_at = now()
     WHERE id = p_id AND status = 'STOPPED' AND open_writes > 0;
    RETURN mediagate_stream_vod(p_id, p_rtmp, p_put);
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
                       open_writes = CASE WHEN p_recorded THEN open_writes
                                          ELSE greatest(open_writes - 1, 0) END,
                       updated_at = now()
     WHERE id = p_id;
    RETURN mediagate_stream_vod(p_id, p_rtmp, p_put);
END
$$;

-- nginx-rtmp's record_done: one more finished recording.
CREATE FUNCTION mediagate_stream_recorded(p_id uuid, p_path text, p_rtmp boolean, p_put boolean)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    UPDATE streams SET recordings = recordings || p_path,
                       open_writes = greatest(open_writes - 1, 0), updated_at = now()
     WHERE id = p_id AND NOT p_path = ANY (recordings);   -- a retry counts once
    RETURN mediagate_stream_vod(p_id, p_rtmp, p_put);
END
$$;
