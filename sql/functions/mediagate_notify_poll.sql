-- What the reconciler (encoder.poll) learned by asking encoder p_backend:
-- stored and applied exactly as a pushed notification (mediagate_notify:
-- the same dedupe, order and unknown-job refusal), and marked as a poll.
-- Returns mediagate_notify's answer.
CREATE OR REPLACE FUNCTION mediagate_notify_poll(p_backend text, p_event_id text, p_body bytea,
                                                 ev jsonb)
RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    r text;
BEGIN
    r := mediagate_notify(p_backend, p_event_id, p_body, ev);
    UPDATE notifications SET source = 'poll'
     WHERE backend = p_backend AND event_id = p_event_id AND source <> 'poll';
    RETURN r;
END
$$;
