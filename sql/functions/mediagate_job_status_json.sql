-- What GET /media/status?job_id= answers for job j (handlers/media_status.c),
-- plus its job_id.
CREATE OR REPLACE FUNCTION mediagate_job_status_json(j jobs) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT jsonb_build_object('success', true, 'job_status', j.status,
                              'progress_rate', j.progress_rate, 'job_id', j.id)
        || CASE WHEN j.status = 'COMPLETE' THEN
               jsonb_build_object('duration_ms', j.duration_ms, 'width_px', j.width_px,
                                  'height_px', j.height_px, 'output_path', j.output_path,
                                  'playlists', coalesce(j.playlists, '{}'::jsonb))
               || CASE WHEN j.variations IS NULL THEN '{}'::jsonb
                       ELSE jsonb_build_object('variations', j.variations) END
               -- poster, storyboard, mp4, audio_only, encryption, missing
               || coalesce(j.extras, '{}'::jsonb)
               || mediagate_job_captions_json(j)
           ELSE '{}'::jsonb END
        || CASE WHEN j.status = 'ERROR' THEN
               jsonb_build_object('error_code', j.error_code, 'error_message', j.error_message)
           ELSE '{}'::jsonb END
$$;
