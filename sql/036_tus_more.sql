-- Resumable uploads (handlers/tus.c): a tus upload its client terminated
-- (DELETE). Its bytes are removed, its job CANCELED, and its URL answers
-- 404 from then on; its expiry is moved to that moment, so the slot takes
-- no PUT either.
ALTER TABLE uploads
    ADD COLUMN tus_terminated_at timestamptz;
