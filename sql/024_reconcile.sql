-- The reconciler (encoder.poll, app/worker/encoders.c) asks a cloud
-- encoder about a job only once it has been quiet: last_event_at is when
-- an event (a notification, a poll's answer, a task's result) was last
-- applied to the job; NULL: none yet (the job's created_at counts).
ALTER TABLE jobs ADD COLUMN last_event_at timestamptz;

-- Create calls made for the job, across its create task's attempts and an
-- operator's retries of it (which start the task's attempts again): a job
-- tried before is looked for at the encoder before a create is sent again.
ALTER TABLE jobs ADD COLUMN create_tries integer NOT NULL DEFAULT 0;
