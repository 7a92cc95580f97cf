-- Tencent VOD ProcessMedia (worker task tencent.process_media): the task's
-- TaskId is kept on its job, written in the same transaction that finishes
-- the task. A job event may carry "backend_task_id"; the first one stays
-- (a retried start that Tencent deduplicated by SessionId reports none).
ALTER TABLE jobs ADD COLUMN backend_task_id text;
