-- Captions (sql/037_player_outputs.sql) reach a job's outputs through
-- captions.publish tasks (app/worker/captions.c), queued by each upload and
-- delete (mediagate_captions_put, mediagate_captions_delete) and, for
-- captions given while the job was still encoding, when the job becomes
-- COMPLETE (this trigger).
INSERT INTO task_kinds (name, max_attempts, timeout_s)
VALUES ('captions.publish', 12, 120) ON CONFLICT (name) DO NOTHING;

CREATE TRIGGER jobs_captions_complete AFTER UPDATE OF status ON jobs
    FOR EACH ROW WHEN (NEW.status = 'COMPLETE' AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION mediagate_captions_complete();
