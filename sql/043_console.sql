-- Who owns a job, and a job deleted by its owner (GET, DELETE /media/jobs).

-- The owner of the upload or stream a job was made from, as the caller's
-- owner reads ("key:<id>" or "user:<name>", app/acl.h); NULL for a job no
-- caller made (a provider's event, mediagate submit, the JW mirror). Set
-- by the triggers below when the upload's or stream's row names the job,
-- and by the routes that make a job themselves.
ALTER TABLE jobs ADD COLUMN owner text CHECK (owner IS NULL OR owner ~ '^(key|user):.');

-- When the owner deleted the job (DELETE /media/jobs/<id>): from then on it
-- answers as an unknown job everywhere and its files are removed by a task;
-- the row stays (with its notification history) until the retention purge.
ALTER TABLE jobs ADD COLUMN deleted_at timestamptz;

CREATE TRIGGER uploads_job_owner AFTER INSERT ON uploads
    FOR EACH ROW EXECUTE FUNCTION mediagate_job_owner();
CREATE TRIGGER streams_job_owner AFTER INSERT OR UPDATE OF vod_job_id ON streams
    FOR EACH ROW WHEN (NEW.vod_job_id IS NOT NULL) EXECUTE FUNCTION mediagate_job_owner();

UPDATE jobs j SET owner = u.owner FROM uploads u WHERE u.job_id = j.id AND j.owner IS NULL;
UPDATE jobs j SET owner = s.owner FROM streams s WHERE s.vod_job_id = j.id AND j.owner IS NULL;
