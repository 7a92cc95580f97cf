-- The library (GET /media/jobs): a job's name, and who may list it, kept
-- so that a page is one index scan per principal of the caller.

-- What the library shows a job as: its title, else its upload's file
-- name, else its stream's name, else the input file's last part; kept by
-- the triggers below (mediagate_job_name), searched by the q parameter.
ALTER TABLE jobs ADD COLUMN name text;

-- One row per principal that lists a job: its owner ("key:<id>",
-- "user:<name>") and each USER_, GROUP_ and INST_ entry of its ACL (never
-- WORLD or CAM: a public job is listed to its owner only); none for a
-- deleted job; the job's created_at beside it. Kept by the jobs_readers
-- triggers (mediagate_job_readers).
CREATE TABLE job_readers (
    job_id      text NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    principal   text NOT NULL,
    created_at  timestamptz NOT NULL,   -- the job's
    PRIMARY KEY (job_id, principal)
);
-- A page of one principal's jobs, newest first, under a keyset cursor.
CREATE INDEX job_readers_page ON job_readers (principal, created_at DESC, job_id DESC);

-- The job a stream recorded, found by its id (the name's lookup).
CREATE INDEX streams_vod_job ON streams (vod_job_id) WHERE vod_job_id IS NOT NULL;

CREATE TRIGGER jobs_name BEFORE INSERT OR UPDATE OF title, input_file, name ON jobs
    FOR EACH ROW EXECUTE FUNCTION mediagate_job_name_keep();
CREATE TRIGGER uploads_job_name AFTER INSERT ON uploads
    FOR EACH ROW EXECUTE FUNCTION mediagate_job_name_keep();
CREATE TRIGGER streams_job_name AFTER INSERT OR UPDATE OF vod_job_id, name ON streams
    FOR EACH ROW WHEN (NEW.vod_job_id IS NOT NULL) EXECUTE FUNCTION mediagate_job_name_keep();
CREATE TRIGGER jobs_readers_insert AFTER INSERT ON jobs
    FOR EACH ROW EXECUTE FUNCTION mediagate_job_readers();
CREATE TRIGGER jobs_readers AFTER UPDATE OF owner, acl, deleted_at, created_at ON jobs
    FOR EACH ROW WHEN (OLD.owner IS DISTINCT FROM NEW.owner OR OLD.acl IS DISTINCT FROM NEW.acl
                       OR (OLD.deleted_at IS NULL) <> (NEW.deleted_at IS NULL)
                       OR OLD.created_at <> NEW.created_at)
    EXECUTE FUNCTION mediagate_job_readers();

-- The jobs there are get their name and readers afterwards, a batch per
-- transaction (mediagate_jobs_backfill, run by `mediagate migrate` after
-- the migrations), never here: this migration only adds a column without
-- a default and empty tables, so it holds jobs for an instant whatever
-- their number. The fill's position: the last job id done; no row once
-- every job is done.
CREATE TABLE job_readers_fill (after text NOT NULL);
INSERT INTO job_readers_fill VALUES ('');
