"""SQLite, as several workers use it: a request that only reads starts without the one
write lock, so it never waits behind a writer; a GET that writes (an access-log entry)
and was overtaken by another worker's write runs again, holding the lock, rather than
failing. Always on SQLite, also when the suite runs on PostgreSQL (which has no such lock)."""

import re
import shutil
import sqlite3
import threading
from contextlib import contextmanager
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from alembic import command
from flask import before_render_template, g
from sqlmodel import select

from referral import create_app, db
from referral.audit.models import AuditEvent
from referral.dev.demo import PASSWORD, load
from tests.conftest import _config, browser, csrf_token, post_form

NURSE = SimpleNamespace(email="jgz@demo.example", password=PASSWORD)


@pytest.fixture
def sqlite_app(template, tmp_path):
    instance = tmp_path / "instance"
    shutil.copytree(template[0], instance, ignore=shutil.ignore_patterns("referral.sqlite*"))
    path = tmp_path / "reads.sqlite"
    app = create_app(_config(instance, f"sqlite:///{path}", SQLITE_BUSY_TIMEOUT_MS=300))
    with app.app_context():
        command.upgrade(db.alembic_config(), "head")
        load()
        db.commit()
    app.database_path = path
    yield app
    app.extensions["referral.engine"].dispose()


@contextmanager
def traced(app, trace):
    """`trace` called with every statement SQLite receives from the app's connections."""
    engine = app.extensions["referral.engine"]
    engine.dispose()  # new connections, each traced

    def connect(dbapi_connection, _record):
        dbapi_connection.set_trace_callback(trace)

    sa.event.listen(engine, "connect", connect)
    try:
        yield
    finally:
        sa.event.remove(engine, "connect", connect)
        engine.dispose()


@contextmanager
def sqlite_begins(app):
    """The BEGINs SQLite receives from the app, in order (tries in a row, waiting for the
    write lock, as one)."""
    began = []

    def trace(statement):
        if statement.startswith("BEGIN") and (not began or began[-1] != statement):
            began.append(statement)

    with traced(app, trace):
        yield began


def _family_page_while(app, client, family, on_statement):
    """The family page, `on_statement` called before each statement the app sends; and the
    BEGINs SQLite received."""
    engine = app.extensions["referral.engine"]
    sa.event.listen(engine, "before_cursor_execute", on_statement)
    try:
        with sqlite_begins(app) as began:
            page = client.get(f"/families/{family}")
    finally:
        sa.event.remove(engine, "before_cursor_execute", on_statement)
    return page, began


def _writes(statement):
    return re.match(r"\s*(INSERT|UPDATE|DELETE)\b", statement, re.IGNORECASE)


def test_the_family_page_reads_everything_before_its_entry_takes_the_lock(sqlite_app):
    """From the access-log entry on, the page holds SQLite's one write lock: its reads come
    before it, and only the entry's writes run until the commit."""
    client = browser(sqlite_app, NURSE)
    family = re.search(r"/families/([0-9a-f-]{36})", client.get("/families/").text).group(1)
    sent = []
    with traced(sqlite_app, sent.append):
        assert client.get(f"/families/{family}").status_code == 200
    first_write = next(number for number, statement in enumerate(sent) if _writes(statement))
    locked = sent[first_write:sent.index("COMMIT", first_write)]
    assert all(_writes(statement) for statement in locked), locked


