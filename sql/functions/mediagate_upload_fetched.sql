-- The file of upload-by-URL slot p_id is in place (p_size bytes; local:
-- at path p_where; s3: the object p_where with ETag p_etag): the slot is
-- spent and stored and its encode queued, exactly as for a PUT
-- (mediagate_upload_store, mediagate_upload_s3_spend), in one transaction,
-- fenced by the lease of the fetch task (p_task, attempt p_attempt): a
-- worker that lost it changes nothing. Returns job_id (stored), or
-- refused, why the slot does not take this file (for the job's
-- error_message: the file is over max_bytes, the upload is gone), or both
-- NULL: the lease is lost. A slot stored meanwhile answers its job id.
DROP FUNCTION IF EXISTS mediagate_upload_fetched(bigint, integer, uuid, bigint, text, text, text);
CREATE OR REPLACE FUNCTION mediagate_upload_fetched(p_task bigint, p_attempt integer, p_id uuid,
                                         p_size bigint, p_storage text, p_where text,
                                         p_etag text, OUT job_id text, OUT refused text)
LANGUAGE plpgsql AS $$
DECLARE
    u uploads%ROWTYPE;
BEGIN
    PERFORM 1 FROM outbox
     WHERE id = p_task AND attempts = p_attempt AND done_at IS NULL AND failed_at IS NULL
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF p_storage = 's3' THEN
        job_id := mediagate_upload_s3_spend(p_id, NULL, p_size, p_where, p_etag);
    ELSE
        job_id := mediagate_upload_store(p_id, NULL, p_size, p_where);
    END IF;
    IF job_id IS NOT NULL THEN
        RETURN;
    END IF;
    SELECT * INTO u FROM uploads WHERE id = p_id;
    IF NOT FOUND THEN
        refused := 'the upload is gone';
    ELSIF u.stored_at IS NOT NULL THEN
        job_id := u.job_id; -- stored meanwhile: nothing left to do
    ELSIF p_size > u.max_bytes THEN
        refused := format('the file is larger than the upload''s max_bytes (%s bytes)',
                          u.max_bytes);
    ELSE
        refused := 'the upload does not take a file any more';
    END IF;
END
$$;
