-- A webhook.deliver task that dies without recording its outcome (reaped
-- after its worker died during every attempt, canceled by an operator, or
-- failed on a last attempt whose outcome could not be written) fails its
-- delivery, so that none stays pending for ever.
CREATE OR REPLACE FUNCTION mediagate_webhook_task_dead() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    UPDATE webhook_deliveries
       SET state = 'failed', next_attempt_at = NULL,
           last_error = coalesce(NEW.last_error, 'the task died')
     WHERE id = (NEW.payload->>'delivery_id')::bigint AND state = 'pending';
    RETURN NULL;
END
$$;
