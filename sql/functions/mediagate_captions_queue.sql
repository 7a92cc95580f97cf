-- Queues a captions.publish task for job p_job, unless one is queued and
-- not yet running (that one reads the captions as they will be). Its
-- payload names media_job, not job_id: a publish that fails never touches
-- the job (its status, its encode slots).
CREATE OR REPLACE FUNCTION mediagate_captions_queue(p_job text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM outbox
                    WHERE kind = 'captions.publish' AND payload->>'media_job' = p_job
                      AND done_at IS NULL AND failed_at IS NULL
                      AND (locked_until IS NULL OR locked_until <= now())) THEN
        INSERT INTO outbox (kind, payload)
        VALUES ('captions.publish', jsonb_build_object('media_job', p_job));
    END IF;
END
$$;
