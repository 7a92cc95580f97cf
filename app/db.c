#include "db.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "log.h"
#include "metrics.h"
#include "uploads/tus.h"

/* A line about d's connection or statements, unless its caller reports
 * failures itself (d->quiet). */
/* Bit i of a set of DB_STMT_WORDS words (prepared, lazy_stmts). */
#define BIT_SET(set, i) ((set)[(i) / 64] |= 1ULL << ((i) % 64))
#define BIT_HAS(set, i) (((set)[(i) / 64] >> ((i) % 64)) & 1ULL)

#define DB_LOG(d, level, ...)                  \
    do {                                       \
        if (!(d)->quiet)                       \
            log_msg(level, __VA_ARGS__);       \
    } while (0)

/* A job's ACL. A JW Platform video's is its custom property sms_acl (none:
 * WORLD), as changed here (jwplatform_writes) while the platform has not
 * taken the change (never sent: refused, retried, or the write-back off)
 * and until the mirror is written after the platform took it, else as
 * mirrored; a video the mirror lacks and that was not made here admits
 * nobody. */
#define JW_ACL                                                                           \
    "CASE WHEN backend = 'jwplatform' THEN coalesce((SELECT w.sms_acl "                  \
    "FROM jwplatform_writes w WHERE w.key = jobs.backend_job_id AND w.sms_acl IS NOT NULL " \
    "AND (w.version > w.sent_version OR NOT EXISTS (SELECT 1 FROM cached_resource m "    \
    "WHERE m.type = 'video' AND m.key = w.key AND m.updated_at > w.sent_at))), "          \
    "(SELECT coalesce(c.data->'custom'->>'sms_acl', 'acl:WORLD:') FROM cached_resource c " \
    "WHERE c.type = 'video' AND c.key = jobs.backend_job_id), 'acl::') ELSE acl END"

/* A job as /media/status and the library read it (handlers/job_json.h's
 * enum job_col, in this order). */
#define JOB_ITEM_COLS                                                                     \
    "jobs.status, jobs.progress_rate, jobs.duration_ms, jobs.width_px, jobs.height_px, "  \
    "jobs.output_path, jobs.playlists::text, jobs.error_code, jobs.error_message, "       \
    "jobs.variations::text, " JW_ACL ", jobs.backend, jobs.backend_job_id, jobs.storage, " \
    /* the player outputs (sql/037) and the captions, for a COMPLETE job */               \
    "(coalesce(jobs.extras, '{}'::jsonb) || mediagate_job_captions_json(jobs))::text, "   \
    "jobs.id, jobs.name, "                                                                \
    "to_char(jobs.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "     \
    "to_char(jobs.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "     \
    "jobs.owner, (extract(epoch FROM jobs.created_at) * 1000000)::bigint AS created_us, "  \
    "jobs.deleted_at IS NOT NULL"

