-- Deferred to the commit, so that the body shows the row as the
-- transaction leaves it (a stop's vod_job_id, set after its status); an
-- event whose status a later change in the same transaction replaced is
-- not sent.
CREATE OR REPLACE FUNCTION mediagate_webhook_job() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    j  jobs%ROWTYPE;
    ev text;
    n  integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM webhook_endpoints WHERE enabled) THEN
        RETURN NULL;
    END IF;
    SELECT * INTO j FROM jobs WHERE id = NEW.id;
    IF NOT FOUND OR j.status <> NEW.status THEN
        RETURN NULL;
    END IF;
    ev := CASE j.status WHEN 'PROGRESSING' THEN 'job.progressing'
                        WHEN 'COMPLETE' THEN 'job.complete'
                        WHEN 'ERROR' THEN 'job.errored'
                        WHEN 'CANCELED' THEN 'job.canceled' END;
    IF ev IS NULL THEN
        RETURN NULL;
    END IF;
    IF ev = 'job.progressing' THEN
        INSERT INTO webhook_throttle AS t (subject, last_at) VALUES ('job:' || j.id, now())
        ON CONFLICT (subject) DO UPDATE SET last_at = EXCLUDED.last_at
         WHERE t.last_at <= now() - interval '5 seconds';
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n = 0 THEN
            RETURN NULL;
        END IF;
    ELSE
        DELETE FROM webhook_throttle WHERE subject = 'job:' || j.id;
    END IF;
    PERFORM mediagate_webhook_queue(ev, 'job:' || j.id, mediagate_job_status_json(j));
    RETURN NULL;
END
$$;
