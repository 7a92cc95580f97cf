-- jobs_readers: a job's job_readers rows follow its owner, ACL, creation
-- time and deletion: one per principal that lists it, its owner and each
-- USER_, GROUP_ and INST_ entry of its ACL; none once deleted.
CREATE OR REPLACE FUNCTION mediagate_job_readers() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        DELETE FROM job_readers WHERE job_id = OLD.id;
    END IF;
    IF NEW.deleted_at IS NULL THEN
        INSERT INTO job_readers (job_id, principal, created_at)
        SELECT DISTINCT NEW.id, p, NEW.created_at FROM (
            SELECT NEW.owner AS p
            UNION ALL
            SELECT e FROM unnest(string_to_array(NEW.acl, ',')) e WHERE e ~ '^(USER|GROUP|INST)_.'
        ) s WHERE p IS NOT NULL;
    END IF;
    RETURN NULL;
END
$$;
