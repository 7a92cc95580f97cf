-- nginx-rtmp's record_done: one more finished recording.
CREATE OR REPLACE FUNCTION mediagate_stream_recorded(p_id uuid, p_path text, p_rtmp boolean, p_put boolean)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    UPDATE streams SET recordings = recordings || p_path,
                       open_writes = greatest(open_writes - 1, 0), updated_at = now()
     WHERE id = p_id AND NOT p_path = ANY (recordings);   -- a retry counts once
    RETURN mediagate_stream_vod(p_id, p_rtmp, p_put);
END
$$;
