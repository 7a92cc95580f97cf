-- As in 002, for every kind of event above.
CREATE OR REPLACE FUNCTION mediagate_replay(p_id bigint, ev jsonb) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    b   text;
    jid text;
BEGIN
    SELECT backend INTO b FROM notifications WHERE id = p_id FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'no_such_notification';
    END IF;
    jid := mediagate_notify_apply(p_id, b, ev);
    IF jid IS NULL THEN
        UPDATE notifications SET result = 'failed', error = 'unknown job', replays = replays + 1
         WHERE id = p_id;
        RETURN 'unknown_job';
    END IF;
    UPDATE notifications SET result = 'applied', error = NULL, job_id = nullif(jid, ''),
           applied_at = now(), replays = replays + 1
     WHERE id = p_id;
    RETURN 'applied';
END
$$;
