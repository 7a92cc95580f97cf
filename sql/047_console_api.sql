-- The console's API over a job's history and the webhooks
-- (GET /media/events, GET /media/webhooks/deliveries): each lookup by job
-- is one index scan, not a walk of a table that only grows.

-- A job's notifications, newest first.
CREATE INDEX notifications_job ON notifications (job_id, id) WHERE job_id IS NOT NULL;

-- A job's tasks: the payload names it as job_id (encodes, creates, polls,
-- uploads' expiry) or media_job (media.acl, captions.publish).
CREATE INDEX outbox_job ON outbox ((coalesce(payload->>'job_id', payload->>'media_job')), id)
    WHERE coalesce(payload->>'job_id', payload->>'media_job') IS NOT NULL;

-- A job's or a stream's deliveries (subject job:<id>, stream:<id>), newest first.
CREATE INDEX webhook_deliveries_subject ON webhook_deliveries (subject, id DESC);
