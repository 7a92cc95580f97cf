#ifndef MEDIAGATE_DB_H
#define MEDIAGATE_DB_H
#include <libpq-fe.h>
#include <stdbool.h>

struct config;

/* Every SQL statement the request path runs. Each connection prepares all
 * of them once, and again after a reconnect. */
enum stmt {
    STMT_JOB_ID_BY_INPUT,
    STMT_JOB_STATUS,
    STMT_JOB_LIST,
    STMT_NOTIFY,
    STMT_NOTIFY_FAILED,
    STMT_APIKEY,
    STMT_STREAM_START,
    STMT_STREAM_STOP,
    STMT_STREAM_GET,
    STMT_STREAM_LIST,
    STMT_RTMP_PUBLISH,
    STMT_RTMP_DONE,
    STMT_RTMP_RECORDED,
    STMT_RTMP_UPDATE,
    STMT_UPLOAD_AUTH,
    STMT_UPLOAD_CREATE,
    STMT_UPLOAD_CHECK,
    STMT_UPLOAD_STORE,
    STMT_UPLOAD_PUT,
    STMT_UPLOAD_CREATE_S3,
    STMT_UPLOAD_SLOT,
    STMT_UPLOAD_CONFIRM,
    STMT_UPLOAD_PUT_S3,
    STMT_UPLOAD_TARGET_ALLOWED,
    STMT_JOB_REGISTER,
    STMT_PROFILE_PICK,
    STMT_JOB_CREATE,
    STMT_SCHEMA_CURRENT,
    STMT_SCHEMA_FUNCTIONS,
    STMT_METRICS_QUEUE,
    STMT_METRICS_WEBHOOKS,
    STMT_SET_REQUEST_ID,
    STMT_MEDIA_SIGNING,
    STMT_JW_UPLOAD_BEGIN,
    STMT_JW_UPLOAD_CREATED,
    STMT_JW_UPLOAD_END,
    STMT_UPLOAD_CREATE_PLATFORM,
    STMT_UPLOAD_PLATFORM_ID,
    STMT_UPLOAD_PLATFORM_FAILED,
    STMT_PROFILE_FIRST,
    STMT_UPLOAD_URL_CREATE,
    STMT_TUS_GET,
    STMT_TUS_LOCK,
    STMT_TUS_UNLOCK,
    STMT_TUS_CREATE,
    STMT_TUS_ADVANCE,
    STMT_TUS_TERMINATE,
    STMT_MEDIA_KEY,
    STMT_THUMBNAIL,
    STMT_CAPTIONS_PUT,
    STMT_CAPTIONS_DELETE,
    STMT_JOB_DELETE,
    STMT_WEBHOOK_ENDPOINTS,
    STMT_WEBHOOK_DELIVERIES,
    STMT_WEBHOOK_REDELIVER,
    STMT_JOB_EVENTS,
    STMT_JOB_EDIT,
    STMT_SESSION_CALLER,
    STMT_SESSION_CREATE,
    STMT_SESSION_END,
    STMT__COUNT
};

/* One prepared statement: its name, text, parameter count and the one
 * result status that means success. */
typedef struct stmt_def {
    const char *name;
    const char *sql;
    int nparams;
    ExecStatusType expect;
} stmt_def;

/* The most statements one table may have. */
#define DB_MAX_STMTS 128
#define DB_STMT_WORDS (DB_MAX_STMTS / 64)
_Static_assert(STMT__COUNT <= DB_MAX_STMTS, "the db layer tracks at most DB_MAX_STMTS statements");

/* The read replica's circuit breaker, shared by every thread's replica
 * connection (db.c). */
struct db_breaker;