static const stmt_def stmts[STMT__COUNT] = {
    [STMT_JOB_ID_BY_INPUT] = {"job_id_by_input",
        "SELECT id, " JW_ACL ", owner "
        "FROM jobs WHERE md5(input_file) = md5($1) AND input_file = $1 AND deleted_at IS NULL "
        "ORDER BY created_at DESC, id DESC LIMIT 1",
        1, PGRES_TUPLES_OK},
    [STMT_JOB_STATUS] = {"job_status",
        "SELECT " JOB_ITEM_COLS " FROM jobs WHERE id = $1 AND deleted_at IS NULL", /* deleted: unknown */
        1, PGRES_TUPLES_OK},
    /* GET /media/jobs: a page (handlers/media_list.c). For each principal
     * in $1 (a JSON array), one index scan of job_readers_page under the
     * cursor ($2 µs since the epoch, $3 job id; NULL: the newest) reading at
     * most $4 rows; of those, the rows every principal's scan reached
     * (newer than or as old as the oldest row of a scan that read $4: h),
     * each job once, not deleted, of status $6, backend $7, with every word
     * of $8 (a JSON array) in its name, newest first, at most $5 (k). Each row
     * also carries h (µs, id: where a scan stopped; NULL when none ran out),
     * and a page with no item is one row of h with NULL columns. */
    [STMT_JOB_LIST] = {"job_list",
        "WITH s AS (SELECT r.created_at, r.job_id, r.n FROM "
        "jsonb_array_elements_text($1::jsonb) p (pr) CROSS JOIN LATERAL (SELECT x.*, "
        "row_number() OVER (ORDER BY x.created_at DESC, x.job_id DESC) n FROM ("
        "SELECT jr.created_at, jr.job_id FROM job_readers jr WHERE jr.principal = p.pr "
        "AND (jr.created_at, jr.job_id) < (coalesce('epoch'::timestamptz + $2::bigint "
        "* interval '1 microsecond', 'infinity'), coalesce($3::text, '')) "
        "ORDER BY jr.created_at DESC, jr.job_id DESC LIMIT $4) x) r), "
        "h AS (SELECT created_at hc, job_id hj FROM s WHERE n = $4 UNION ALL "
        "SELECT NULL, NULL ORDER BY 1 DESC NULLS LAST, 2 DESC LIMIT 1), "
        "c AS (SELECT DISTINCT s.created_at, s.job_id FROM s, h "
        "WHERE h.hc IS NULL OR (s.created_at, s.job_id) >= (h.hc, h.hj)), "
        /* LATERAL ... LIMIT 1: a primary-key probe per row, whatever a
         * generic plan guesses of the rows above */
        "k AS (SELECT c.created_at, c.job_id FROM c CROSS JOIN LATERAL (SELECT 1 FROM jobs "
        "WHERE jobs.id = c.job_id AND jobs.deleted_at IS NULL AND ($6::text IS NULL OR "
        "jobs.status = $6) AND ($7::text IS NULL OR jobs.backend = $7) AND ($8::jsonb IS NULL "
        "OR NOT EXISTS (SELECT 1 FROM jsonb_array_elements_text($8::jsonb) w (w) "
        "WHERE strpos(lower(jobs.name), lower(w.w)) = 0)) LIMIT 1) f "
        "ORDER BY c.created_at DESC, c.job_id DESC LIMIT $5) "
        "SELECT i.*, (extract(epoch FROM h.hc) * 1000000)::bigint, h.hj FROM h LEFT JOIN "
        "(k CROSS JOIN LATERAL (SELECT " JOB_ITEM_COLS " FROM jobs WHERE jobs.id = k.job_id "
        "LIMIT 1) i) ON true ORDER BY i.created_us DESC, i.id DESC",
        8, PGRES_TUPLES_OK},
    [STMT_NOTIFY] = {"notify",
        "SELECT mediagate_notify($1, $2, $3, $4::jsonb)",
        4, PGRES_TUPLES_OK},
    [STMT_NOTIFY_FAILED] = {"notify_failed",
        "INSERT INTO notifications (backend, event_id, body, result, error) "
        "VALUES ($1, $2, $3, 'failed', $4) ON CONFLICT (backend, event_id) DO NOTHING",
        4, PGRES_COMMAND_OK},
    /* An API key's owner (streams, uploads, jobs) and its name, the user of
     * ACL entries (USER_<name>). */
    [STMT_APIKEY] = {"apikey",
        "SELECT 'key:' || id, name FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL",
        1, PGRES_TUPLES_OK},
#define STREAM_COLS "id, name, status, " \
    "to_char(start_date AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), " \
    "to_char(stop_date AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), vod_job_id"
    [STMT_STREAM_START] = {"stream_start",
        "INSERT INTO streams (id, owner, name, type, stream_key_hash, upload_token_hash, "
        "upload_expires) VALUES ($1, $2, $3, 'hls', $4, $5, now() + make_interval(secs => $6)) "
        "RETURNING " STREAM_COLS ", extract(epoch FROM upload_expires)::bigint",
        6, PGRES_TUPLES_OK},
    [STMT_STREAM_STOP] = {"stream_stop",
        "SELECT " STREAM_COLS " FROM mediagate_stream_stop($1, $2, $3, $4)",
        4, PGRES_TUPLES_OK},
    [STMT_STREAM_GET] = {"stream_get",
        "SELECT " STREAM_COLS " FROM streams WHERE id = $1 AND owner = $2",
        2, PGRES_TUPLES_OK},
    /* GET /stream/list: the owner's streams, newest first (the index
     * streams_owner), those stopped more than 7 days ago left out. */
    [STMT_STREAM_LIST] = {"stream_list",
        "SELECT " STREAM_COLS " FROM streams WHERE owner = $1 "
        "AND (status <> 'STOPPED' OR stop_date > now() - interval '7 days') "
        "ORDER BY start_date DESC, id DESC LIMIT 50",
        1, PGRES_TUPLES_OK},
    [STMT_RTMP_PUBLISH] = {"rtmp_publish",
        "UPDATE streams SET status = 'LIVE', published = true, open_writes = open_writes + 1, "
        "publishers = CASE WHEN $3::text IS NULL THEN publishers ELSE publishers || $3::text END, "
        "updated_at = now() "
        "WHERE id = $1 AND stream_key_hash = $2 AND status <> 'STOPPED' RETURNING id",
        3, PGRES_TUPLES_OK},
    [STMT_RTMP_DONE] = {"rtmp_done",
        "SELECT mediagate_stream_unpublished_by($1, $5, $2, $3, $4)",
        5, PGRES_TUPLES_OK},
    [STMT_RTMP_RECORDED] = {"rtmp_recorded",
        "SELECT mediagate_stream_recorded($1, $2, $3, $4)",
        4, PGRES_TUPLES_OK},
    [STMT_UPLOAD_AUTH] = {"upload_auth",
        "WITH s AS (SELECT id FROM streams WHERE id = $1 AND upload_token_hash = $2 "
        "AND status <> 'STOPPED' AND upload_expires > now()), "
        /* An accepted PUT marks the stream as having a recording and makes it
         * LIVE, as an RTMP publish does (the stream.live webhook is queued by
         * the status change's trigger, in this transaction); written only
         * when either changes, and never over a concurrent stop. */
        "u AS (UPDATE streams SET uploaded = true, status = 'LIVE', updated_at = now() "
        "WHERE id IN (SELECT id FROM s) AND $3 AND status <> 'STOPPED' "
        "AND (NOT uploaded OR status <> 'LIVE')) SELECT 1 FROM s",
        3, PGRES_TUPLES_OK},
    [STMT_RTMP_UPDATE] = {"rtmp_update",
        "SELECT status FROM streams WHERE id = $1",
        1, PGRES_TUPLES_OK},
    /* Direct uploads (sql/008_uploads.sql, sql/functions/mediagate_upload_*.sql). */
    /* the slot, then its profile ($10, profile_json's) and the kind that
     * starts its encode ($11): one statement, one transaction */
    [STMT_UPLOAD_CREATE] = {"upload_create",
        "WITH c AS (SELECT mediagate_upload_create_acl($1, $2, $3, $4, $5, $6, $7, $8, $9) e) "
        "SELECT to_char(c.e AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
        "mediagate_upload_profile($1, $10, $11) FROM c",
        11, PGRES_TUPLES_OK},
    [STMT_UPLOAD_CHECK] = {"upload_check",
        "SELECT mediagate_upload_check($1, $2, $3, $4)",
        4, PGRES_TUPLES_OK},
    [STMT_UPLOAD_STORE] = {"upload_store",
        "SELECT s.job, to_char(u.expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
        "FROM mediagate_upload_store($1, $2, $3, $4) AS s(job) "
        "LEFT JOIN uploads u ON u.id = $1::uuid",
        4, PGRES_TUPLES_OK},
    /* POST /media/jobs: the new job's id (owned by $5), or the one that has
     * that backend job id already. */
    [STMT_JOB_REGISTER] = {"job_register",
        "WITH n AS (INSERT INTO jobs (id, backend, backend_job_id, input_file, registered, owner) "
        "VALUES ($1, $2, $3, $4, true, $5) ON CONFLICT (backend, backend_job_id) "
        "WHERE backend_job_id IS NOT NULL DO NOTHING RETURNING id) "
        "SELECT id FROM n UNION ALL "
        "SELECT id FROM jobs WHERE backend = $2 AND backend_job_id = $3 AND NOT EXISTS (SELECT 1 FROM n) "
        "LIMIT 1",
        5, PGRES_TUPLES_OK},
    [STMT_UPLOAD_PUT] = {"upload_put",
        "SELECT mediagate_upload_put($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        10, PGRES_TUPLES_OK},
    /* Uploads on S3 storage (sql/019_s3_uploads.sql): a slot whose file
     * goes straight to the bucket; what the confirmation needs of a slot
     * its token opens; the confirmation (spend and encode at once); a PUT
     * with an API key whose file is in the bucket. */
    [STMT_UPLOAD_CREATE_S3] = {"upload_create_s3",
        "WITH c AS (SELECT mediagate_upload_create_s3($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, "
        "$11) e) SELECT to_char(c.e AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
        "mediagate_upload_profile($1, $12, $13) FROM c",
        13, PGRES_TUPLES_OK},
    /* Whether the API key owner $1 may upload to target $2 (api_keys.targets;
     * NULL: any); no row: not an API key's owner, who may use any. */
    [STMT_UPLOAD_TARGET_ALLOWED] = {"upload_target_allowed",
        "SELECT $2 = ANY(coalesce(targets, ARRAY[$2])) FROM api_keys WHERE 'key:' || id = $1",
        2, PGRES_TUPLES_OK},
    [STMT_UPLOAD_SLOT] = {"upload_slot",
        "SELECT job_id, storage, multipart_id, declared_size, max_bytes, stored_at IS NOT NULL, "
        "expires_at <= now(), "
        "to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
        "tus_length IS NOT NULL "
        "FROM uploads WHERE id = $1 AND name = $2 AND token_hash = $3",
        3, PGRES_TUPLES_OK},
    [STMT_UPLOAD_CONFIRM] = {"upload_confirm",
        "SELECT mediagate_upload_s3_spend($1, $2, $3, $4, $5)",
        5, PGRES_TUPLES_OK},
    [STMT_UPLOAD_PUT_S3] = {"upload_put_s3",
        "SELECT mediagate_upload_put_s3($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        11, PGRES_TUPLES_OK},
    /* A profile ($1) as the caller ($2, its owner) may use it: its name,
     * its spec and whether the caller's API key allows it (api_keys.profiles;
     * NULL, or a caller that is no key: any); no row when there is no such
     * profile, the spec NULL. $1 NULL: the key's first profile, else
     * "default". One row. */
    [STMT_PROFILE_PICK] = {"profile_pick",
        "WITH k AS (SELECT profiles FROM api_keys WHERE 'key:' || id = $2), "
        "w AS (SELECT coalesce($1, (SELECT profiles[1] FROM k), 'default') AS name) "
        "SELECT w.name, p.spec::text, w.name = ANY(coalesce((SELECT profiles FROM k), "
        "ARRAY[w.name])) FROM w LEFT JOIN profiles p ON p.name = w.name",
        2, PGRES_TUPLES_OK},
    /* POST /media/jobs with a profile: the job ($1 id, $2 encoder, $3 input,
     * $4 profile name, $5 ACL, $8 owner) and the task that creates it at its
     * encoder ($6 kind, $7 payload), in one statement */
    [STMT_JOB_CREATE] = {"job_create",
        "WITH j AS (INSERT INTO jobs (id, backend, input_file, profile, acl, owner) "
        "SELECT $1, $2, $3, $4, $5, $8 WHERE NOT ($7::jsonb->'input' ? 'file_id' AND EXISTS ("
        "SELECT 1 FROM jobs o WHERE o.backend = $2 AND (o.backend_job_id = $3 OR "
        "(o.backend_job_id IS NULL AND o.input_file = $3 AND o.profile IS NOT NULL "
        "AND mediagate_status_rank(o.status) < 2)))) RETURNING id) "
        "INSERT INTO outbox (kind, payload) SELECT $6, $7::jsonb FROM j "
        "RETURNING payload->>'job_id'",
        8, PGRES_TUPLES_OK},
    /* /readyz: the newest migration built in ($1) is applied; and the
     * newest that is (app/schema.c) */
    [STMT_SCHEMA_CURRENT] = {"schema_current",
        "SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1), "
        "(SELECT max(version) FROM schema_migrations)",
        1, PGRES_TUPLES_OK},
    /* /readyz: how many of the functions built in (names $1, digests $2:
     * app/schema.h) the database lacks as they are; prepared at first use,
     * as a schema older than the functions' table (app/migrate.c) lacks it */
    [STMT_SCHEMA_FUNCTIONS] = {"schema_functions",
        "SELECT count(*) FROM unnest($1::text[], $2::text[]) w (name, digest) "
        "WHERE NOT EXISTS (SELECT 1 FROM schema_functions f "
        "WHERE f.name = w.name AND f.digest = w.digest)",
        2, PGRES_TUPLES_OK},
    /* /metrics, at scrape time: tasks by kind and state, and how many
     * queued ones may run now */
    [STMT_METRICS_QUEUE] = {"metrics_queue",
        "SELECT k.name, s.state, count(t.id), "
        "count(t.id) FILTER (WHERE t.state = 'queued' AND t.run_after <= now()) "
        "FROM task_kinds k CROSS JOIN (VALUES ('queued'), ('running'), ('done'), ('dead')) s (state) "
        "LEFT JOIN tasks t ON t.kind = k.name AND t.state = s.state "
        "GROUP BY 1, 2 ORDER BY 1, 2",
        0, PGRES_TUPLES_OK},
    /* webhook deliveries by state; none while webhooks are not installed */
    [STMT_METRICS_WEBHOOKS] = {"metrics_webhooks",
        "SELECT state, n FROM mediagate_metrics_webhooks()",
        0, PGRES_TUPLES_OK},
    /* before a write: the tasks it queues carry the request's id (sql/016) */
    [STMT_SET_REQUEST_ID] = {"set_request_id",
        "SELECT set_config('mediagate.request_id', $1, false)",
        1, PGRES_TUPLES_OK},
    /* serve at start: whether playback signs ($1 't'/'f'); a change queues
     * media.acl for every job on the store (sql/021) */
    [STMT_MEDIA_SIGNING] = {"media_signing",
        "INSERT INTO media_signing (signing) VALUES ($1::boolean) "
        "ON CONFLICT (one) DO UPDATE SET signing = EXCLUDED.signing, updated_at = now() "
        "WHERE media_signing.signing IS DISTINCT FROM EXCLUDED.signing",
        1, PGRES_COMMAND_OK},
    /* POST /uploads target=jwplatform (app/uploads/jwplatform.c): the
     * create recorded before JW is called, JW's answer recorded, or its
     * refusal ($2 'failed') or the video deleted at once ($2 'discarded'). */
    [STMT_JW_UPLOAD_BEGIN] = {"jw_upload_begin",
        "SELECT mediagate_jw_upload_begin($1, $2, $3)",
        3, PGRES_TUPLES_OK},
    [STMT_JW_UPLOAD_CREATED] = {"jw_upload_created",
        "SELECT to_char(e AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
        "FROM mediagate_jw_upload_created($1, $2, $3, $4, $5, $6, $7) e",
        7, PGRES_TUPLES_OK},
    [STMT_JW_UPLOAD_END] = {"jw_upload_end",
        "UPDATE jwplatform_creates SET state = $2, key = $3, updated_at = now() "
        "WHERE id = $1 AND state = 'creating'",
        3, PGRES_COMMAND_OK},
    /* A slot whose file goes straight to a platform (app/uploads/target.h):
     * $1 upload id, $2 job id, $3 owner, $4 name, $5 type, $6 max bytes,
     * $7 seconds to its expiry, $8 ACL, $9 profile snapshot, $10 its kind,
     * $11 the target; answers the expiry. */
    [STMT_UPLOAD_CREATE_PLATFORM] = {"upload_create_platform",
        "SELECT to_char(e AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM "
        "mediagate_upload_create_platform($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) e",
        11, PGRES_TUPLES_OK},
    /* The platform's id of upload $1 ($2: a Mux direct upload's), which is
     * its job's input_file too (as for any Mux direct upload's asset). */
    [STMT_UPLOAD_PLATFORM_ID] = {"upload_platform_id",
        "WITH u AS (UPDATE uploads SET platform_upload_id = $2 WHERE id = $1 RETURNING job_id) "
        "UPDATE jobs SET input_file = $2, updated_at = now() WHERE id IN (SELECT job_id FROM u)",
        2, PGRES_COMMAND_OK},
    /* The platform refused (or did not answer) the upload of job $1: the
     * job is an ERROR with message $2. */
    [STMT_UPLOAD_PLATFORM_FAILED] = {"upload_platform_failed",
        "SELECT mediagate_job_event($1, jsonb_build_object('status', 'ERROR', "
        "'error_message', $2::text))",
        2, PGRES_TUPLES_OK},
    /* The profile on encoder $1 a job of the caller ($2, its owner) gets
     * when it names none: its default (as STMT_PROFILE_PICK's) when that
     * is on $1, else the first on $1 its API key may use (api_keys.profiles'
     * order; a key with any profile, or no key: by name). No row: none. */
    [STMT_PROFILE_FIRST] = {"profile_first",
        "WITH k AS (SELECT profiles FROM api_keys WHERE 'key:' || id = $2) "
        "SELECT p.name FROM profiles p WHERE p.spec->>'encoder' = $1 "
        "AND p.name = ANY(coalesce((SELECT profiles FROM k), ARRAY[p.name])) "
        "ORDER BY p.name = coalesce((SELECT profiles[1] FROM k), 'default') DESC, "
        "array_position((SELECT profiles FROM k), p.name), p.name LIMIT 1",
        2, PGRES_TUPLES_OK},
    /* Upload by URL (handlers/upload_url.c): the slot, its job, profile and
     * fetch task in one transaction (sql/033_upload_url.sql). */
    [STMT_UPLOAD_URL_CREATE] = {"upload_url_create",
        "SELECT mediagate_upload_url_create($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        10, PGRES_TUPLES_OK},
    /* Resumable uploads (handlers/tus.c, sql/032_tus.sql, sql/036_tus_more.sql).
     * An upload as its URL (id $1, token digest $2) opens it: first the
     * columns of a tus_upload (tus_upload_from_row), then its state. */
    [STMT_TUS_GET] = {"tus_get",
        "SELECT " TUS_UPLOAD_COLS ", job_id, tus_metadata, stored_at IS NOT NULL, "
        "expires_at <= now(), "
        "to_char(expires_at AT TIME ZONE 'UTC', 'Dy, DD Mon YYYY HH24:MI:SS \"GMT\"'), "
        "max_bytes, declared_size, tus_terminated_at IS NOT NULL, target, "
        "(SELECT status IN ('COMPLETE', 'ERROR', 'CANCELED') FROM jobs WHERE id = job_id) "
        "FROM uploads WHERE id = $1 AND token_hash = $2",
        2, PGRES_TUPLES_OK},
    /* One writer per upload at a time: a lock of the request thread's
     * session, which PostgreSQL drops with the connection (a crash, a
     * restart), so that none outlives its holder. */
    [STMT_TUS_LOCK] = {"tus_lock",
        "SELECT pg_try_advisory_lock(7632243, hashtext($1))",
        1, PGRES_TUPLES_OK},
    [STMT_TUS_UNLOCK] = {"tus_unlock",
        "SELECT pg_advisory_unlock(7632243, hashtext($1))",
        1, PGRES_TUPLES_OK},
    /* Creation: the length ($3), the client's Upload-Metadata ($4) and the
     * storage's multipart upload ($5, NULL: none); no row when the upload
     * was created already, or the slot may not take it. */
    [STMT_TUS_CREATE] = {"tus_create",
        "UPDATE uploads SET tus_length = $3, tus_metadata = $4, "
        "multipart_id = coalesce($5, multipart_id) "
        "WHERE id = $1 AND token_hash = $2 AND tus_length IS NULL AND stored_at IS NULL "
        "AND tus_terminated_at IS NULL AND expires_at > now() AND $3 <= max_bytes "
        "AND (declared_size IS NULL OR declared_size = $3) RETURNING job_id",
        5, PGRES_TUPLES_OK},
    /* A chunk is durable: the new offset ($3), parts ($4) and tail ($5,
     * $6), if the offset is still the one it was written at ($7). */
    [STMT_TUS_ADVANCE] = {"tus_advance",
        "UPDATE uploads SET tus_offset = $3, tus_parts = $4, tus_tail_key = $5, "
        "tus_tail_bytes = $6 WHERE id = $1 AND token_hash = $2 AND tus_offset = $7 "
        "AND stored_at IS NULL AND tus_terminated_at IS NULL RETURNING tus_offset",
        7, PGRES_TUPLES_OK},
    [STMT_TUS_TERMINATE] = {"tus_terminate",
        "SELECT mediagate_upload_tus_terminate($1, $2, $3)",
        3, PGRES_TUPLES_OK},
    /* GET /media/key/<job>/<n> (handlers/media_key.c): the job's status and
     * ACL, and the key of its encode attempt $2 (hex; NULL: none). */
    [STMT_MEDIA_KEY] = {"media_key",
        "SELECT j.status, j.acl, encode(k.key, 'hex'), j.owner FROM jobs j "
        "LEFT JOIN media_keys k ON k.job_id = j.id AND k.n = $2::integer "
        "WHERE j.id = $1 AND j.deleted_at IS NULL",
        2, PGRES_TUPLES_OK},
    /* GET /media/thumbnail: the thumbnail ($1 job, $2 time in ms, $3 width)
     * as it stands, queued first when new, the job has fewer than $4 and
     * fewer than $5 wait in all; failed, queued again $6 s after it was
     * (sql/functions/mediagate_thumbnail_request.sql) */
    [STMT_THUMBNAIL] = {"thumbnail",
        "SELECT t_status, t_file, t_error, t_queued "
        "FROM mediagate_thumbnail_request($1, $2::int, $3::int, $4::int, $5::int, $6::int)",
        6, PGRES_TUPLES_OK},
    /* A job's captions (handlers/captions.c): $1 job, $2 owner, $3 language;
     * a put's $4 label, $5 WebVTT, $6 most languages, $7 the storage. */
    [STMT_CAPTIONS_PUT] = {"captions_put",
        "SELECT mediagate_captions_put($1, $2, $3, $4, $5, $6::integer, $7)",
        7, PGRES_TUPLES_OK},
    [STMT_CAPTIONS_DELETE] = {"captions_delete",
        "SELECT mediagate_captions_delete($1, $2, $3)",
        3, PGRES_TUPLES_OK},
    /* DELETE /media/jobs/<id>: job $1 deleted by its owner $2 ($3 the
     * create kinds, $4 the encoders that can cancel: app/encoders/);
     * result and the job's status after (sql/functions/mediagate_job_delete.sql) */
    [STMT_JOB_DELETE] = {"job_delete",
        "SELECT result, job_status FROM mediagate_job_delete($1, $2, $3::text[], $4::text[], "
        "'owner')",
        4, PGRES_TUPLES_OK},
    /* GET /media/webhooks: every endpoint, never its secret */
    [STMT_WEBHOOK_ENDPOINTS] = {"webhook_endpoints",
        "SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'url', url, 'events', events, "
        "'enabled', enabled, 'disabled_reason', disabled_reason, "
        "'disabled_at', mediagate_rfc3339(disabled_at), 'created_at', mediagate_rfc3339(created_at), "
        "'deliveries', jsonb_build_object('pending', pending, 'delivered', delivered, "
        "'failed', failed)) ORDER BY id), '[]')::text FROM mediagate_webhook_endpoints()",
        0, PGRES_TUPLES_OK},
    /* GET /media/webhooks/deliveries: $1 endpoint, $2 job, $3 state, $4 the
     * cursor (an id), each NULL for any; $5 rows (a page and one more) */
    [STMT_WEBHOOK_DELIVERIES] = {"webhook_deliveries",
        "SELECT d.id, mediagate_webhook_delivery_json(d)::text "
        "FROM mediagate_webhook_deliveries($1::bigint, $2, $3, $4::bigint, $5::integer) d "
        "ORDER BY d.id DESC",
        5, PGRES_TUPLES_OK},
    [STMT_WEBHOOK_REDELIVER] = {"webhook_redeliver",
        "SELECT result, delivery::text FROM mediagate_webhook_redeliver_json($1::bigint)",
        1, PGRES_TUPLES_OK},
    /* GET /media/events: job $1's history, for its owner $2 or an
     * administrator ($3: also the webhook deliveries' endpoints and
     * errors); no row: no such job (or not theirs) */
    [STMT_JOB_EVENTS] = {"job_events",
        "SELECT mediagate_job_events(id, $3::boolean)::text FROM jobs "
        "WHERE id = $1 AND deleted_at IS NULL AND ($3::boolean OR owner = $2)",
        3, PGRES_TUPLES_OK},
    /* PATCH /media/jobs/<id>, by its owner $2 (mediagate_job_edit) */
    [STMT_JOB_EDIT] = {"job_edit",
        "SELECT result, acl, title FROM mediagate_job_edit($1, $2, $3::boolean, $4, "
        "$5::boolean, $6, $7::boolean, $8::boolean)",
        8, PGRES_TUPLES_OK},
#define SESSION_EXPIRES "to_char(expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
    /* A console session by its token's digest $1 (app/caller.c): the
     * caller it stands for, its expiry, and whether it still holds: ok,
     * expired, signed_out, or key_revoked (its API key's revocation ends it
     * at once). */
    [STMT_SESSION_CALLER] = {"session_caller",
        "SELECT s.owner, s.user_name, " SESSION_EXPIRES ", "
        "CASE WHEN s.revoked_at IS NOT NULL THEN 'signed_out' "
        "WHEN k.revoked_at IS NOT NULL THEN 'key_revoked' "
        "WHEN s.expires_at <= now() THEN 'expired' ELSE 'ok' END "
        "FROM console_sessions s LEFT JOIN api_keys k ON k.id = s.key_id "
        "WHERE s.token_hash = $1",
        1, PGRES_TUPLES_OK},
    /* POST /media/session: a session of the API key $2 (its id; none when
     * the key was revoked meanwhile) with the token digest $1 for $3
     * seconds, ending at a whole second (what is shown is when it stops
     * working); its expiry. The key's live sessions past the newest 19 end
     * (at most 20 live per key). A few rows expired for a day go at the
     * same time, so the table stays small without a task. */
    [STMT_SESSION_CREATE] = {"session_create",
        "WITH purge AS (DELETE FROM console_sessions WHERE id IN ("
        "SELECT id FROM console_sessions WHERE expires_at < now() - interval '1 day' "
        "ORDER BY expires_at LIMIT 20)), "
        "cap AS (UPDATE console_sessions SET revoked_at = now() WHERE id IN ("
        "SELECT id FROM console_sessions WHERE key_id = $2::bigint AND revoked_at IS NULL "
        "AND expires_at > now() ORDER BY id DESC OFFSET 19)) "
        "INSERT INTO console_sessions (token_hash, key_id, owner, user_name, expires_at) "
        "SELECT $1, id, 'key:' || id, name, "
        "date_trunc('second', now()) + make_interval(secs => $3::integer) "
        "FROM api_keys WHERE id = $2::bigint AND revoked_at IS NULL "
        "RETURNING " SESSION_EXPIRES,
        3, PGRES_TUPLES_OK},
    /* DELETE /media/session: the session of digest $1 ends now. */
    [STMT_SESSION_END] = {"session_end",
        "UPDATE console_sessions SET revoked_at = now() "
        "WHERE token_hash = $1 AND revoked_at IS NULL",
        1, PGRES_COMMAND_OK},
};

int db_stmt_params(enum stmt s)
{
    return stmts[s].nparams;
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The connection options, with our defaults placed before the user's
 * string so that anything the string sets wins: keys and vals (in the
 * caller's buffers timeout and options) for PQconnect*Params. */
static void conn_params(const config *cfg, long timeout_ms, const char *appname, const char *url,
                        const char *keys[5], const char *vals[5], char timeout[24], char options[96])
{
    long secs = (timeout_ms + 999) / 1000;
    snprintf(timeout, 24, "%ld", secs < 2 ? 2 : secs);
    snprintf(options, 96, "-c statement_timeout=%ld", timeout_ms);
    const char *k[] = {"connect_timeout", "application_name", "options", "dbname", NULL};
    const char *v[] = {timeout, appname, options, url ? url : cfg->database_url, NULL};
    memcpy(keys, k, sizeof k);
    memcpy(vals, v, sizeof v);
}

/* The replica's circuit breaker: 0 while reads go to the replica; else the
 * monotonic time (ms) until which they go to the primary. */
struct db_breaker {
    _Atomic long long open_until_ms;
};
static struct db_breaker replica_breaker;

bool db_read_usable(db *d)
{
    struct db_breaker *b = d->breaker;
    long long until = b ? atomic_load_explicit(&b->open_until_ms, memory_order_relaxed) : 0;
    if (until == 0)
        return true;
    long long now = now_ms();
    if (now < until)
        return false;
    /* The hold-off is over: one read tries the replica; the others keep to
     * the primary until it is back, or for a probe's time (connect, then
     * one statement) should this read never reach the replica. */
    return atomic_compare_exchange_strong(&b->open_until_ms, &until, now + 2 * d->timeout_ms + 1000);
}

/* The replica did not answer in time, or could not be reached: every read
 * goes to the primary for the hold-off. */
static void breaker_trip(db *d)
{
    long hold = d->cfg->db_read_holdoff_ms;
    atomic_store(&d->breaker->open_until_ms, now_ms() + hold);
    metrics_replica_trip();
    log_warn("read replica unreachable or too slow (deadline %ld ms); reads go to the primary "
             "for %ld ms, then one read tries it again",
             d->timeout_ms, hold);
}

/* The replica answered: reads go to it again. */
static void breaker_close(db *d)
{
    if (atomic_load_explicit(&d->breaker->open_until_ms, memory_order_relaxed) == 0)
        return;
    if (atomic_exchange(&d->breaker->open_until_ms, 0) != 0)
        log_info("read replica answers again; reads go to it");
}

void db_init_table(db *d, const config *cfg, const stmt_def *defs, int n, const char *appname)
{
    memset(d, 0, sizeof *d);
    d->cfg = cfg;
    d->defs = defs;
    d->ndefs = n;
    d->appname = appname;
    d->timeout_ms = cfg->db_timeout_ms;
}

void db_init(db *d, const config *cfg)
{
    db_init_table(d, cfg, stmts, STMT__COUNT, "mediagate");
    BIT_SET(d->lazy_stmts, STMT_SCHEMA_FUNCTIONS);
}

void db_init_read(db *d, const config *cfg)
{
    db_init_table(d, cfg, stmts, STMT__COUNT, "mediagate-read");
    BIT_SET(d->lazy_stmts, STMT_SCHEMA_FUNCTIONS);
    d->url = cfg->database_read_url;
    d->timeout_ms = cfg->db_read_timeout_ms;
    d->breaker = &replica_breaker;
}

void db_close(db *d)
{
    PQfinish(d->conn);
    d->conn = NULL;
}

/* Keeps a failure's message (without its newline) and SQLSTATE in d for
 * a caller that reports it (d->quiet). */
static void note_error(db *d, const char *sqlstate, const char *msg)
{
    snprintf(d->error, sizeof d->error, "%s", msg && *msg ? msg : "unexpected answer from the database");
    size_t n = strlen(d->error);
    while (n > 0 && d->error[n - 1] == '\n')
        d->error[--n] = '\0';
    snprintf(d->sqlstate, sizeof d->sqlstate, "%s", sqlstate ? sqlstate : "");
}

/* Drops the connection and holds off reconnecting for a moment, so a
 * database outage costs one failed connect per thread per interval. */
static void drop(db *d)
{
    PQfinish(d->conn);
    d->conn = NULL;
    d->retry_at_ms = now_ms() + 100;
}

/* Waits until c's socket has what events asks for, or the deadline.
 * Returns 1 ready, 0 timed out, -1 failed. */
static int wait_socket(PGconn *c, short events, long long deadline)
{
    for (;;) {
        long long left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p = {.fd = PQsocket(c), .events = events};
        if (p.fd < 0)
            return -1;
        int pr = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (pr < 0 && errno == EINTR)
            continue;
        return pr < 0 ? -1 : pr;
    }
}

/* Opens d's connection without blocking past the deadline: a server that
 * accepts the connection and never answers (a frozen one) costs no more
 * than that. Returns the PGconn, or NULL with *timed_out set when the
 * deadline passed. */
static PGconn *open_conn(db *d, long long deadline, bool *timed_out)
{
    const char *keys[5], *vals[5];
    char timeout[24], options[96];
    conn_params(d->cfg, d->timeout_ms, d->appname, d->url, keys, vals, timeout, options);
    PGconn *c = PQconnectStartParams(keys, vals, 1);
    PostgresPollingStatusType st = PGRES_POLLING_WRITING;
    *timed_out = false;
    while (c && PQstatus(c) != CONNECTION_BAD && st != PGRES_POLLING_OK &&
           st != PGRES_POLLING_FAILED) {
        int w = wait_socket(c, st == PGRES_POLLING_READING ? POLLIN : POLLOUT, deadline);
        if (w == 0) {
            *timed_out = true;
            PQfinish(c);
            return NULL;
        }
        st = w < 0 ? PGRES_POLLING_FAILED : PQconnectPoll(c);
    }
    return c;
}

/* Collects the result of what was just sent on d's connection, until the
 * deadline. Returns 0 with *res (status not yet checked), -1 when the
 * connection failed (retryable), or 503 on timeout (the connection is then
 * dropped). */
static int collect(db *d, const char *what, long long deadline, PGresult **res)
{
    PGconn *c = d->conn;
    PGresult *first = NULL;
    *res = NULL;
    for (;;) {
        while (!PQisBusy(c)) {
            PGresult *x = PQgetResult(c);
            if (!x) {
                if (!first || PQstatus(c) == CONNECTION_BAD) {
                    PQclear(first);
                    return -1;
                }
                *res = first;
                return 0;
            }
            if (PQresultStatus(x) == PGRES_COPY_IN) {
                PQclear(first);
                *res = x;
                return 0;
            }
            /* A script's later statement failed: that is its answer. */
            if (first && PQresultStatus(x) == PGRES_FATAL_ERROR &&
                PQresultStatus(first) != PGRES_FATAL_ERROR) {
                PQclear(first);
                first = NULL;
            }
            if (!first)
                first = x;
            else
                PQclear(x);
        }
        int w = wait_socket(c, POLLIN, deadline);
        if (w == 0)
            break;
        if (w < 0 || !PQconsumeInput(c)) {
            PQclear(first);
            return -1;
        }
    }
    PQclear(first);
    DB_LOG(d, "warn", "statement %s passed its %ld ms deadline%s; dropping the connection", what,
           d->timeout_ms, d->breaker ? " on the read replica" : "");
    note_error(d, "57014", "the statement passed its deadline (MEDIAGATE_DB_TIMEOUT_MS)");
    drop(d);
    return 503;
}

/* Prepares statement i of d's table under d's deadline. Returns 0, -1
 * when the connection failed (retryable), 503 when it passed the deadline
 * (the connection is then dropped), or the status its refusal maps to. */
static int prepare(db *d, int i)
{
    PGresult *res = NULL;
    if (!PQsendPrepare(d->conn, d->defs[i].name, d->defs[i].sql, d->defs[i].nparams, NULL))
        return -1;
    int ret = collect(d, d->defs[i].name, now_ms() + d->timeout_ms, &res);
    if (ret != 0)
        return ret == 503 ? 503 : -1;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        DB_LOG(d, "error", "prepare %s failed: %s", d->defs[i].name, PQerrorMessage(d->conn));
        note_error(d, st, PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        ret = PQstatus(d->conn) == CONNECTION_OK ? db_sqlstate_status(st) : 503;
    } else if (i < DB_MAX_STMTS) {
        BIT_SET(d->prepared, i);
    }
    PQclear(res);
    return ret;
}

/* Connects and prepares every statement not left for its first use, each
 * step under d's deadline. Returns 0, or 503 (with *unreachable set when
 * the server did not answer in time or could not be reached), or the
 * status a refused statement maps to. */
static int ensure_conn(db *d, bool *unreachable)
{
    int ret = 503;
    bool timed_out = false;
    if (d->conn && PQstatus(d->conn) == CONNECTION_OK)
        return 0;
    if (d->conn)
        drop(d);
    if (d->session && d->connects > 0) {
        note_error(d, "08006", "the connection to the database was lost");
        return 503;
    }
    if (now_ms() < d->retry_at_ms)
        return 503;
    /* A connect waits at least 2 s for the primary, as libpq's
     * connect_timeout does; the replica's wait is its own deadline. */
    long wait = d->breaker || d->timeout_ms >= 2000 ? d->timeout_ms : 2000;
    d->conn = open_conn(d, now_ms() + wait, &timed_out);
    if (!d->conn || PQstatus(d->conn) != CONNECTION_OK) {
        *unreachable = true;
        if (timed_out) {
            DB_LOG(d, "warn", "database connect passed its %ld ms deadline%s", wait,
                   d->breaker ? " (read replica)" : "");
            note_error(d, "08001", "the database did not answer the connect in time");
        } else {
            DB_LOG(d, "warn", "database connect failed: %s",
                   d->conn ? PQerrorMessage(d->conn) : "out of memory");
            note_error(d, "08001", d->conn ? PQerrorMessage(d->conn) : "out of memory");
        }
        goto out;
    }
    memset(d->prepared, 0, sizeof d->prepared);
    for (int i = 0; i < d->ndefs; i++) {
        if (d->lazy || (i < DB_MAX_STMTS && BIT_HAS(d->lazy_stmts, i)))
            continue;
        int st = prepare(d, i);
        if (st == -1 || !d->conn)
            *unreachable = true;
        if (st != 0) {
            ret = st == -1 ? 503 : st;
            goto out;
        }
    }
    d->connects++;
    if (d->connects > 1) {
        DB_LOG(d, "info", "database reconnected (connection #%lu)", d->connects);
        metrics_db_reconnect();
    }
    ret = 0;
out:
    if (ret != 0 && d->conn)
        drop(d);
    else if (ret != 0)
        d->retry_at_ms = now_ms() + 100;
    return ret;
}

int db_sqlstate_status(const char *st)
{
    if (!st || strlen(st) != 5)
        return 503;
    /* Transient: the connection, resources, a shutdown or a cancel, a
     * serialization failure or deadlock, a read-only server (a failover to
     * a standby), a lock not granted in time, an I/O error. A retry may
     * succeed, so the answer asks for one. */
    if (strncmp(st, "08", 2) == 0 || strncmp(st, "53", 2) == 0 ||
        strncmp(st, "57P", 3) == 0 || strcmp(st, "57014") == 0 ||
        strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 || strcmp(st, "25006") == 0 ||
        strcmp(st, "55P03") == 0 || strcmp(st, "55006") == 0 || strncmp(st, "58", 2) == 0)
        return 503;
    if (strcmp(st, "23505") == 0)
        return 409;
    if (strcmp(st, "P0404") == 0) /* raised by mediagate_notify: unknown job */
        return 404;
    if (strncmp(st, "22", 2) == 0 || strncmp(st, "23", 2) == 0)
        return 400;
    return 500;
}

/* Sends the statement and waits for its result until d's deadline.
 * Returns 0 with *res (status not yet checked), -1 when the connection
 * failed (retryable), or 503 on timeout. */
static int run_once(db *d, int s, int n, const char *const *vals, const int *lens,
                    const int *fmts, int format, PGresult **res)
{
    *res = NULL;
    if (s < 0 || s >= d->ndefs || s >= DB_MAX_STMTS)
        return 500;
    if (!BIT_HAS(d->prepared, s)) {
        int st = prepare(d, s);
        if (st != 0)
            return st;
    }
    long long deadline = d->unbounded ? LLONG_MAX : now_ms() + d->timeout_ms;
    if (!PQsendQueryPrepared(d->conn, d->defs[s].name, n, vals, lens, fmts, format))
        return -1;
    return collect(d, d->defs[s].name, deadline, res);
}

int db_exec(db *d, int s, int n, const char *const *vals, PGresult **res)
{
    return db_exec_params(d, s, n, vals, NULL, NULL, res);
}

int db_exec_params(db *d, int s, int n, const char *const *vals, const int *lens,
                   const int *fmts, PGresult **res)
{
    return db_exec_format(d, s, n, vals, lens, fmts, 0, res);
}

int db_exec_format(db *d, int s, int n, const char *const *vals, const int *lens,
                   const int *fmts, int format, PGresult **res)
{
    int ret = 503;
    bool unreachable = false;
    *res = NULL;
    d->error[0] = d->sqlstate[0] = '\0';
    for (int attempt = 0; attempt < 2; attempt++) {
        ret = ensure_conn(d, &unreachable);
        if (ret != 0)
            break;
        /* Never retried inside a transaction, nor on a session's connection. */
        bool again = !d->session && PQtransactionStatus(d->conn) == PQTRANS_IDLE;
        ret = run_once(d, s, n, vals, lens, fmts, format, res);
        if (ret == -1) {
            DB_LOG(d, "warn", "database connection lost: %s", PQerrorMessage(d->conn));
            note_error(d, "08006", PQerrorMessage(d->conn));
            drop(d);
            d->retry_at_ms = 0; /* one immediate retry on a fresh connection */
            ret = 503;
            unreachable = true;
            if (!again)
                break;
            continue;
        }
        unreachable = ret == 503;
        break;
    }
    if (d->breaker && ret != 0 && unreachable)
        breaker_trip(d);
    if (ret != 0)
        return ret;
    if (d->breaker)
        breaker_close(d);
    if (PQresultStatus(*res) == d->defs[s].expect)
        return 0;
    const char *st = PQresultErrorField(*res, PG_DIAG_SQLSTATE);
    ret = db_sqlstate_status(st);
    DB_LOG(d, "warn", "statement %s failed (%s): %s", d->defs[s].name, st ? st : "-",
           PQresultErrorMessage(*res));
    note_error(d, st, PQresultErrorField(*res, PG_DIAG_MESSAGE_PRIMARY));
    /* A read-only server: after a failover this connection points at a
     * standby; a new one (target_session_attrs=read-write) finds the
     * primary. */
    bool read_only = st && strcmp(st, "25006") == 0;
    PQclear(*res); /* st was in it */
    *res = NULL;
    if (PQstatus(d->conn) != CONNECTION_OK || read_only)
        drop(d);
    return ret;
}

int db_script(db *d, const char *sql)
{
    PGresult *res = NULL;
    bool unreachable = false;
    d->error[0] = d->sqlstate[0] = '\0';
    int ret = ensure_conn(d, &unreachable);
    if (ret != 0)
        return ret;
    if (!PQsendQuery(d->conn, sql)) {
        note_error(d, "08006", PQerrorMessage(d->conn));
        return 503;
    }
    ret = collect(d, "script", d->unbounded ? LLONG_MAX : now_ms() + d->timeout_ms, &res);
    if (ret == -1) {
        note_error(d, "08006", PQerrorMessage(d->conn));
        ret = 503;
    } else if (ret == 0 && PQresultStatus(res) != PGRES_COMMAND_OK &&
               PQresultStatus(res) != PGRES_TUPLES_OK) {
        const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        note_error(d, st, PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        ret = db_sqlstate_status(st);
    }
    PQclear(res);
    return ret;
}

int db_copy_begin(db *d, int s, int n, const char *const *vals)
{
    PGresult *res = NULL;
    int ret = db_exec(d, s, n, vals, &res);
    PQclear(res);
    return ret;
}

int db_copy_end(db *d, const char *abort)
{
    PGresult *res = NULL;
    if (PQputCopyEnd(d->conn, abort) != 1) {
        note_error(d, "08006", PQerrorMessage(d->conn));
        return 503;
    }
    int ret = collect(d, "copy", d->unbounded ? LLONG_MAX : now_ms() + d->timeout_ms, &res);
    if (ret == -1) {
        note_error(d, "08006", PQerrorMessage(d->conn));
        ret = 503;
    } else if (ret == 0 && PQresultStatus(res) != PGRES_COMMAND_OK) {
        const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);
        note_error(d, st, PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY));
        ret = db_sqlstate_status(st);
    }
    PQclear(res);
    return ret;
}
