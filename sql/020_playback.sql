-- Playback from the bucket (app/playback.h): a job's objects are readable
-- unsigned only while the job is public. Each change that can flip that (the
-- job finished on the store, its ACL changed, its outputs moved to the
-- store) queues a media.acl task in the same transaction
-- (sql/functions/mediagate_media_acl_queue.sql); the task makes every
-- object of the job public-read or private as the job is when it runs.
INSERT INTO task_kinds (name, max_attempts, timeout_s)
VALUES ('media.acl', 10, 300) ON CONFLICT (name) DO NOTHING;

CREATE TRIGGER jobs_media_acl AFTER INSERT OR UPDATE OF status, acl, storage ON jobs
    FOR EACH ROW EXECUTE FUNCTION mediagate_media_acl_queue();
