-- True when a media.acl task for job is queued and not yet running (it
-- reads the job, and the signing record, as they will be).
CREATE OR REPLACE FUNCTION mediagate_media_acl_queued(job text) RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT EXISTS (SELECT 1 FROM outbox
                    WHERE kind = 'media.acl' AND payload->>'media_job' = job
                      AND done_at IS NULL AND failed_at IS NULL
                      AND (locked_until IS NULL OR locked_until <= now()))
$$;
