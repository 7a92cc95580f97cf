-- The 'stream.settle' task: 30 s after the stop, no publisher is connected
-- any more (nginx-rtmp cuts it within a few seconds), so a stream still
-- marked as being written lost a callback; the recording is on disk.
CREATE OR REPLACE FUNCTION mediagate_stream_settle(p_id uuid, p_rtmp boolean, p_put boolean)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    UPDATE streams SET open_writes = 0, updated_at = now()
     WHERE id = p_id AND status = 'STOPPED' AND open_writes > 0;
    RETURN mediagate_stream_vod(p_id, p_rtmp, p_put);
END
$$;
