-- Amazon SNS and Mux notifications (app/notify/sns.c, mux.c). Their
-- normalized events may carry, besides a job's fields:
--   job_backend   the job is that backend's (an SNS-delivered MediaConvert
--                 event is applied to the mediaconvert job, as
--                 /notifications/mediaconvert applies it);
--   dedupe_key    a second key the event is known by (SNS: the inner
--                 MediaConvert event, which EventBridge may publish twice
--                 under two MessageIds);
--   no_job        stored, applied to no job (SNS confirmations, Mux events
--                 about no job's state), with queue_kind/queue_payload: a
--                 task queued in the same transaction (sns.confirm).

-- The second keys: one row per key, pointing at the notification that
-- holds it; a later notification with the same key is a duplicate.
CREATE TABLE notification_keys (
    backend          text NOT NULL,
    key              text NOT NULL,
    notification_id  bigint NOT NULL REFERENCES notifications (id) ON DELETE CASCADE,
    PRIMARY KEY (backend, key)
);
