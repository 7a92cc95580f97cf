"""The schema's functions live one per file (sql/functions/), applied by
`mediagate migrate` whenever a file's digest is not the one the database
recorded; the migrations hold the tables. A database migrated before the
functions moved out of the migrations (all of them, or only some) upgrades
to exactly the functions and triggers of a fresh one, and a function that
differs from its file is applied again."""

import hashlib
import os
import re
import shutil
import subprocess
import sys

import psycopg
import pytest

import mgstack

# The last commit whose migrations held the functions themselves.
BEFORE = "afd46a24f5879c7cf4ce437d976185ea45971298"
# The commit that moved them into their files, unchanged.
SPLIT = "bc9fbf365c0ef7c948f51c1a21b38c17608343d3"

FUNCTIONS = """SELECT p.proname, pg_get_functiondef(p.oid) FROM pg_proc p
                 JOIN pg_namespace n ON n.oid = p.pronamespace
                WHERE n.nspname = 'public' ORDER BY 1, 2"""
TRIGGERS = """SELECT tgrelid::regclass::text, tgname, tgenabled, pg_get_triggerdef(oid)
                FROM pg_trigger WHERE NOT tgisinternal ORDER BY 1, 2"""
# What main's migrate made before the migrations (app/migrate.c then).
MIGRATIONS_TABLE = """CREATE TABLE IF NOT EXISTS schema_migrations (
    version text PRIMARY KEY, checksum text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now())"""


def git(*args):
    r = subprocess.run(["git", "-C", str(mgstack.MG_ROOT), *args], capture_output=True)
    if r.returncode:
        pytest.skip(f"no git history here ({r.stderr.decode().strip()})")
    return r.stdout


def old_migrations():
    """(name, text) of each migration as it was at BEFORE, checked against
    the checksums sql/before-functions.sha256 accepts for them."""
    names = git("ls-tree", "--name-only", BEFORE, "sql/").decode().split()
    sums = dict(reversed(line.split()) for line in
                (mgstack.MG_ROOT / "sql" / "before-functions.sha256").read_text().splitlines())
    out = []
    for path in sorted(n for n in names if n.endswith(".sql")):
        text = git("show", f"{BEFORE}:{path}")
        name = os.path.basename(path)
        now = (mgstack.MG_ROOT / "sql" / name).read_bytes()
        want = sums.get(name, hashlib.sha256(now).hexdigest())
        assert hashlib.sha256(text).hexdigest() == want, f"{name}: not the text its checksum names"
        out.append((name, text.decode()))
    return out


@pytest.fixture
def empty_db(pg):
    """Makes empty databases owned by mediagate; drops them afterwards."""
    made = []

    def make(name):
        pg.sql(f'CREATE DATABASE "{name}" OWNER mediagate')
        made.append(name)
        return mgstack.Database(pg, name)

    yield make
    for name in made:
        pg.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def known():
    return len(list((mgstack.MG_ROOT / "sql").glob("[0-9]*.sql")))


def migrate(db, *args):
    return subprocess.run([str(mgstack.MG_BIN), *args], capture_output=True, text=True,
                          env={**os.environ, "MEDIAGATE_DATABASE_URL": db.url})


def changed_since_split():
    """Names of the functions whose files changed since SPLIT (as later
    changes do): BEFORE's migrations made them as they were then."""
    names = set()
    for f in (mgstack.MG_ROOT / "sql" / "functions").glob("*.sql"):
        r = subprocess.run(["git", "-C", str(mgstack.MG_ROOT), "show", f"{SPLIT}:sql/functions/{f.name}"],
                           capture_output=True)
        if r.returncode or r.stdout != f.read_bytes():
            names |= set(re.findall(r"CREATE OR REPLACE FUNCTION (\w+)", f.read_text()))
    return names


