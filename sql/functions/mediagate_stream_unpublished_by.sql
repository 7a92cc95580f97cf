-- nginx-rtmp's publish_done of session p_client (NULL: an nginx-rtmp that
-- sends no clientid, or a stream published before this migration; then
-- every publish_done counts, as before). Returns
-- the VOD job id when this made it, NULL otherwise (also for a session
-- that was never accepted: nothing changes).
CREATE OR REPLACE FUNCTION mediagate_stream_unpublished_by(p_id uuid, p_client text, p_recorded boolean,
                                                p_rtmp boolean, p_put boolean)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    -- A stream published before this migration has no sessions recorded:
    -- it is counted as before.
    IF p_client IS NOT NULL AND
       (SELECT cardinality(publishers) > 0 FROM streams WHERE id = p_id) THEN
        UPDATE streams SET publishers = array_remove(publishers, p_client)
         WHERE id = p_id AND p_client = ANY (publishers);
        IF NOT FOUND THEN
            RETURN NULL;
        END IF;
        IF (SELECT cardinality(publishers) FROM streams WHERE id = p_id) > 0 THEN
            -- another accepted session is still publishing: stay LIVE
            UPDATE streams SET open_writes = CASE WHEN p_recorded THEN open_writes
                                                  ELSE greatest(open_writes - 1, 0) END,
                               updated_at = now()
             WHERE id = p_id;
            RETURN mediagate_stream_vod(p_id, p_rtmp, p_put);
        END IF;
    END IF;
    RETURN mediagate_stream_unpublished(p_id, p_recorded, p_rtmp, p_put);
END
$$;