def test_a_page_that_only_reads_does_not_wait_for_a_writer(sqlite_app):
    client = browser(sqlite_app, NURSE)
    service = re.search(r"/directory/services/([0-9a-f-]{36})",
                        client.get("/directory/?q=voedsel").text).group(1)
    holder = sqlite3.connect(sqlite_app.database_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another worker in the middle of a write
    try:
        page = client.get(f"/directory/services/{service}")
        ready = client.get("/readyz")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert page.status_code == 200 and "Voedsel" in page.text
    assert ready.json == {"status": "ok"}


def test_a_read_overtaken_by_another_write_runs_again_with_the_lock(sqlite_app):
    client = browser(sqlite_app, NURSE)
    family = re.search(r"/families/([0-9a-f-]{36})", client.get("/families/").text).group(1)
    overtaken = []

    def track(conn, cursor, statement, *args):
        if _writes(statement) and not g.get("write_lock") and not overtaken:
            # Between this request's first read and its first write, another worker writes.
            other = sqlite3.connect(sqlite_app.database_path, isolation_level=None)
            other.execute("UPDATE need_domain SET position = position + 1")
            other.close()
            overtaken.append(statement)

    page, began = _family_page_while(sqlite_app, client, family, track)
    assert page.status_code == 200, page.text[:300]
    assert overtaken and began == ["BEGIN", "BEGIN IMMEDIATE"]
    with sqlite_app.app_context():
        reads = db.session().exec(select(AuditEvent).where(
            AuditEvent.object_id == family, AuditEvent.action == "read")).all()
    assert len(reads) == 1  # the first try left nothing
    verified = sqlite_app.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    # The page was overtaken once: from now on it takes the lock from its first statement
    # after the user's (pages that only read still do not).
    with sqlite_begins(sqlite_app) as began:
        assert client.get(f"/families/{family}").status_code == 200
        assert client.get("/families/").status_code == 200
    assert began == ["BEGIN", "BEGIN IMMEDIATE", "BEGIN"]


def test_what_a_page_reads_as_it_renders_needs_no_write_lock(sqlite_app):
    """A page that takes the write lock from its first statement (it was overtaken before)
    commits its entry before it renders; what its template still reads (a family's key,
    say) starts without the lock, so the lock is not held, nor waited for, while it renders."""
    client = browser(sqlite_app, NURSE)
    family = re.search(r"/families/([0-9a-f-]{36})", client.get("/families/").text).group(1)
    sqlite_app.extensions["referral.writes_on_read"].add("cases.family")

    def read_as_it_renders(_app, template=None, **_extra):
        if template.name == "cases/family.html":
            db.session().execute(sa.text("SELECT 1"))

    before_render_template.connect(read_as_it_renders, sqlite_app)
    try:
        with sqlite_begins(sqlite_app) as began:
            assert client.get(f"/families/{family}").status_code == 200
    finally:
        before_render_template.disconnect(read_as_it_renders, sqlite_app)
    assert began == ["BEGIN", "BEGIN IMMEDIATE", "BEGIN"]  # the user, the page, the render


@pytest.mark.parametrize("person", [NURSE, SimpleNamespace(email="partner@demo.example",
                                                            password=PASSWORD)])
def test_a_referral_page_reads_what_it_opens_before_it_commits(sqlite_app, person):
    """The family's key, whose values the page opens as it renders, is read with the rest:
    one transaction, the lock taken once."""
    client = browser(sqlite_app, person)
    referral = re.search(r"/referrals/([0-9a-f-]{36})", client.get("/referrals/").text).group(1)
    sqlite_app.extensions["referral.writes_on_read"].add("referrals.show")
    with sqlite_begins(sqlite_app) as began:
        assert client.get(f"/referrals/{referral}").status_code == 200
    assert began == ["BEGIN", "BEGIN IMMEDIATE"]  # the user apart, then the page


@pytest.mark.parametrize(("path", "person", "logged"), [
    ("/directory/?q=voedsel", NURSE, "directory search, "),
    ("/monitor/", SimpleNamespace(email="coordinator@demo.example", password=PASSWORD),
     "monitor "),
])
def test_a_page_that_logs_no_personal_data_reads_without_the_lock(sqlite_app, path, person,
                                                                 logged):
    """The directory search and the monitor read without the write lock, even when another
    worker writes meanwhile, and write their access-log entry apart, taking the lock for
    the entry alone: never run again, never serialised behind other writers."""
    client = browser(sqlite_app, person)
    writes = []

    def other_worker_writes(conn, cursor, statement, *args):
        if not g.get("write_lock") and not _writes(statement):  # while this one reads
            other = sqlite3.connect(sqlite_app.database_path, isolation_level=None)
            other.execute("UPDATE need_domain SET position = position + 1")
            other.close()
            writes.append(statement)

    engine = sqlite_app.extensions["referral.engine"]
    sa.event.listen(engine, "before_cursor_execute", other_worker_writes)
    try:
        with sqlite_begins(sqlite_app) as began:
            page = client.get(path)
    finally:
        sa.event.remove(engine, "before_cursor_execute", other_worker_writes)
    assert page.status_code == 200, page.text[:300]
    assert writes and began == ["BEGIN", "BEGIN IMMEDIATE"]  # read, then the entry apart
    assert not sqlite_app.extensions["referral.writes_on_read"]
    with sqlite_app.app_context():
        entries = db.session().exec(select(AuditEvent).where(
            AuditEvent.summary.startswith(logged))).all()
    assert len(entries) == 1
    verified = sqlite_app.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output


def test_a_post_takes_the_lock_from_its_first_statement(sqlite_app):
    client = browser(sqlite_app, NURSE)
    with sqlite_begins(sqlite_app) as began:
        client.get("/families/")
        assert post_form(client, "/logout", {}, page="/").status_code == 303
    assert began[0] == "BEGIN" and began[-1] == "BEGIN IMMEDIATE"


def _can_take_the_write_lock(app):
    other = sqlite3.connect(app.database_path, isolation_level=None, timeout=0)
    try:
        other.execute("BEGIN IMMEDIATE")
        other.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        other.close()


@pytest.mark.parametrize("request_of", ["a note's post", "a family page once overtaken"])
def test_the_user_is_read_before_the_write_lock_is_taken(sqlite_app, request_of):
    """A request that takes the write lock up front (a form post; a page that writes on read
    and was overtaken before) reads its session's user first, in a read of its own: other
    writers do not wait for it. What the request reads for itself and writes is one
    transaction after it, under the lock."""
    client = browser(sqlite_app, NURSE)
    family = re.search(r"/families/([0-9a-f-]{36})", client.get("/families/").text).group(1)
    if request_of == "a family page once overtaken":
        sqlite_app.extensions["referral.writes_on_read"].add("cases.family")
        send = lambda: client.get(f"/families/{family}")  # noqa: E731
    else:
        mine = client.get("/referrals/").text.partition("<tbody")[2]  # not the handovers
        referral = re.search(r"/referrals/([0-9a-f-]{36})", mine).group(1)
        note = {"csrf_token": csrf_token(client, f"/referrals/{referral}"),
                "text": "Moeder gebeld."}
        send = lambda: client.post(f"/referrals/{referral}/notes", data=note)  # noqa: E731
    free = []

    def probe(conn, cursor, statement, *args):
        free.append((statement.lstrip().split()[0], "FROM user_account" in statement,
                     _can_take_the_write_lock(sqlite_app)))

    engine = sqlite_app.extensions["referral.engine"]
    sa.event.listen(engine, "before_cursor_execute", probe)
    try:
        with sqlite_begins(sqlite_app) as began:
            assert send().status_code in (200, 303)
    finally:
        sa.event.remove(engine, "before_cursor_execute", probe)
    assert free[0] == ("SELECT", True, True)  # the user: another writer could write meanwhile
    writes = [lock_free for verb, _user, lock_free in free if verb in ("INSERT", "UPDATE")]
    assert writes and not any(writes)  # the request's own statements hold the lock
    assert began[:2] == ["BEGIN", "BEGIN IMMEDIATE"]


def test_a_read_that_must_write_while_another_holds_the_lock_waits_for_it(sqlite_app):
    client = browser(sqlite_app, NURSE)
    family = re.search(r"/families/([0-9a-f-]{36})", client.get("/families/").text).group(1)
    holder = sqlite3.connect(sqlite_app.database_path, isolation_level=None,
                             check_same_thread=False)

    def track(conn, cursor, statement, *args):
        if _writes(statement) and not g.get("write_lock") and not holder.in_transaction:
            # Another worker takes the write lock just before this request's first write,
            # and lets go a moment later.
            holder.execute("BEGIN IMMEDIATE")
            threading.Timer(0.1, holder.execute, ["ROLLBACK"]).start()

    try:
        page, began = _family_page_while(sqlite_app, client, family, track)
    finally:
        holder.close()
    assert page.status_code == 200, page.text[:300]
    assert began == ["BEGIN", "BEGIN IMMEDIATE"]


def test_a_write_lock_held_past_the_busy_timeout_gives_the_busy_page(sqlite_app):
    client = browser(sqlite_app, NURSE)
    holder = sqlite3.connect(sqlite_app.database_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another worker, stuck in a write
    try:
        busy = post_form(client, "/language", {"language": "en", "next": "/"}, page="/")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert busy.status_code == 503 and "Er is niets opgeslagen" in busy.text
    saved = post_form(client, "/language", {"language": "en", "next": "/"}, page="/")
    assert saved.status_code == 303
    assert "Log out" in client.get("/").text  # in English now


# --- writers wait their turn -------------------------------------------------------------

@contextmanager
def begin_immediate_tries(app):
    """Every BEGIN IMMEDIATE SQLite receives from the app's connections, each try apart."""
    tries = []
    with traced(app, lambda s: tries.append(s) if s == "BEGIN IMMEDIATE" else None):
        yield tries


@contextmanager
def another_writer(app):
    """Another of the app's writers (a worker in the middle of a form post, as a thread):
    it holds the write lock, and its place in the writers' queue, until the block ends."""
    holding, done = threading.Event(), threading.Event()

    def write():
        with app.app_context(), db.engine().begin() as connection:
            connection.exec_driver_sql("UPDATE need_domain SET position = position")
            holding.set()
            done.wait(10)

    holder = threading.Thread(target=write)
    holder.start()
    assert holding.wait(10)
    try:
        yield
    finally:
        done.set()
        holder.join(10)


def _write(app):
    with app.app_context(), db.engine().begin() as connection:
        connection.exec_driver_sql("UPDATE need_domain SET position = position")


def test_a_writer_waits_in_line_and_takes_the_lock_once_it_is_let_go(sqlite_app):
    """It does not try SQLite's lock again and again while it waits (it used to, every
    millisecond, and the writer that happened to try first went first)."""
    with begin_immediate_tries(sqlite_app) as tries:
        with another_writer(sqlite_app):
            waiter = threading.Thread(target=_write, args=[sqlite_app])
            waiter.start()
            waiter.join(0.2)
            assert waiter.is_alive()  # it waits for the other writer
        waiter.join(10)
        assert not waiter.is_alive()
        _write(sqlite_app)  # in this (the main) thread, as a gunicorn worker writes
    assert tries == ["BEGIN IMMEDIATE"] * 3  # the holder's, the waiter's, the last: one each


def test_a_post_waiting_in_line_past_the_busy_timeout_gives_the_busy_page(sqlite_app):
    """In a worker's main thread an alarm ends the wait, then the alarm is as it was; what the
    post waited for, it lets go of: the next post goes at its first try."""
    import signal

    client = browser(sqlite_app, NURSE)
    token = csrf_token(client, "/")
    language = {"csrf_token": token, "language": "en", "next": "/"}
    with begin_immediate_tries(sqlite_app) as tries:
        with another_writer(sqlite_app):  # held until the post has given up
            busy = client.post("/language", data=language)
        assert busy.status_code == 503 and "Er is niets opgeslagen" in busy.text
        assert signal.getsignal(signal.SIGALRM) == signal.SIG_DFL
        assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
        del tries[:]
        assert client.post("/language", data=language).status_code == 303
    assert tries == ["BEGIN IMMEDIATE"]
    assert "Log out" in client.get("/").text  # in English now


def test_a_writer_in_another_thread_gives_up_at_the_busy_timeout_too(sqlite_app):
    failed = []

    def write():
        try:
            _write(sqlite_app)
        except sa.exc.OperationalError as error:
            failed.append(error)

    with another_writer(sqlite_app):
        waiter = threading.Thread(target=write)
        waiter.start()
        waiter.join(10)  # the holder holds on: only the timeout (300 ms) ends the wait
        assert not waiter.is_alive() and "locked" in str(failed[0])
    with begin_immediate_tries(sqlite_app) as tries:
        writer = threading.Thread(target=_write, args=[sqlite_app])
        writer.start()
        writer.join(10)
    assert tries == ["BEGIN IMMEDIATE"]  # nobody is left holding the line