def migrate_as_before(db, upto):
    """The schema as the migrate of BEFORE left it, up to migration upto:
    each migration in its transaction, recorded with its checksum."""
    with psycopg.connect(db.url, autocommit=True) as conn:
        conn.execute("SET client_min_messages = warning")
        conn.execute(MIGRATIONS_TABLE)
        for name, text in old_migrations():
            with conn.transaction():
                conn.execute(text)
                conn.execute("INSERT INTO schema_migrations (version, checksum) VALUES (%s, %s)",
                             (name, hashlib.sha256(text.encode()).hexdigest()))
            if name == upto:
                break


def snapshot(db):
    with psycopg.connect(db.url, autocommit=True) as conn:
        return (conn.execute(FUNCTIONS).fetchall(), conn.execute(TRIGGERS).fetchall(),
                conn.execute("SELECT version, checksum FROM schema_migrations ORDER BY 1").fetchall())


@pytest.mark.parametrize("upto", ["017_encode_owner.sql", "011_tencent_process.sql", "001_jobs.sql"])
def test_old_database_upgrades_to_the_functions_of_a_fresh_one(empty_db, logs, upto):
    fresh, old = empty_db(f"mg_fresh_{upto[:3]}"), empty_db(f"mg_old_{upto[:3]}")
    r = migrate(fresh, "migrate")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "changed since" not in r.stderr
    migrate_as_before(old, upto)
    if upto == "017_encode_owner.sql":
        # the functions as the old migrations made them are the files' own
        # (later migrations' functions and triggers are not theirs to have,
        # and a file changed since the split is one migrate applies again)
        funcs, trigs = snapshot(old)[:2]
        fresh_funcs, fresh_trigs = snapshot(fresh)[:2]
        names, tnames = {f[0] for f in funcs} - changed_since_split(), {t[:2] for t in trigs}
        assert names and [f for f in funcs if f[0] in names] == [f for f in fresh_funcs if f[0] in names]
        assert trigs == [t for t in fresh_trigs if t[:2] in tnames]
    r = migrate(old, "migrate")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "changed since" not in r.stderr, r.stderr
    assert r.stdout.rstrip().endswith(f"migrated ({known()} migrations known)"), r.stdout
    assert snapshot(old) == snapshot(fresh)
    n = old.pg.connect(old.name).execute(
        "SELECT count(*) FROM schema_functions").fetchone()[0]
    assert n == len(list((mgstack.MG_ROOT / "sql" / "functions").glob("*.sql")))
    r = migrate(old, "migrate")
    assert r.returncode == 0 and r.stdout.startswith("up to date"), r.stdout + r.stderr


def test_a_changed_function_is_applied_again(empty_db, logs):
    db = empty_db("mg_changed")
    assert migrate(db, "migrate").returncode == 0
    conn = db.pg.connect(db.name)
    want = conn.execute("SELECT pg_get_functiondef('mediagate_status_rank'::regproc)").fetchone()[0]
    before = dict(conn.execute("SELECT name, applied_at FROM schema_functions").fetchall())
    # As after a build whose sql/functions/mediagate_status_rank.sql differs
    # from what the database recorded: another body and another digest.
    conn.execute("""CREATE OR REPLACE FUNCTION mediagate_status_rank(s text) RETURNS int
                    LANGUAGE sql IMMUTABLE AS $$ SELECT 7 $$""")
    conn.execute("UPDATE schema_functions SET digest = 'x' WHERE name = 'mediagate_status_rank'")
    # The schema is not current: the commands that check it refuse to start.
    r = migrate(db, "sync", "--skip-fetch")
    assert r.returncode == 1 and "older than this binary" in r.stderr, r.stdout + r.stderr
    r = migrate(db, "migrate")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines() == ["applied functions/mediagate_status_rank.sql",
                                     f"migrated ({known()} migrations known)"], r.stdout
    assert conn.execute("SELECT mediagate_status_rank('PROGRESSING')").fetchone()[0] == 1
    assert conn.execute(
        "SELECT pg_get_functiondef('mediagate_status_rank'::regproc)").fetchone()[0] == want
    after = dict(conn.execute("SELECT name, applied_at FROM schema_functions").fetchall())
    assert [n for n in after if after[n] != before[n]] == ["mediagate_status_rank"]
    r = migrate(db, "sync", "--skip-fetch")
    assert r.returncode == 0, r.stdout + r.stderr


