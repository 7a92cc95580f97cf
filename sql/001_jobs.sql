-- One row per encoding job. Column names are the API's field names.
CREATE TABLE jobs (
    id              text PRIMARY KEY,
    backend         text NOT NULL,
    backend_job_id  text,
    input_file      text NOT NULL,
    status          text NOT NULL DEFAULT 'SUBMITTED'
                    CHECK (status IN ('SUBMITTED', 'PROGRESSING', 'COMPLETE',
                                      'ERROR', 'CANCELED')),
    progress_rate   integer NOT NULL DEFAULT 0
                    CHECK (progress_rate BETWEEN 0 AND 100),
    duration_ms     bigint CHECK (duration_ms >= 0),
    width_px        integer CHECK (width_px >= 0),
    height_px       integer CHECK (height_px >= 0),
    output_path     text,
    playlists       jsonb CHECK (playlists IS NULL OR jsonb_typeof(playlists) = 'object'),
    error_code      integer,
    error_message   text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    resource        jsonb
);

-- "Latest job for an input file" is one probe of this index.
CREATE INDEX jobs_input_file_latest ON jobs (input_file, created_at DESC, id DESC);

-- A backend's own job id names at most one of our jobs.
CREATE UNIQUE INDEX jobs_backend_job ON jobs (backend, backend_job_id)
    WHERE backend_job_id IS NOT NULL;
