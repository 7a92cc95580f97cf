-- Deleting a job (DELETE /media/jobs/<id>) and the retention purge
-- (MEDIAGATE_RETENTION_DAYS): the job.delete task removes a deleted job's
-- files (app/worker/job_delete.c), the jobs.purge task deletes what is
-- past retention in bounded batches.

-- When job.delete removed the job's files: from then on its row may go
-- once it is past retention.
ALTER TABLE jobs ADD COLUMN files_removed_at timestamptz;

INSERT INTO task_kinds (name, max_attempts, timeout_s)
VALUES ('job.delete', 20, 300), ('jobs.purge', 1000, 300) ON CONFLICT (name) DO NOTHING;

-- The purge's batches: live jobs by their last change, deleted ones by
-- their deletion, notifications by their arrival.
CREATE INDEX jobs_purge_live ON jobs (updated_at) WHERE deleted_at IS NULL;
CREATE INDEX jobs_purge_deleted ON jobs (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX notifications_received ON notifications (received_at);

-- One jobs.purge task waits at a time (every worker start queues one).
CREATE UNIQUE INDEX outbox_one_purge ON outbox (kind)
    WHERE kind = 'jobs.purge' AND done_at IS NULL AND failed_at IS NULL;
