-- The file of upload-by-URL slot p_id is in place (p_size bytes; local:
-- at path p_where; s3: the object p_where with ETag p_etag): the slot is
-- spent and stored and its encode queued, exactly as for a PUT
-- (mediagate_upload_store, mediagate_upload_s3_spend), in one transaction,
-- fenced by the lease of the fetch task (p_task, attempt p_attempt): a
-- worker that lost it changes nothing. Returns the job id, or NULL (the
-- lease is lost, or the slot was spent otherwise).
CREATE OR REPLACE FUNCTION mediagate_upload_fetched(p_task bigint, p_attempt integer, p_id uuid,
                                         p_size bigint, p_storage text, p_where text,
                                         p_etag text)
RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM outbox
     WHERE id = p_task AND attempts = p_attempt AND done_at IS NULL AND failed_at IS NULL
       FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF p_storage = 's3' THEN
        RETURN mediagate_upload_s3_spend(p_id, NULL, p_size, p_where, p_etag);
    END IF;
    RETURN mediagate_upload_store(p_id, NULL, p_size, p_where);
END
$$;
