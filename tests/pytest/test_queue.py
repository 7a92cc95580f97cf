"""The queue's claim, heartbeat, finish and reap, fast, against the real
PostgreSQL of the session: the worker's own prepared statements (run by
tests/lib/wsql_exec through the db layer, as the worker runs them) over a
database of the test's own. No worker runs and nothing waits: a lease
runs out when the test moves its end into the past.

Each test states one property a worker relies on: a task is claimed once
per attempt under a lease, never past its kind's cap; only the holder of an attempt may
renew, advance or end it; a task whose attempts all ended with their
worker gone is dead, and its job says so.
"""

import os
import subprocess
from pathlib import Path

import pytest

import mgstack

WSQL_EXEC = Path(os.environ.get("MG_WSQL_EXEC") or mgstack.MG_BIN.parent / "tests" / "pytest" / "wsql_exec")
KIND = "test.kind"
LEASE = 60


class Queue:
    """The worker's statements on one test database, and what the tests
    read back from it (as the superuser)."""

    def __init__(self, db):
        self.db = db
        self.env = {**os.environ, "MEDIAGATE_DATABASE_URL": db.url}
        self.sql("INSERT INTO task_kinds (name, max_attempts, timeout_s) VALUES (%s, 2, 0)", KIND)

    def sql(self, query, *params):
        self.db.conn.execute(query, params or None)

    def run(self, name, *params):
        """Statement NAME (as in app/worker/wsql.c) with PARAMS (None: NULL);
        its rows as lists of text (None: NULL)."""
        args = [r"\N" if p is None else str(p) for p in params]
        r = subprocess.run([str(WSQL_EXEC), name, *args], env=self.env, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 0, f"{name} {args}: exit {r.returncode}: {r.stderr}"
        return [[None if c == r"\N" else c for c in line.split("\t")] for line in r.stdout.splitlines()]

    def add(self, job=None, kind=KIND, **cols):
        """A ready task (with a SUBMITTED local job when job is named); its id."""
        payload = "{}"
        if job:
            self.sql("INSERT INTO jobs (id, backend, backend_job_id, input_file) "
                         "VALUES (%s, 'local', %s, '/in.mp4')", job, job)
            payload = f'{{"job_id": "{job}"}}'
        names = ", ".join(["kind", "payload", *cols])
        marks = ", ".join(["%s"] * (2 + len(cols)))
        return self.db.one(f"INSERT INTO outbox ({names}) VALUES ({marks}) RETURNING id",
                           kind, payload, *cols.values())

    def claim(self, worker, kinds=(KIND,), cap=0):
        """One claim by WORKER: (id, token) or None."""
        rows = self.run("w_claim", worker, LEASE, "{" + ",".join(kinds) + "}", cap)
        assert len(rows) <= 1, rows
        return (int(rows[0][0]), int(rows[0][3])) if rows else None

    def beat(self, task, token, worker, progress=None):
        return self.run("w_beat", task, token, worker, LEASE, progress) == [["t"]]

    def finish(self, task, token, worker, outcome, delay=0, error=None, event=None):
        return self.run("w_finish", task, token, worker, outcome, delay, error, event) == [["t"]]

    def reap(self):
        return [tuple(r) for r in self.run("w_reap")]

    def expire(self, task):
        """The lease on TASK ran out (its holder is gone, say)."""
        self.sql("UPDATE outbox SET locked_until = now() - interval '1 second' WHERE id = %s", task)

    def task(self, task):
        """attempts, locked_by, locked_until, done, dead, last_error, run_after."""
        return self.db.one("SELECT attempts, locked_by, locked_until, done_at IS NOT NULL, "
                           "failed_at IS NOT NULL, last_error, run_after FROM outbox WHERE id = %s", task)

    def seconds_to(self, task, column):
        """Seconds from now to TASK's COLUMN (locked_until, run_after); None for NULL."""
        assert column in ("locked_until", "run_after")
        return self.db.one(f"SELECT extract(epoch FROM {column} - now())::float FROM outbox WHERE id = %s",
                           task)

    def job(self, job):
        """status, progress_rate, error_code, error_message."""
        return self.db.one("SELECT status, progress_rate, error_code, error_message FROM jobs WHERE id = %s",
                           job)


@pytest.fixture
def q(db, logs):
    return Queue(db)


def test_claim_takes_a_ready_task_once_under_a_lease(q):
    t = q.add()
    assert q.claim("w1") == (t, 1)
    attempts, holder, _, done, dead, _, _ = q.task(t)
    assert (attempts, holder, done, dead) == (1, "w1", False, False)
    assert 0 < q.seconds_to(t, "locked_until") <= LEASE
    # Held: nobody else gets it, nor does its holder a second time.
    assert q.claim("w2") is None
    assert q.claim("w1") is None


def test_claim_takes_only_served_ready_unfinished_tasks(q):
    q.sql("INSERT INTO task_kinds (name, max_attempts, timeout_s) VALUES ('other.kind', 3, 0)")
    other = q.add(kind="other.kind")
    later = q.db.one("INSERT INTO outbox (kind, payload, run_after) "
                     "VALUES (%s, '{}', now() + interval '1 hour') RETURNING id", KIND)
    done = q.add()
    q.sql("UPDATE outbox SET done_at = now() WHERE id = %s", done)
    dead = q.add()
    q.sql("UPDATE outbox SET failed_at = now() WHERE id = %s", dead)
    assert q.claim("w1") is None
    assert q.claim("w1", kinds=("other.kind",)) == (other, 1)
    assert q.task(later)[0] == 0


def test_claim_walks_tasks_in_run_after_order(q):
    second = q.add()
    first = q.db.one("INSERT INTO outbox (kind, payload, run_after) "
                     "VALUES (%s, '{}', now() - interval '1 minute') RETURNING id", KIND)
    assert q.claim("w1") == (first, 1)
    assert q.claim("w2") == (second, 1)


def test_an_expired_lease_is_claimed_again_with_the_next_token(q):
    t = q.add(job="j1")
    assert q.claim("w1") == (t, 1)
    q.expire(t)
    assert q.claim("w2") == (t, 2)
    # The first holder's attempt is over: it can neither renew nor end it.
    assert not q.beat(t, 1, "w1", 50)
    assert not q.finish(t, 1, "w1", "done", event='{"status": "COMPLETE"}')
    attempts, holder, _, done, dead, _, _ = q.task(t)
    assert (attempts, holder, done, dead) == (2, "w2", False, False)
    assert q.job("j1")[:2] == ("SUBMITTED", 0)


def test_claim_stops_at_the_kinds_cap_on_attempts(q):
    t = q.add()
    assert q.claim("w1") == (t, 1)
    q.expire(t)
    assert q.claim("w2") == (t, 2)
    q.expire(t)
    # Two attempts, both lost: the kind's cap (2) is reached.
    assert q.claim("w3") is None
    assert q.task(t)[0] == 2


def test_claim_skips_a_task_already_at_its_cap(q):
    capped = q.add(attempts=2)
    assert q.claim("w1") is None
    below = q.add(attempts=1)
    assert q.claim("w1") == (below, 2)
    assert q.task(capped)[:2] == (2, None)


def test_claim_keeps_an_owners_cap(q):
    a1, a2, b1 = q.add(owner="alice"), q.add(owner="alice"), q.add(owner="bob")
    assert q.claim("w1", cap=1) == (a1, 1)
    # alice runs one already: her second waits, bob's goes first.
    assert q.claim("w2", cap=1) == (b1, 1)
    assert q.claim("w3", cap=1) is None
    assert q.task(a2)[0] == 0
    assert q.claim("w3", cap=0) == (a2, 1)


def test_beat_renews_the_holders_lease_and_moves_its_job(q):
    t = q.add(job="j1")
    q.claim("w1")
    q.sql("UPDATE outbox SET locked_until = now() + interval '5 seconds' WHERE id = %s", t)
    assert q.beat(t, 1, "w1", 40)
    assert q.seconds_to(t, "locked_until") > 5
    assert q.job("j1")[:2] == ("PROGRESSING", 40)
    # Without progress, only the lease; progress never goes back.
    assert q.beat(t, 1, "w1")
    assert q.beat(t, 1, "w1", 30)
    assert q.job("j1")[:2] == ("PROGRESSING", 40)


LOST = ["another worker", "an older attempt", "after a cancel", "after done"]


def lose(q, how):
    """A task of job j1 claimed by w1, then, HOW, no longer held by attempt 1
    of w1 (or held by w1, but the caller is another worker). Returns the
    task, and the worker and token whose calls must change nothing."""
    t = q.add(job="j1")
    assert q.claim("w1") == (t, 1)
    if how == "another worker":
        return t, "w2", 1
    if how == "an older attempt":
        q.expire(t)
        assert q.claim("w1") == (t, 2)
    elif how == "after a cancel":
        assert q.db.one("SELECT mediagate_task_cancel(%s)", t) == "canceled"
    else:
        assert q.finish(t, 1, "w1", "done")
    return t, "w1", 1


@pytest.mark.parametrize("how", LOST)
def test_beat_of_a_lost_lease_changes_nothing(q, how):
    t, worker, token = lose(q, how)
    before = q.task(t), q.job("j1")
    assert not q.beat(t, token, worker, 60)
    assert (q.task(t), q.job("j1")) == before


def test_finish_done_applies_the_jobs_event_in_the_same_step(q):
    t = q.add(job="j1")
    q.claim("w1")
    assert q.finish(t, 1, "w1", "done", event='{"status": "COMPLETE", "output_path": "/out"}')
    attempts, holder, lease_end, done, dead, _, _ = q.task(t)
    assert (attempts, holder, lease_end, done, dead) == (1, None, None, True, False)
    assert q.job("j1")[:2] == ("COMPLETE", 100)
    assert q.claim("w2") is None


def test_finish_retry_runs_again_later_with_the_error_kept(q):
    t = q.add(job="j1")
    q.claim("w1")
    assert q.finish(t, 1, "w1", "retry", delay=3600, error="upstream 503")
    attempts, holder, _, done, dead, error, _ = q.task(t)
    assert (attempts, holder, done, dead, error) == (1, None, False, False, "upstream 503")
    assert q.seconds_to(t, "run_after") > 3000
    assert q.claim("w1") is None
    q.sql("UPDATE outbox SET run_after = now() WHERE id = %s", t)
    assert q.claim("w1") == (t, 2)


def test_finish_failed_is_dead_with_its_error_and_event(q):
    t = q.add(job="j1")
    q.claim("w1")
    assert q.finish(t, 1, "w1", "failed", error="bad input",
                    event='{"status": "ERROR", "error_code": 1, "error_message": "bad input"}')
    assert q.task(t)[3:6] == (False, True, "bad input")
    assert q.job("j1") == ("ERROR", 0, 1, "bad input")
    assert q.claim("w1") is None


def test_finish_handback_does_not_count_the_attempt(q):
    t = q.add()
    q.claim("w1")
    assert q.finish(t, 1, "w1", "handback")
    assert q.task(t)[:2] == (0, None)
    assert q.claim("w2") == (t, 1)


@pytest.mark.parametrize("how", LOST)
def test_finish_of_a_lost_lease_changes_nothing(q, how):
    t, worker, token = lose(q, how)
    before = q.task(t), q.job("j1")
    assert not q.finish(t, token, worker, "done", event='{"status": "COMPLETE"}')
    assert (q.task(t), q.job("j1")) == before


def test_reap_kills_a_task_whose_attempts_all_lost_their_worker(q):
    t = q.add(job="j1")
    for n, w in ((1, "w1"), (2, "w2")):
        assert q.claim(w) == (t, n)
        q.expire(t)
    q.sql("UPDATE outbox SET last_error = 'killed' WHERE id = %s", t)
    assert q.reap() == [(KIND, "j1")]
    assert q.task(t)[3:6] == (False, True, "gave up after 2 attempts: killed")
    assert q.job("j1") == ("ERROR", 0, 5, "gave up after 2 attempts: killed")
    assert q.reap() == []
    assert q.claim("w3") is None


def test_reap_leaves_running_and_retriable_tasks(q):
    running = q.add(job="j1")
    assert q.claim("w1") == (running, 1)
    q.expire(running)
    assert q.claim("w2") == (running, 2)  # the last attempt, still held
    below = q.add(job="j2")
    assert q.claim("w3") == (below, 1)
    q.expire(below)  # lost, but one attempt is left
    assert q.reap() == []
    assert q.task(running)[:2] == (2, "w2")
    assert q.task(below)[4] is False
    assert q.job("j1")[0] == q.job("j2")[0] == "SUBMITTED"
