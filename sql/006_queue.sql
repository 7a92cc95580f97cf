-- The work queue, rebuilt: task kinds as rows, fenced leases, dead tasks,
-- and finishing a task and applying its result in one transaction.

-- One row per kind a worker serves. `mediagate migrate` and every worker
-- start write it from the kind table in app/worker/kinds.c; the rows here
-- are the kinds the schema itself queues.
CREATE TABLE task_kinds (
    name          text PRIMARY KEY,
    max_attempts  integer NOT NULL CHECK (max_attempts BETWEEN 1 AND 1000),
    timeout_s     integer NOT NULL CHECK (timeout_s >= 0)    -- 0: a setting decides
);
INSERT INTO task_kinds (name, max_attempts, timeout_s)
VALUES ('local.encode', 3, 0), ('stream.settle', 10, 60);

-- Rows of kinds that nothing serves could never run (tencent.process_media
-- was queued before any worker called ProcessMedia). Their notifications
-- are stored raw; `mediagate notifications replay` queues them again once
-- the kind exists.
DELETE FROM outbox WHERE kind NOT IN (SELECT name FROM task_kinds);

-- A kind that no row serves is refused, not left queued. The cap on
-- attempts is the kind's, not the row's.
ALTER TABLE outbox
    DROP COLUMN max_attempts,
    ADD COLUMN started_at timestamptz,          -- when the current or last attempt began
    ADD CONSTRAINT outbox_kind_served FOREIGN KEY (kind) REFERENCES task_kinds (name);

-- The claim walks ready tasks in run_after order; done and dead ones (which
-- pile up) are not in the index.
CREATE INDEX outbox_claim ON outbox (run_after, id) WHERE done_at IS NULL AND failed_at IS NULL;

-- Tasks that are dead (failed for good) or done are never claimed; the
-- operator commands list dead ones.
CREATE INDEX outbox_dead ON outbox (failed_at) WHERE failed_at IS NOT NULL;

-- What an operator sees: one state per task.
CREATE VIEW tasks AS
SELECT o.*, CASE WHEN o.done_at IS NOT NULL THEN 'done'
                 WHEN o.failed_at IS NOT NULL THEN 'dead'
                 WHEN o.locked_until > now() THEN 'running'
                 ELSE 'queued' END AS state
  FROM outbox o;
