/* The worker's statements (see wsql.h); the plpgsql they call is in
 * sql/006_queue.sql. */
#include "worker/wsql.h"

#include "uploads/tus.h"

const stmt_def worker_stmts[W__COUNT] = {
    /* Claims the next ready task of the kinds this worker serves, under its
     * kind's cap on attempts, skipping the tasks of an owner who runs $4 of
     * them already (sql/017); attempts (the new count) is the lease's
     * fencing token. */
    [W_CLAIM] = {"w_claim",
        "UPDATE outbox SET locked_by = $1, locked_until = now() + make_interval(secs => $2), "
        "attempts = attempts + 1, started_at = now() "
        "WHERE id = (SELECT o.id FROM outbox o JOIN task_kinds k ON k.name = o.kind "
        "WHERE o.kind = ANY ($3::text[]) AND o.done_at IS NULL AND o.failed_at IS NULL "
        "AND o.run_after <= now() AND (o.locked_until IS NULL OR o.locked_until < now()) "
        "AND o.attempts < k.max_attempts "
        "AND (o.owner IS NULL OR mediagate_owner_may_claim(o.owner, $4::integer)) "
        "ORDER BY o.run_after, o.id FOR UPDATE OF o SKIP LOCKED LIMIT 1) "
        "RETURNING id, kind, payload::text, attempts",
        4, PGRES_TUPLES_OK},
    [W_BEAT] = {"w_beat",
        "SELECT mediagate_task_beat($1, $2, $3, $4, $5)",
        5, PGRES_TUPLES_OK},
    [W_FINISH] = {"w_finish",
        "SELECT mediagate_task_finish($1, $2, $3, $4, $5, $6, $7::jsonb)",
        7, PGRES_TUPLES_OK},
    /* TASK_SNOOZE: the attempt ends uncounted, to run again $4 s on (sql/017). */
    [W_SNOOZE] = {"w_snooze",
        "SELECT coalesce(mediagate_task_snooze($1, $2, $3, $4, $5), false)",
        5, PGRES_TUPLES_OK},
    [W_REAP] = {"w_reap",
        "SELECT kind, job_id FROM mediagate_task_reap()",
        0, PGRES_TUPLES_OK},
    [W_KIND_SYNC] = {"w_kind_sync",
        "INSERT INTO task_kinds (name, max_attempts, timeout_s) VALUES ($1, $2, $3) "
        "ON CONFLICT (name) DO UPDATE SET max_attempts = EXCLUDED.max_attempts, "
        "timeout_s = EXCLUDED.timeout_s",
        3, PGRES_COMMAND_OK},
    [W_SETTLE] = {"w_settle",
        "SELECT mediagate_stream_settle($1, $2, $3)",
        3, PGRES_TUPLES_OK},
    /* A stream's recordings are in the store: its VOD encode ($3), queued
     * while attempt $2 of archive task $1 is still running, once: the task
     * keeps "queued" in its payload (a later attempt then copies nothing). */
    [W_ARCHIVED] = {"w_archived",
        "WITH t AS (UPDATE outbox SET payload = payload || '{\"queued\": true}' "
        "WHERE id = $1 AND attempts = $2 AND done_at IS NULL AND failed_at IS NULL "
        "AND NOT payload ? 'queued' RETURNING id) "
        "INSERT INTO outbox (kind, payload) SELECT 'local.encode', $3::jsonb FROM t",
        3, PGRES_COMMAND_OK},
    /* A local job and its encode task in one statement. With a key (an
     * upload's path, size and mtime) a second submit does nothing. */
    [W_SUBMIT] = {"w_submit",
        "WITH j AS (INSERT INTO jobs (id, backend, backend_job_id, input_file) "
        "VALUES ($1, 'local', $4, $2) ON CONFLICT DO NOTHING RETURNING id) "
        "INSERT INTO outbox (kind, payload) SELECT 'local.encode', $3::jsonb FROM j",
        4, PGRES_COMMAND_OK},
    /* canceled, storage, key, multipart_id (sql/functions/mediagate_upload_lapse.sql) */
    [W_UPLOAD_EXPIRE] = {"w_upload_expire",
        "SELECT canceled, storage, key, multipart_id FROM mediagate_upload_lapse($1)",
        1, PGRES_TUPLES_OK},
    /* A delivery and its endpoint (sql/012_webhooks.sql). */
    [W_WH_LOAD] = {"w_wh_load",
        "SELECT d.msg_id, d.body, d.state, e.url, e.secret, e.enabled, "
        "coalesce(e.disabled_reason, '') FROM webhook_deliveries d "
        "JOIN webhook_endpoints e ON e.id = d.endpoint_id WHERE d.id = $1",
        1, PGRES_TUPLES_OK},
    /* One attempt's outcome on the delivery ($4 state, $5 HTTP status, $6
     * error, $7 seconds to the next attempt), and with $8 the endpoint
     * disabled for that reason, $9 1 when a request was tried (0: the
     * endpoint was disabled already); fenced like a finish: only while
     * attempt $3 of task $2 is still running. Answers how many deliveries
     * changed. */
    [W_WH_RECORD] = {"w_wh_record",
        "WITH d AS (UPDATE webhook_deliveries SET attempts = attempts + $9::integer, state = $4, "
        "last_status = $5::integer, last_error = $6, last_attempt_at = now(), "
        "next_attempt_at = now() + make_interval(secs => $7::double precision), "
        "delivered_at = CASE WHEN $4 = 'delivered' THEN now() END "
        "WHERE id = $1 AND EXISTS (SELECT 1 FROM outbox o WHERE o.id = $2 AND o.attempts = $3 "
        "AND o.done_at IS NULL AND o.failed_at IS NULL) RETURNING endpoint_id), "
        "e AS (UPDATE webhook_endpoints SET enabled = false, disabled_reason = $8, "
        "disabled_at = now() WHERE $8::text IS NOT NULL AND enabled "
        "AND id IN (SELECT endpoint_id FROM d)) "
        "SELECT count(*) FROM d",
        9, PGRES_TUPLES_OK},
    /* A JW Platform resource as the API answers it now ($3 NULL: gone),
     * then a video's job derived from it, in one statement (sql/013). */
    [W_MIRROR_PUT] = {"w_mirror_put",
        "SELECT r, CASE WHEN $1 = 'video' THEN mediagate_mirror_derive(false, $2) END "
        "FROM mediagate_mirror_put($1, $2, $3::jsonb) r",
        3, PGRES_TUPLES_OK},
    /* What media.acl needs of a job (app/worker/media_acl.c), with the
     * signing record (sql/021). */
    [W_JOB_PLAYBACK] = {"w_job_playback",
        "SELECT acl, storage, status, mediagate_media_unsigned() FROM jobs WHERE id = $1",
        1, PGRES_TUPLES_OK},
    /* What the encoder kinds know of a job (app/worker/encoders.c):
     * status, acl, input_file, backend_job_id, backend_task_id, backend,
     * its age and quiet time in seconds (since its last event, else its
     * creation), and its unfinished tasks of the kinds $3 other than $2. */
    [W_ENC_JOB] = {"w_enc_job",
        "SELECT j.status, j.acl, j.input_file, j.backend_job_id, j.backend_task_id, j.backend, "
        "extract(epoch FROM now() - j.created_at)::float8, "
        "extract(epoch FROM now() - coalesce(j.last_event_at, j.created_at))::float8, "
        "(SELECT count(*) FROM outbox o WHERE o.payload->>'job_id' = j.id AND o.id <> $2::bigint "
        "AND o.kind = ANY ($3::text[]) AND o.done_at IS NULL AND o.failed_at IS NULL) "
        "FROM jobs j WHERE j.id = $1",
        3, PGRES_TUPLES_OK},
    /* A cloud encoder writes the job's outputs to the storage bucket, at
     * $2 (the public URL of media/<job id>/, as the local encoder's), its
     * playlists $3: playback serves them from there like the local
     * encoder's. */
    [W_ENC_STORAGE] = {"w_enc_storage",
        "UPDATE jobs SET storage = 's3', output_path = coalesce(output_path, $2), "
        "playlists = $3::jsonb, updated_at = now() WHERE id = $1 AND storage IS NULL",
        3, PGRES_COMMAND_OK},
    /* The reconciler's answer from encoder $1: stored and applied as a
     * notification (source 'poll'), deduped and ordered like a push. */
    [W_ENC_POLLED] = {"w_enc_polled",
        "SELECT mediagate_notify_poll($1, $2, $3::bytea, $4::jsonb)",
        4, PGRES_TUPLES_OK},
    /* Seconds job $1 has been PROGRESSING (an encoder's limit counts from
     * then); no row when it is not PROGRESSING. */
    [W_ENC_RUNNING] = {"w_enc_running",
        "SELECT extract(epoch FROM now() - coalesce(progressing_at, created_at))::float8 "
        "FROM jobs WHERE id = $1 AND status = 'PROGRESSING'",
        1, PGRES_TUPLES_OK},
    /* A create call for job $1 is about to be made: how many were made
     * before it (sql/024). */
    [W_ENC_TRY] = {"w_enc_try",
        "UPDATE jobs SET create_tries = create_tries + 1 WHERE id = $1 RETURNING create_tries - 1",
        1, PGRES_TUPLES_OK},
    /* jwplatform.update (app/worker/jwplatform.c): the newest state of
     * video $1 made here, and the version the platform took. */
    [W_JW_WRITE_READ] = {"w_jw_write_read",
        "SELECT title, sms_acl, version, version > sent_version FROM jwplatform_writes "
        "WHERE key = $1",
        1, PGRES_TUPLES_OK},
    [W_JW_WRITE_SENT] = {"w_jw_write_sent",
        "UPDATE jwplatform_writes SET sent_version = greatest(sent_version, $2::bigint), "
        "sent_at = now() WHERE key = $1 RETURNING version",
        2, PGRES_TUPLES_OK},
    /* One jwplatform.update sends video $1 at a time: a session lock. */
    [W_JW_LOCK] = {"w_jw_lock",
        "SELECT pg_try_advisory_lock(hashtext('jwplatform.update'), hashtext($1))",
        1, PGRES_TUPLES_OK},
    [W_JW_UNLOCK] = {"w_jw_unlock",
        "SELECT pg_advisory_unlock(hashtext('jwplatform.update'), hashtext($1))",
        1, PGRES_TUPLES_OK},
    /* jwplatform.discard: create $1's state, and the mirrored video that
     * carries its id (sql/035) if any, with whether the platform still
     * has it. */
    [W_JW_DISCARD_READ] = {"w_jw_discard_read",
        "SELECT p.state, c.key, c.deleted_at IS NULL FROM jwplatform_creates p "
        "LEFT JOIN cached_resource c ON c.type = 'video' "
        "AND c.data @> jsonb_build_object('custom', "
        "jsonb_build_object('mediagate_upload', p.id::text)) "
        "WHERE p.id = $1 ORDER BY c.deleted_at IS NULL DESC LIMIT 1",
        1, PGRES_TUPLES_OK},
    [W_JW_DISCARD_DONE] = {"w_jw_discard_done",
        "UPDATE jwplatform_creates SET state = 'discarded', key = $2, updated_at = now() "
        "WHERE id = $1 AND state = 'creating'",
        2, PGRES_COMMAND_OK},
    /* A mux slot whose asset never came, expired or its job canceled: the
     * Mux upload to cancel (app/uploads/mux.c). No row: none. */
    [W_UPLOAD_PLATFORM] = {"w_upload_platform",
        "SELECT platform_upload_id FROM uploads u WHERE id = $1::uuid AND target = 'mux' "
        "AND stored_at IS NULL AND platform_upload_id IS NOT NULL AND (expires_at <= now() "
        "OR EXISTS (SELECT 1 FROM jobs j WHERE j.id = u.job_id AND j.status = 'CANCELED'))",
        1, PGRES_TUPLES_OK},
    /* A jwplatform slot that expired, or whose job was canceled: its
     * video's key, and whether the job was canceled (app/worker/
     * jwplatform.c). No row: not one, or its video is gone already. */
    [W_JW_UPLOAD_LAPSE] = {"w_jw_upload_lapse",
        "SELECT p.key, j.status = 'CANCELED' FROM uploads u "
        "JOIN jwplatform_creates p ON p.id = u.id JOIN jobs j ON j.id = u.job_id "
        "WHERE u.id = $1::uuid AND u.target = 'jwplatform' AND u.stored_at IS NULL "
        "AND p.key IS NOT NULL AND ((u.expires_at <= now() AND p.state = 'created') "
        "OR (j.status = 'CANCELED' AND p.state IN ('created', 'discarded')))",
        1, PGRES_TUPLES_OK},
    /* Its video deleted on JW: the mirror derives no job from it again. */
    [W_JW_UPLOAD_DISCARDED] = {"w_jw_upload_discarded",
        "UPDATE jwplatform_creates SET state = 'discarded', updated_at = now() "
        "WHERE id = $1::uuid AND state = 'created'",
        1, PGRES_COMMAND_OK},
    /* What upload.fetch needs of its slot (app/worker/fetch.c): name,
     * max_bytes, whether it is stored already, and its job's status. */
    [W_FETCH_UPLOAD] = {"w_fetch_upload",
        "SELECT u.name, u.max_bytes, u.stored_at IS NOT NULL, j.status FROM uploads u "
        "JOIN jobs j ON j.id = u.job_id WHERE u.id = $1",
        1, PGRES_TUPLES_OK},
    /* The fetched file is in place: spent, stored and its encode queued,
     * fenced by the task's lease (sql/functions/mediagate_upload_fetched.sql):
     * the job id, or why the slot refuses the file; both NULL: lease lost. */
    [W_FETCH_STORED] = {"w_fetch_stored",
        "SELECT job_id, refused FROM mediagate_upload_fetched($1, $2, $3, $4, $5, $6, $7)",
        7, PGRES_TUPLES_OK},
    /* An expired (or terminated) tus upload's bytes in flight, to discard
     * (app/uploads/tus.h); no row: none, or its file was stored. */
    [W_UPLOAD_TUS] = {"w_upload_tus",
        "SELECT " TUS_UPLOAD_COLS " FROM uploads WHERE id = $1 AND tus_length IS NOT NULL "
        "AND stored_at IS NULL AND expires_at <= now()",
        1, PGRES_TUPLES_OK},
    /* HLS AES-128 (app/worker/hls_crypt.c): the key $3 (bytea) of attempt
     * $2 of job $1's encode, task $4, while that attempt holds the task;
     * the same attempt run again (after a snooze) replaces its own. Answers
     * a row when stored. */
    [W_KEY_PUT] = {"w_key_put",
        "INSERT INTO media_keys (job_id, n, key) SELECT $1, $2::integer, $3::bytea "
        "WHERE EXISTS (SELECT 1 FROM outbox o WHERE o.id = $4::bigint AND o.attempts = $2::integer "
        "AND o.done_at IS NULL AND o.failed_at IS NULL) "
        "ON CONFLICT (job_id, n) DO UPDATE SET key = EXCLUDED.key, created_at = now() "
        "RETURNING n",
        4, PGRES_TUPLES_OK},
    /* thumbnail.make (app/worker/thumbnail.c): the row ($1 job, $2 time in
     * ms, $3 width) and its job: the row's status, the job's status, ACL
     * and signing record (app/playback.h) */
    [W_THUMB_JOB] = {"w_thumb_job",
        "SELECT t.status, j.status, j.acl, mediagate_media_unsigned() "
        "FROM thumbnails t JOIN jobs j ON j.id = t.job_id "
        "WHERE t.job_id = $1 AND t.time_ms = $2::int AND t.width = $3::int",
        3, PGRES_TUPLES_OK},
    /* the key of attempt $2 of encrypted job $1 */
    [W_THUMB_KEY] = {"w_thumb_key",
        "SELECT key FROM media_keys WHERE job_id = $1 AND n = $2::int",
        2, PGRES_TUPLES_OK},
    /* the row made: its file $4 (relative to the job's directory), $5 bytes */
    [W_THUMB_MADE] = {"w_thumb_made",
        "UPDATE thumbnails SET status = 'made', file = $4, bytes = $5::int, error = NULL, "
        "made_at = now() WHERE job_id = $1 AND time_ms = $2::int AND width = $3::int "
        "AND status = 'queued'",
        5, PGRES_COMMAND_OK},
    /* the row failed for good, with why ($4) */
    [W_THUMB_FAILED] = {"w_thumb_failed",
        "UPDATE thumbnails SET status = 'failed', error = $4 "
        "WHERE job_id = $1 AND time_ms = $2::int AND width = $3::int AND status = 'queued'",
        4, PGRES_COMMAND_OK},
    /* captions.publish (app/worker/captions.c): the job (status, storage,
     * acl, the signing record, duration); its captions, each with its
     * version (updated_at, as text) and whether it was deleted; a version
     * published, a deleted one's row gone once its files are; one publish
     * of a job at a time (a session lock, taken or not at once). */
    [W_CAP_JOB] = {"w_cap_job",
        "SELECT status, storage, acl, mediagate_media_unsigned(), duration_ms FROM jobs "
        "WHERE id = $1",
        1, PGRES_TUPLES_OK},
    [W_CAP_LIST] = {"w_cap_list",
        "SELECT language, label, vtt, updated_at::text, deleted_at IS NOT NULL FROM captions "
        "WHERE job_id = $1 ORDER BY language",
        1, PGRES_TUPLES_OK},
    [W_CAP_PUBLISHED] = {"w_cap_published",
        "UPDATE captions SET published_at = now() WHERE job_id = $1 AND language = $2 "
        "AND updated_at = $3::timestamptz AND deleted_at IS NULL",
        3, PGRES_COMMAND_OK},
    [W_CAP_PURGE] = {"w_cap_purge",
        "DELETE FROM captions WHERE job_id = $1 AND language = $2 "
        "AND updated_at = $3::timestamptz AND deleted_at IS NOT NULL",
        3, PGRES_COMMAND_OK},
    [W_CAP_LOCK] = {"w_cap_lock",
        "SELECT pg_try_advisory_lock(hashtext('captions.publish'), hashtext($1))",
        1, PGRES_TUPLES_OK},
    [W_CAP_UNLOCK] = {"w_cap_unlock",
        "SELECT pg_advisory_unlock(hashtext('captions.publish'), hashtext($1))",
        1, PGRES_TUPLES_OK},
    /* The AES-128 key of attempt $2 of job $1 (hls_crypt), in hex: its
     * segments read clear for their first PTS. */
    [W_CAP_KEY] = {"w_cap_key",
        "SELECT encode(key, 'hex') FROM media_keys WHERE job_id = $1 AND n = $2::integer",
        2, PGRES_TUPLES_OK},
    /* job.delete (app/worker/job_delete.c): deleted job $1 (no row: its
     * row is gone): its storage, whether its files are removed already,
     * and whether another task $2 of it still runs (or an encoder.cancel
     * waits, or an upload.expire that is due: a slot the delete closed). */
    [W_JOB_DELETE_READ] = {"w_job_delete_read",
        "SELECT coalesce(j.storage, ''), j.files_removed_at IS NOT NULL, "
        "EXISTS (SELECT 1 FROM outbox o "
        "WHERE coalesce(o.payload->>'job_id', o.payload->>'media_job') = j.id AND o.id <> $2::bigint "
        "AND o.done_at IS NULL AND o.failed_at IS NULL AND o.kind <> 'webhook.deliver' "
        "AND (o.locked_until > now() OR o.kind = 'encoder.cancel' "
        "OR (o.kind = 'upload.expire' AND o.run_after <= now()))) "
        "FROM jobs j WHERE j.id = $1 AND j.deleted_at IS NOT NULL",
        2, PGRES_TUPLES_OK},
    /* ... and the key prefixes of its upload (with its storage) and of the
     * stopped streams it is the recording of (storage NULL: the worker's). */
    [W_JOB_DELETE_KEYS] = {"w_job_delete_keys",
        "SELECT u.storage, 'uploads/' || u.id || '/' FROM uploads u WHERE u.job_id = $1 "
        "UNION ALL SELECT NULL, 'recordings/' || s.id || '/' FROM streams s "
        "WHERE s.vod_job_id = $1 AND s.status = 'STOPPED'",
        1, PGRES_TUPLES_OK},
    /* Its files are gone: fenced by attempt $3 of task $2. */
    [W_JOB_DELETE_DONE] = {"w_job_delete_done",
        "UPDATE jobs SET files_removed_at = now() WHERE id = $1 AND deleted_at IS NOT NULL "
        "AND EXISTS (SELECT 1 FROM outbox o WHERE o.id = $2::bigint AND o.attempts = $3::integer "
        "AND o.done_at IS NULL AND o.failed_at IS NULL)",
        3, PGRES_COMMAND_OK},
    /* jobs.purge: one batch of each step ($1 days, $2 batch, $3 the create
     * kinds, $4 the encoders that can cancel) */
    [W_JOBS_PURGE] = {"w_jobs_purge",
        "SELECT deleted, removed, notifications FROM mediagate_jobs_purge($1::integer, "
        "$2::integer, $3::text[], $4::text[])",
        4, PGRES_TUPLES_OK},
    /* A periodic kind's one task, queued when none waits (a unique index
     * keeps it one: sql/045). */
    [W_PERIODIC] = {"w_periodic",
        "INSERT INTO outbox (kind, payload) SELECT $1, '{}'::jsonb WHERE NOT EXISTS "
        "(SELECT 1 FROM outbox WHERE kind = $1 AND done_at IS NULL AND failed_at IS NULL) "
        "ON CONFLICT DO NOTHING",
        1, PGRES_COMMAND_OK},
};

void wsql_init(db *d, const struct config *cfg)
{
    db_init_table(d, cfg, worker_stmts, W__COUNT, "mediagate-worker");
}