def embedded_digests(sql_dir, out):
    """name -> digest of each function, as tools/embed_sql.py builds them
    into the binary from the files under sql_dir."""
    files = [str(p) for p in sorted(sql_dir.glob("[0-9]*.sql"))]
    files += [str(p) for p in sorted((sql_dir / "functions").glob("*.sql"))]
    files.append(str(sql_dir / "before-functions.sha256"))
    subprocess.run([sys.executable, str(mgstack.MG_ROOT / "tools" / "embed_sql.py"), str(out),
                    *files], check=True)
    return dict(re.findall(r'\{"(mediagate_\w+)", fn_\d+, "([0-9a-f]{64})"\}', out.read_text()))


def test_a_changed_function_file_changes_its_digest_only(tmp_path):
    """The build half of the above: editing one function's file changes the
    digest built in for it, and for no other, so migrate applies it alone."""
    sql = tmp_path / "sql"
    shutil.copytree(mgstack.MG_ROOT / "sql", sql)
    before = embedded_digests(sql, tmp_path / "a.c")
    assert len(before) == len(list((sql / "functions").glob("*.sql")))
    f = sql / "functions" / "mediagate_status_rank.sql"
    f.write_text(f.read_text().replace("ELSE 2 END", "ELSE 3 END"))
    after = embedded_digests(sql, tmp_path / "b.c")
    assert [n for n in before if before[n] != after[n]] == ["mediagate_status_rank"]
    assert after["mediagate_status_rank"] == hashlib.sha256(f.read_bytes()).hexdigest()


def test_readyz_counts_the_functions(stack):
    """/readyz (app/schema.c) answers 503 while a function is not as built
    in, and 200 once migrate applied it again."""
    assert stack.curl("/readyz").status == 200
    stack.db.rows("UPDATE schema_functions SET digest = 'x' WHERE name = 'mediagate_notify' "
                  "RETURNING name")
    r = stack.curl("/readyz")
    assert r.status == 503 and r.json() == {
        "success": False,
        "message": "The database schema is older than this binary; run mediagate migrate."}, r.body
    assert "applied functions/mediagate_notify.sql" in stack.mg("migrate")
    assert stack.curl("/readyz").status == 200


def test_a_newer_schema_is_not_older(stack):
    """A database a newer binary migrated (a migration this one does not
    know, and functions of their own) is ready for this binary: a rolling
    deploy or a rollback keeps serving."""
    stack.db.rows("INSERT INTO schema_migrations (version, checksum) "
                  "VALUES ('999_from_a_newer_binary.sql', 'x') RETURNING version")
    stack.db.rows("UPDATE schema_functions SET digest = 'newer' WHERE name = 'mediagate_notify' "
                  "RETURNING name")
    r = stack.curl("/readyz")
    assert r.status == 200, r.body
    stack.db.rows("DELETE FROM schema_migrations WHERE version = '999_from_a_newer_binary.sql' "
                  "RETURNING version")
    assert stack.curl("/readyz").status == 503
    stack.mg("migrate")
    assert stack.curl("/readyz").status == 200


def test_a_command_needs_only_its_own_statements(empty_db, logs):
    """The CLI's statements are prepared at their first use: on a database
    that has the jobs but not the webhooks, `jobs list` works and `webhook
    list` says which migration is missing."""
    db = empty_db("mg_partial")
    migrate_as_before(db, "001_jobs.sql")
    r = migrate(db, "jobs", "list")
    assert r.returncode == 0 and r.stdout.endswith("0 jobs\n"), r.stdout + r.stderr
    r = migrate(db, "webhook", "list")
    assert r.returncode == 1, r.stdout + r.stderr
    assert r.stderr.splitlines() == [
        'mediagate: webhook list: function mediagate_webhook_endpoints() does not exist',
        "mediagate: the database lacks a migration: run 'mediagate migrate'"], r.stderr