/* One thread's connection. Owned by that thread only. */
typedef struct db {
    const struct config *cfg;
    const stmt_def *defs;        /* the statements this role prepares */
    int ndefs;
    const char *appname;
    const char *url;             /* NULL: cfg->database_url */
    PGconn *conn;
    long long retry_at_ms; /* no reconnect attempt before this (monotonic) */
    unsigned long connects;
    long timeout_ms;       /* deadline of one statement, and of one connect */
    struct db_breaker *breaker; /* the replica's; NULL for the primary */
    /* A command's connection (the CLI, sync): every statement is prepared
     * at its first use, so a command needs only its own to exist. */
    bool lazy;
    /* Statements prepared at their first use in any case (bit s): they may
     * name what an older schema lacks. */
    unsigned long long lazy_stmts[DB_STMT_WORDS];
    /* Statements run without a deadline (sync's bulk steps and lock wait;
     * the server's statement_timeout is then the role's to set). The
     * connect keeps its deadline. */
    bool unbounded;
    /* The connection holds session state (a lock, a temporary table): a
     * lost one fails the statement instead of being replaced. */
    bool session;
    /* Failures are not logged: the caller reports them (error below). */
    bool quiet;
    unsigned long long prepared[DB_STMT_WORDS]; /* statements prepared on this connection */
    char error[512];   /* the last failure's message ("" after a success) */
    char sqlstate[6];  /* and its SQLSTATE ("" when it has none) */
} db;

/* A connection of the request path (enum stmt). */
void db_init(db *d, const struct config *cfg);
/* A request thread's connection to the read replica
 * (MEDIAGATE_DATABASE_READ_URL), with the same statements. */
void db_init_read(db *d, const struct config *cfg);
/* True when a read may go to the replica d (db_init_read) now: its breaker
 * is closed, or its hold-off has passed and this caller is the one read that
 * tries it again. False while every read goes to the primary. */
bool db_read_usable(db *d);
/* A connection of another role (the worker, the CLI, sync) with its own
 * enum-indexed table of n (at most DB_MAX_STMTS) statements; s below is
 * then that role's index. */
void db_init_table(db *d, const struct config *cfg, const stmt_def *defs, int n,
                   const char *appname);
void db_close(db *d);

/* Runs prepared statement s with n text parameters under the configured
 * deadline, connecting (and preparing) first if needed. A lost connection is
 * reset and the statement retried once, unless it was inside a transaction
 * or d->session. Returns 0 with *res set (the caller PQclears it), or an
 * HTTP status (503 unavailable or too slow, 409, 400, 500) with *res NULL
 * and the reason in d->error and d->sqlstate. */
int db_exec(db *d, int s, int n, const char *const *vals, PGresult **res);
/* The same with parameter lengths and formats (1: binary), as PQexecPrepared. */
int db_exec_params(db *d, int s, int n, const char *const *vals, const int *lens,
                   const int *fmts, PGresult **res);
/* The same with the result's format too (1: binary, a bytea as its bytes). */
int db_exec_format(db *d, int s, int n, const char *const *vals, const int *lens,
                   const int *fmts, int result_format, PGresult **res);

/* Runs the fixed text sql (one or more statements, no parameters: a
 * migration, a function's file) under d's deadline, connecting first if
 * needed. Returns 0 when every statement succeeded, else a status as
 * db_exec's, with the first failure in d->error. Never retried. */
int db_script(db *d, const char *sql);

/* Starts statement s (a COPY ... FROM STDIN) with n parameters: returns 0
 * when the server waits for the rows, which the caller then sends with
 * PQputCopyData(d->conn, ...), or a status as db_exec's. */
int db_copy_begin(db *d, int s, int n, const char *const *vals);
/* Ends the COPY that db_copy_begin started; abort (NULL: none) makes the
 * server refuse it. Returns 0 when the rows were stored. */
int db_copy_end(db *d, const char *abort);

/* How many parameters statement s takes. */
int db_stmt_params(enum stmt s);

/* Maps a SQLSTATE to an HTTP status, as PostgREST does (NULL: 503). */
int db_sqlstate_status(const char *sqlstate);

#endif
