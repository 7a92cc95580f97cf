-- Whether playback signs (MEDIAGATE_MEDIA_SIGNING_SECRET), as mediagate
-- serve records it at start (app/serve.c), so that every host decides alike
-- whether a job's objects may be public-read (app/playback.h): a host makes
-- them public-read only when this row says unsigned AND its own settings
-- do too; no row yet counts as signed (private). Each change of the record
-- queues media.acl for every job on the store, in the same transaction
-- (sql/functions/mediagate_media_signing_queue.sql), so objects published
-- while it said otherwise follow it.
CREATE TABLE media_signing (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    signing boolean NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TRIGGER media_signing_changed AFTER INSERT OR UPDATE OF signing ON media_signing
    FOR EACH ROW EXECUTE FUNCTION mediagate_media_signing_queue();
