-- jobs_readers: a job's job_readers rows follow its owner, ACL, creation
-- time and deletion: one per principal that lists it
-- (mediagate_job_principals); none once deleted.
CREATE OR REPLACE FUNCTION mediagate_job_readers() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM job_readers WHERE job_id = OLD.id;
    END IF;
    IF NEW.deleted_at IS NULL THEN
        INSERT INTO job_readers (job_id, principal, created_at)
        SELECT NEW.id, p, NEW.created_at
          FROM mediagate_job_principals(NEW.owner, NEW.acl, NEW.backend) p;
    END IF;
    RETURN NULL;
END
$$;
