-- The outbox becomes the work queue every background task uses: rows are
-- written in the same transaction as the change that causes them, claimed
-- with FOR UPDATE SKIP LOCKED under a lease, retried with capped backoff.
ALTER TABLE outbox
    ADD COLUMN max_attempts  integer NOT NULL DEFAULT 5,
    ADD COLUMN locked_by     text,
    ADD COLUMN locked_until  timestamptz,
    ADD COLUMN last_error    text,
    ADD COLUMN failed_at     timestamptz;
DROP INDEX outbox_pending;
CREATE INDEX outbox_ready ON outbox (kind, run_after, id)
    WHERE done_at IS NULL AND failed_at IS NULL;
