-- After a job row changes: when it is COMPLETE on the store and it just
-- finished, or its ACL or storage changed, queue a media.acl task for it
-- (payload media_job: not job_id, so that the task neither counts against
-- the uploader's encode slots nor touches the job when it fails), unless
-- one is queued and not yet running (that one reads the job as it will be).
CREATE OR REPLACE FUNCTION mediagate_media_acl_queue() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.storage = 's3' AND NEW.status = 'COMPLETE'
       AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM NEW.status
            OR OLD.acl IS DISTINCT FROM NEW.acl OR OLD.storage IS DISTINCT FROM NEW.storage)
       AND NOT mediagate_media_acl_queued(NEW.id) THEN
        INSERT INTO outbox (kind, payload)
        VALUES ('media.acl', jsonb_build_object('media_job', NEW.id));
    END IF;
    RETURN NULL;
END
$$;
