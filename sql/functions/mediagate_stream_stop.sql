-- POST /stream/stop. A stream still being written at its first stop also
-- gets a 'stream.settle' task, 30 s on: nginx-rtmp does not retry its
-- callbacks, so if publish_done or record_done was lost (mediagate or the
-- database down at that moment), the worker still makes the VOD job then.
CREATE OR REPLACE FUNCTION mediagate_stream_stop(p_id uuid, p_owner text, p_rtmp boolean, p_put boolean)
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
