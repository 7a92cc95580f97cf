-- Every stored event goes through mediagate_apply_event (notify, replay,
-- task results): events that name a mirror resource ("refresh") queue its
-- refresh; the others are job events (mediagate_apply_job_event).
CREATE OR REPLACE FUNCTION mediagate_apply_event(p_backend text, ev jsonb) RETURNS text
LANGUAGE sql AS $$
    SELECT CASE WHEN ev ? 'refresh' THEN mediagate_mirror_queue_refresh(ev->'refresh')
                ELSE mediagate_apply_job_event(p_backend, ev) END
$$;
