-- Whose upload or stream the local.encode task NEW encodes (the upload's
-- row, and the stream's, are written before the task in the same
-- transaction).
CREATE OR REPLACE FUNCTION mediagate_outbox_owner() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.owner := coalesce(
        (SELECT u.owner FROM uploads u WHERE u.job_id = NEW.payload->>'job_id'),
        CASE WHEN NEW.payload->>'stream_id' ~ '^[0-9a-fA-F-]{36}$' THEN
            (SELECT s.owner FROM streams s WHERE s.id = (NEW.payload->>'stream_id')::uuid) END);
    RETURN NEW;
END
$$;
