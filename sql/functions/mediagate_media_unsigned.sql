-- True only when the signing record (sql/021_media_signing.sql) says
-- playback is unsigned; false when it says signed or there is none yet.
CREATE OR REPLACE FUNCTION mediagate_media_unsigned() RETURNS boolean
LANGUAGE sql STABLE AS $$
    SELECT coalesce((SELECT NOT signing FROM media_signing), false)
$$;
