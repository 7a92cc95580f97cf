-- nginx-rtmp's publish_done. When nginx-rtmp records (p_recorded), the
-- recording closes later, with record_done; until then the stream is still
-- being written.
CREATE OR REPLACE FUNCTION mediagate_stream_unpublished(p_id uuid, p_recorded boolean, p_rtmp boolean,
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
