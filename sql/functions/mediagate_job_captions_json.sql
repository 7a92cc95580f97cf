-- The captions of job j that /media/status lists (published, not deleted),
-- as {"captions": [{language, label, file, playlist}]} in language order,
-- files relative to output_path; {} when there are none.
CREATE OR REPLACE FUNCTION mediagate_job_captions_json(j jobs) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN count(*) = 0 THEN '{}'::jsonb
                ELSE jsonb_build_object('captions', jsonb_agg(jsonb_build_object(
                         'language', c.language, 'label', c.label,
                         'file', 'captions/' || c.language || '.vtt',
                         'playlist', 'captions/' || c.language || '.m3u8')
                         ORDER BY c.language)) END
      FROM captions c
     WHERE c.job_id = j.id AND c.published_at IS NOT NULL AND c.deleted_at IS NULL
$$;
