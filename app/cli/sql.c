/* The operator commands' statements (see sql.h). */
#include "cli/sql.h"

#include <stdio.h>
#include <string.h>

#define UTC_TIME(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS')"

/* After a call of mediagate_task_retry or _cancel on $1: the task's state,
 * its job's id and the job's status. Subqueries of the statement read its
 * snapshot, so they see all three as they were before the call. */
#define TASK_BEFORE                                                                      \
    "(SELECT state FROM tasks WHERE id = $1::bigint), "                                  \
    "(SELECT payload->>'job_id' FROM tasks WHERE id = $1::bigint), "                     \
    "(SELECT j.status FROM tasks t JOIN jobs j ON j.id = t.payload->>'job_id' "          \
    "WHERE t.id = $1::bigint)"

const stmt_def cli_stmts[C__COUNT] = {
    /* jobs list: the newest 200, and whether each has an error */
    [C_JOBS_LIST] = {"c_jobs_list",
        "SELECT id, backend, status, progress_rate, " UTC_TIME("updated_at") ", input_file, "
        "coalesce(error_code::text, '-'), coalesce(error_message, ''), "
        "error_code IS NOT NULL OR error_message IS NOT NULL "
        "FROM jobs ORDER BY created_at DESC, id DESC LIMIT 200",
        0, PGRES_TUPLES_OK},
    [C_JOBS_SHOW] = {"c_jobs_show",
        "SELECT * FROM jobs WHERE id = $1",
        1, PGRES_TUPLES_OK},
    /* $2 NULL: WORLD */
    /* jobs acl: a JW Platform video's change is written back by a
     * jwplatform.update task queued here ($3: MEDIAGATE_JWPLATFORM_SYNC_ITEMS) */
    [C_JOBS_ACL] = {"c_jobs_acl",
        "SELECT $1::text, storage, mediagate_media_unsigned(), jw "
        "FROM mediagate_job_edit($1, '*', true, $2, false, NULL, $3::boolean, true)",
        3, PGRES_TUPLES_OK},
    /* jobs cancel: $2 the create kinds, $3 the encoders that can cancel
     * (app/encoders/); the job's backend and backend id as they were */
    [C_JOBS_CANCEL] = {"c_jobs_cancel",
        "SELECT mediagate_job_cancel($1, $2::text[], $3::text[]), "
        "(SELECT backend FROM jobs WHERE id = $1), (SELECT backend_job_id FROM jobs WHERE id = $1)",
        3, PGRES_TUPLES_OK},
    /* tasks list: the newest 200 ($1 'dead': only dead ones); "when" is
     * the time that matters for the task's state */
    [C_TASKS_LIST] = {"c_tasks_list",
        "SELECT t.id, t.kind, t.state, t.attempts || coalesce('/' || k.max_attempts, ''), "
        "coalesce(t.payload->>'job_id', '-'), "
        "coalesce(to_char(CASE t.state WHEN 'done' THEN t.done_at WHEN 'dead' THEN t.failed_at "
        "WHEN 'running' THEN coalesce(t.started_at, t.run_after) ELSE t.run_after END "
        "AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), '-'), coalesce(t.last_error, '') "
        "FROM tasks t LEFT JOIN task_kinds k ON k.name = t.kind "
        "WHERE $1::text IS NULL OR t.state = $1::text ORDER BY t.id DESC LIMIT 200",
        1, PGRES_TUPLES_OK},
    [C_TASKS_SHOW] = {"c_tasks_show",
        "SELECT t.*, k.max_attempts, k.timeout_s FROM tasks t "
        "LEFT JOIN task_kinds k ON k.name = t.kind WHERE t.id = $1::bigint",
        1, PGRES_TUPLES_OK},
    [C_TASKS_RETRY] = {"c_tasks_retry",
        "SELECT mediagate_task_retry($1::bigint), " TASK_BEFORE,
        1, PGRES_TUPLES_OK},
    [C_TASKS_CANCEL] = {"c_tasks_cancel",
        "SELECT mediagate_task_cancel($1::bigint), " TASK_BEFORE,
        1, PGRES_TUPLES_OK},
    /* notifications list: the newest 200 ($1 'all') or failed ones */
    [C_NOTIF_LIST] = {"c_notif_list",
        "SELECT id, backend, " UTC_TIME("received_at") ", "
        "result, coalesce(job_id, '-'), event_id, coalesce(error, '') FROM notifications "
        "WHERE $1 = 'all' OR result = 'failed' ORDER BY id DESC LIMIT 200",
        1, PGRES_TUPLES_OK},
    /* in binary: the body as the bytes received, text columns as they are */
    [C_NOTIF_FETCH] = {"c_notif_fetch",
        "SELECT backend, body, event_id, result, coalesce(error, ''), "
        "coalesce(job_id, ''), received_at, replays "
        "FROM notifications WHERE id = $1::bigint",
        1, PGRES_TUPLES_OK},
    [C_NOTIF_UNPARSED] = {"c_notif_unparsed",
        "UPDATE notifications SET error = $2, replays = replays + 1 WHERE id = $1::bigint",
        2, PGRES_COMMAND_OK},
    [C_NOTIF_REPLAY] = {"c_notif_replay",
        "SELECT mediagate_replay($1::bigint, $2::jsonb)",
        2, PGRES_TUPLES_OK},
    /* $2: the key's SHA-256, in binary */
    /* $4: the profiles it may use ({a,b}), NULL: any */
    [C_APIKEY_CREATE] = {"c_apikey_create",
        "INSERT INTO api_keys (name, key_hash, key_prefix, profiles, targets) "
        "VALUES ($1, $2, $3, $4::text[], $5::text[]) RETURNING id",
        5, PGRES_TUPLES_OK},
    [C_APIKEY_LIST] = {"c_apikey_list",
        "SELECT id, name, key_prefix, " UTC_TIME("created_at") ", "
        "coalesce(" UTC_TIME("revoked_at") ", '-'), "
        "coalesce(array_to_string(profiles, ','), 'any'), "
        "coalesce(array_to_string(targets, ','), 'any') FROM api_keys ORDER BY id",
        0, PGRES_TUPLES_OK},
    /* of the profile names $1 ({a,b}), those that name no profile */
    [C_PROFILES_MISSING] = {"c_profiles_missing",
        "SELECT string_agg(n, ', ') FROM unnest($1::text[]) n "
        "WHERE NOT EXISTS (SELECT 1 FROM profiles p WHERE p.name = n)",
        1, PGRES_TUPLES_OK},
    /* profiles list: name, encoder, shipped, packaging and the renditions
     * in short (720p@2880k, 1280x720, w640, /h265) */
    [C_PROFILES_LIST] = {"c_profiles_list",
        "SELECT name, encoder, CASE WHEN shipped THEN 'yes' ELSE 'no' END, "
        "coalesce((SELECT string_agg(x, ',') FROM jsonb_array_elements_text(spec->'packaging') x), "
        "'hls'), (SELECT string_agg(CASE WHEN r ? 'width' AND r ? 'height' "
        "THEN (r->>'width') || 'x' || (r->>'height') WHEN r ? 'height' THEN (r->>'height') || 'p' "
        "ELSE 'w' || (r->>'width') END "
        "|| CASE WHEN coalesce(r->>'video_kbps', '0') <> '0' THEN '@' || (r->>'video_kbps') || 'k' "
        "ELSE '' END || CASE WHEN r->>'codec' = 'h265' THEN '/h265' ELSE '' END, ' ' ORDER BY o) "
        "FROM jsonb_array_elements(spec->'renditions') WITH ORDINALITY e (r, o)) "
        "FROM profiles ORDER BY name",
        0, PGRES_TUPLES_OK},
    [C_PROFILE_SHOW] = {"c_profile_show",
        "SELECT spec::text FROM profiles WHERE name = $1",
        1, PGRES_TUPLES_OK},
    /* one row, true when it is new; none when $1 is a shipped profile */
    [C_PROFILE_ADD] = {"c_profile_add",
        "INSERT INTO profiles (name, encoder, spec) VALUES ($1, $2, $3::jsonb) "
        "ON CONFLICT (name) DO UPDATE SET encoder = EXCLUDED.encoder, spec = EXCLUDED.spec, "
        "updated_at = now() WHERE NOT profiles.shipped RETURNING xmax = 0",
        3, PGRES_TUPLES_OK},
    /* how many were removed (0 or 1), whether $1 is a shipped one, and the
     * live API keys limited to it ("name (id N), ...", NULL for none): a
     * profile such a key lists is not removed */
    [C_PROFILE_REMOVE] = {"c_profile_remove",
        "WITH k AS (SELECT string_agg(name || ' (id ' || id || ')', ', ' ORDER BY id) AS keys "
        "FROM api_keys WHERE revoked_at IS NULL AND $1 = ANY(profiles)), "
        "d AS (DELETE FROM profiles WHERE name = $1 AND NOT shipped "
        "AND (SELECT keys FROM k) IS NULL RETURNING 1) "
        "SELECT (SELECT count(*) FROM d), "
        "coalesce((SELECT shipped FROM profiles WHERE name = $1), false), "
        "CASE WHEN EXISTS (SELECT 1 FROM profiles WHERE name = $1) THEN (SELECT keys FROM k) END",
        1, PGRES_TUPLES_OK},
    /* migrate: a shipped profile as this version makes it; a row when it
     * was written (new or changed) */
    [C_PROFILE_SHIP] = {"c_profile_ship",
        "INSERT INTO profiles (name, encoder, spec, shipped) VALUES ($1, $2, $3::jsonb, true) "
        "ON CONFLICT (name) DO UPDATE SET encoder = EXCLUDED.encoder, spec = EXCLUDED.spec, "
        "shipped = true, updated_at = now() WHERE profiles.spec IS DISTINCT FROM EXCLUDED.spec "
        "OR profiles.encoder IS DISTINCT FROM EXCLUDED.encoder OR NOT profiles.shipped "
        "RETURNING name",
        3, PGRES_TUPLES_OK},
    /* what it ended: the key, its streams, its upload slots
     * (sql/functions/mediagate_apikey_revoke.sql); $2, $3: what counts as
     * a stopped stream's recording */
    [C_APIKEY_REVOKE] = {"c_apikey_revoke",
        "SELECT what, id, coalesce(job_id, '') "
        "FROM mediagate_apikey_revoke($1::bigint, $2::boolean, $3::boolean)",
        3, PGRES_TUPLES_OK},
    /* key $1's live console sessions (a row with NULLs: none; no row: no
     * such key) */
    [C_APIKEY_SESSIONS] = {"c_apikey_sessions",
        "SELECT s.id, " UTC_TIME("s.created_at") ", " UTC_TIME("s.expires_at") " "
        "FROM api_keys k LEFT JOIN console_sessions s ON s.key_id = k.id "
        "AND s.revoked_at IS NULL AND s.expires_at > now() WHERE k.id = $1::bigint ORDER BY s.id",
        1, PGRES_TUPLES_OK},
    /* ends key $1's live console sessions: how many (no row: no such key) */
    [C_APIKEY_SIGNOUT] = {"c_apikey_signout",
        "WITH k AS (SELECT id FROM api_keys WHERE id = $1::bigint), "
        "e AS (UPDATE console_sessions SET revoked_at = now() WHERE key_id IN (SELECT id FROM k) "
        "AND revoked_at IS NULL AND expires_at > now() RETURNING 1) "
        "SELECT (SELECT count(*) FROM e) FROM k",
        1, PGRES_TUPLES_OK},
    /* $3 NULL: every event */
    [C_WEBHOOK_ADD] = {"c_webhook_add",
        "INSERT INTO webhook_endpoints (url, secret, events) "
        "VALUES ($1, $2, $3::text[]) RETURNING id",
        3, PGRES_TUPLES_OK},
    /* every endpoint with its deliveries by state; never the secret */
    [C_WEBHOOK_LIST] = {"c_webhook_list",
        "SELECT id, CASE WHEN enabled THEN 'enabled' ELSE 'disabled' END, pending, delivered, "
        "failed, coalesce(array_to_string(events, ','), 'all'), url, "
        "coalesce(disabled_reason || ' at ' || " UTC_TIME("disabled_at") ", '') "
        "FROM mediagate_webhook_endpoints() ORDER BY id",
        0, PGRES_TUPLES_OK},
    [C_WEBHOOK_REMOVE] = {"c_webhook_remove",
        "DELETE FROM webhook_endpoints WHERE id = $1::bigint",
        1, PGRES_COMMAND_OK},
    /* the newest 200 ($1 NULL) or endpoint $1's */
    [C_WEBHOOK_DELIVERIES] = {"c_webhook_deliveries",
        "SELECT id, endpoint_id, event_type, state, attempts, "
        "coalesce(last_status::text, '-'), " UTC_TIME("created_at") ", msg_id, "
        "coalesce(last_error, ''), coalesce(CASE WHEN state = 'pending' THEN "
        UTC_TIME("next_attempt_at") " END, '') "
        "FROM mediagate_webhook_deliveries($1::bigint, NULL, NULL, NULL, 200) ORDER BY id DESC",
        1, PGRES_TUPLES_OK},
    [C_WEBHOOK_REDELIVER] = {"c_webhook_redeliver",
        "SELECT mediagate_webhook_redeliver($1::bigint)",
        1, PGRES_TUPLES_OK},
    /* storage migrate: one run at a time, held by the session */
    [C_STORAGE_LOCK] = {"c_storage_lock",
        "SELECT pg_try_advisory_lock(hashtext('mediagate storage migrate'))",
        0, PGRES_TUPLES_OK},
    /* completed jobs whose outputs are on local disk, oldest first, with
     * their ACL and the signing record (sql/021) */
    [C_STORAGE_LOCAL_JOBS] = {"c_storage_local_jobs",
        "SELECT id, acl, mediagate_media_unsigned() FROM jobs "
        "WHERE backend = 'local' AND status = 'COMPLETE' AND coalesce(storage, 'local') = 'local' "
        "ORDER BY created_at, id",
        0, PGRES_TUPLES_OK},
    /* $2: the output_path under the bucket's public URL; only a job still
     * local and complete */
    [C_STORAGE_REPOINT] = {"c_storage_repoint",
        "UPDATE jobs SET storage = 's3', output_path = $2, updated_at = now() "
        "WHERE id = $1 AND backend = 'local' AND status = 'COMPLETE' "
        "AND coalesce(storage, 'local') = 'local' RETURNING id",
        2, PGRES_TUPLES_OK},
    [C_BEGIN] = {"c_begin", "BEGIN", 0, PGRES_COMMAND_OK},
    [C_COMMIT] = {"c_commit", "COMMIT", 0, PGRES_COMMAND_OK},
    [C_ROLLBACK] = {"c_rollback", "ROLLBACK", 0, PGRES_COMMAND_OK},
    [C_QUIET] = {"c_quiet",
        "SELECT set_config('client_min_messages', 'warning', false)",
        0, PGRES_TUPLES_OK},
    /* one migrate at a time; held until the transaction ends */
    [C_LOCK] = {"c_lock",
        "SELECT pg_advisory_xact_lock(hashtext('mediagate migrate'))",
        0, PGRES_TUPLES_OK},
    [C_MIGRATIONS_TABLE] = {"c_migrations_table",
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version text PRIMARY KEY,"
        " checksum text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())",
        0, PGRES_COMMAND_OK},
    /* the functions (sql/functions/) as last applied */
    [C_FUNCTIONS_TABLE] = {"c_functions_table",
        "CREATE TABLE IF NOT EXISTS schema_functions ("
        " name text PRIMARY KEY,"
        " digest text NOT NULL,"
        " applied_at timestamptz NOT NULL DEFAULT now())",
        0, PGRES_COMMAND_OK},
    [C_MIGRATION_SUM] = {"c_migration_sum",
        "SELECT checksum FROM schema_migrations WHERE version = $1",
        1, PGRES_TUPLES_OK},
    [C_MIGRATION_DONE] = {"c_migration_done",
        "INSERT INTO schema_migrations (version, checksum) VALUES ($1, $2)",
        2, PGRES_COMMAND_OK},
    /* a migration whose functions moved out: its record names its text now */
    [C_MIGRATION_RESUM] = {"c_migration_resum",
        "UPDATE schema_migrations SET checksum = $2 WHERE version = $1",
        2, PGRES_COMMAND_OK},
    /* the jobs made before sql/044: a batch named and given their readers
     * (its own transaction); t while jobs may remain */
    [C_JOBS_BACKFILL] = {"c_jobs_backfill",
        "SELECT mediagate_jobs_backfill(1000)",
        0, PGRES_TUPLES_OK},
    [C_FUNCTION_DIGEST] = {"c_function_digest",
        "SELECT digest FROM schema_functions WHERE name = $1",
        1, PGRES_TUPLES_OK},
    [C_FUNCTION_DONE] = {"c_function_done",
        "INSERT INTO schema_functions (name, digest) VALUES ($1, $2) "
        "ON CONFLICT (name) DO UPDATE SET digest = EXCLUDED.digest, applied_at = now()",
        2, PGRES_COMMAND_OK},
    /* a function may name one not applied yet (as pg_dump's output does) */
    [C_NO_BODY_CHECK] = {"c_no_body_check",
        "SELECT set_config('check_function_bodies', 'off', true)",
        0, PGRES_TUPLES_OK},
    /* jobs title: as jobs acl */
    [C_JOBS_TITLE] = {"c_jobs_title",
        "SELECT $1::text, jw FROM mediagate_job_edit($1, '*', false, NULL, true, $2, $3::boolean, true)",
        3, PGRES_TUPLES_OK},
    /* jobs title / jobs acl: whether job $1 is a JW Platform video's (its
     * changes must fit the write-back); no row: no such job */
    [C_JOB_BACKEND] = {"c_job_backend",
        "SELECT backend = 'jwplatform' FROM jobs WHERE id = $1",
        1, PGRES_TUPLES_OK},
};

void cli_db_init(db *d, const struct config *cfg)
{
    db_init_table(d, cfg, cli_stmts, C__COUNT, "mediagate-admin");
    d->lazy = true;
    d->quiet = true;
}

int cli_exec(db *d, const char *what, int s, int n, const char *const *vals, PGresult **res)
{
    if (db_exec(d, s, n, vals, res) == 0)
        return 0;
    cli_db_error(d, what);
    return 1;
}

PGresult *cli_query(const struct config *cfg, const char *what, int s, int n,
                    const char *const *vals)
{
    db d;
    PGresult *res = NULL;
    cli_db_init(&d, cfg);
    cli_exec(&d, what, s, n, vals, &res);
    db_close(&d);
    return res;
}

void cli_db_error(const db *d, const char *what)
{
    fprintf(stderr, "mediagate: %s: %s\n", what,
            *d->error ? d->error : "unexpected answer from the database");
    /* undefined_table, undefined_function, undefined_column */
    if (strcmp(d->sqlstate, "42P01") == 0 || strcmp(d->sqlstate, "42883") == 0 ||
        strcmp(d->sqlstate, "42703") == 0)
        fprintf(stderr, "mediagate: the database lacks a migration: run 'mediagate migrate'\n");
}
