-- A job mediagate created on Tencent from an input elsewhere is pulled
-- first (PullUpload); when its file arrives, mediagate_apply_job_event
-- finds the job's create task (its profile snapshot) by the job id.
CREATE INDEX outbox_tencent_job ON outbox ((payload->>'job_id'))
    WHERE kind = 'tencent.process_media';
