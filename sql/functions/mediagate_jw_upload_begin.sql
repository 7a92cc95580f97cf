-- POST /uploads with target=jwplatform: p_id's create is recorded before
-- JW is called, with the jwplatform.discard task that deletes the video if
-- the answer is lost (it runs after p_after seconds, past any request).
CREATE OR REPLACE FUNCTION mediagate_jw_upload_begin(p_id uuid, p_owner text, p_after integer)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO jwplatform_creates (id, owner) VALUES (p_id, p_owner);
    INSERT INTO outbox (kind, payload, run_after)
    VALUES ('jwplatform.discard', jsonb_build_object('upload_id', p_id),
            now() + make_interval(secs => p_after));
END
$$;
