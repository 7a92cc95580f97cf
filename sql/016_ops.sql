-- Every task queued by a request carries the request's id in its payload
-- (sql/functions/mediagate_outbox_request_id.sql), so the worker's log
-- lines for the task name the request too.
CREATE TRIGGER outbox_request_id BEFORE INSERT ON outbox
    FOR EACH ROW EXECUTE FUNCTION mediagate_outbox_request_id();
