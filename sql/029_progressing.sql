-- When a job went PROGRESSING: an encoder's limit on a running job
-- (MediaConvert's 48 h) counts from then, not from the job's creation (a
-- job may wait queued, or its create be retried, long before it runs).
-- Jobs already PROGRESSING count from their creation, as before.
ALTER TABLE jobs ADD COLUMN progressing_at timestamptz;
UPDATE jobs SET progressing_at = created_at WHERE status = 'PROGRESSING';

CREATE TRIGGER jobs_progressing BEFORE INSERT OR UPDATE OF status ON jobs
    FOR EACH ROW EXECUTE FUNCTION mediagate_job_progressing();
