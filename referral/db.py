"""The database: one engine per app, one session per request, committed once at its end."""

import fcntl
import functools
import itertools
import os
import re
import signal
import sqlite3
import threading
import time
import uuid
from datetime import UTC, datetime

from alembic.config import Config
from flask import before_render_template, current_app, g, has_request_context, request
from psycopg.pq import ExecStatus, TransactionStatus
from pydantic_core import PydanticUndefined
from sqlalchemy import (
    DateTime,
    Row,
    bindparam,
    create_engine,
    event,
    inspect,
    literal_column,
)
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Mapper, configure_mappers, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.expression import Executable
from sqlmodel import Field, Session, SQLModel

from referral import config, crypto

# Deterministic constraint names, so migrations are the same on SQLite and PostgreSQL.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow():
    return datetime.now(UTC)


def prepared(build):
    """A statement of a page that is read often, built once per worker process: `build`
    takes no values, only bindparam()s, and the caller passes the values at execution.
    Building a select anew costs more than the database's answer to it: the Python objects
    of every clause, then SQLAlchemy's cache key over all of them. A statement kept keeps
    its cache key too, so what is left is the execution; read through `rows`, `row` or
    `scalar`, a select kept goes to the driver straight (see `_Plan`)."""
    @functools.wraps(build)
    def built(*args, **kwargs):
        statement = build(*args, **kwargs)
        made = statement if isinstance(statement, list | tuple) else [statement]
        _prepared.update(each for each in made if isinstance(each, Executable))
        return statement

    return functools.cache(built)


_prepared = set()  # the statements `prepared` built: a finite set, kept as long as they are
_plans = {}  # (statement, dialect name) -> its _Plan, or None where it has none


def aware(moment):
    """A stored time as an aware UTC datetime: SQLite gives back naive ones."""
    return moment if moment is None or moment.tzinfo else moment.replace(tzinfo=UTC)


def id_field():
    """A primary key the application makes, so encrypted values can be bound to it."""
    return Field(default_factory=uuid.uuid4, primary_key=True)


def given(**values):
    """The values given, so that a model's own defaults (a new id, now) fill the rest: for
    row builders that take an optional id or time."""
    return {name: value for name, value in values.items() if value is not None}


def time_field(**kwargs):
    return Field(default_factory=utcnow, sa_type=DateTime(timezone=True), **kwargs)


def encrypted_field(*, nullable=False, plain=None):
    """A column `x_enc` holding a value sealed by referral.crypto, and with it the property
    `x` (or `plain`) that reads and writes it in plain text: declared once."""
    info = {"encrypted": True, "plain": plain}
    return Field(default=None, nullable=nullable, sa_column_kwargs={"info": info})


@event.listens_for(Mapper, "instrument_class")
def _plain_properties(mapper, cls):
    """Give every encrypted column of a model its plain property (see encrypted_field)."""
    for column in mapper.local_table.columns:
        if column.info.get("encrypted"):
            name = column.info["plain"] or column.name.removesuffix("_enc")
            setattr(cls, name, crypto.sealed(column.name))


def make_engine(url, *, busy_timeout_ms=10_000, lock_timeout_ms=10_000):
    if not url.startswith("sqlite"):
        # pre_ping: a connection cut by a database restart is replaced, not used and failed.
        # A statement psycopg has prepared (after its fifth run on a connection) runs on the
        # plan made for it then: PostgreSQL otherwise plans it again with each run's values
        # whenever it guesses that pays, and for a list of seven tables and more, planning
        # (2–4.5 ms) cost more than running (0.1–2 ms). The values this app's statements
        # take — a user, an organisation, a family — hardly change which plan is good.
        engine = create_engine(url, pool_pre_ping=True, connect_args={
            "options": f"-c lock_timeout={int(lock_timeout_ms)}"
                       " -c plan_cache_mode=force_generic_plan"})
        _ping_by_beginning(engine.dialect)
        return engine
    engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})
    queue = _queue_file(engine.url.database)

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):
        # Hand transaction control to SQLAlchemy, so "begin" below decides how to start.
        dbapi_connection.isolation_level = None
        for pragma in ("journal_mode=WAL", "foreign_keys=ON",
                       f"busy_timeout={int(busy_timeout_ms)}", "synchronous=NORMAL"):
            dbapi_connection.execute(f"PRAGMA {pragma}")

    @event.listens_for(engine, "begin")
    def on_begin(connection):
        # A request that only reads (GET, HEAD) starts without SQLite's one write lock, so
        # readers never queue behind each other; everything else takes it up front.
        if _reads_first():  # straight to SQLite: it cannot fail, and a statement through
            connection.connection.dbapi_connection.execute("BEGIN")  # SQLAlchemy costs 30 µs
        else:
            _begin_writing(connection, busy_timeout_ms, queue)

    @event.listens_for(engine, "checkin")
    def on_checkin(_dbapi_connection, record):
        _leave_queue(record.info)

    @event.listens_for(engine, "close")
    def on_close(_dbapi_connection, record):
        _leave_queue(record.info, close=True)

    return engine


def _ping_by_beginning(dialect):
    """Check a pooled PostgreSQL connection with the BEGIN of its transaction. psycopg sends
    BEGIN before a transaction's first statement anyway; SQLAlchemy's check sent a statement
    of its own (`;`) before it: a round trip on every request. A BEGIN that fails on a cut
    connection is a failed check as that was (the connection is replaced); one that
    succeeds leaves the connection in its transaction, and psycopg, which asks the server's
    transaction status, sends no second BEGIN. Connections set up otherwise (autocommit,
    an isolation level) get the usual check."""
    ping = dialect.do_ping

    def do_ping(dbapi_connection):
        if (dbapi_connection.autocommit or dbapi_connection.isolation_level is not None
                or dbapi_connection.read_only is not None
                or dbapi_connection.deferrable is not None
                or dbapi_connection.info.transaction_status != TransactionStatus.IDLE):
            return ping(dbapi_connection)
        result = dbapi_connection.pgconn.exec_(b"BEGIN")
        if result.status != ExecStatus.COMMAND_OK:
            raise dialect.loaded_dbapi.OperationalError(
                result.error_message.decode(errors="replace") or "BEGIN failed")
        return True

    dialect.do_ping = do_ping


WAIT_STEP = 0.001  # seconds between looks at a taken write lock


def _begin_writing(connection, timeout_ms, queue):
    """BEGIN IMMEDIATE, after waiting in the writers' queue (below), then for the write lock
    in steps of a millisecond, up to the busy timeout in all. SQLite's own wait sleeps longer
    each time it finds the lock taken (up to 100 ms at once), so under load a waiting worker
    sleeps past the moment the lock is free; the steps are for a holder outside the queue
    (another program, a worker that just let go of the queue but not yet of the lock)."""
    raw = connection.connection.dbapi_connection
    deadline = time.monotonic() + timeout_ms / 1000
    if queue is not None:
        _queue_up(connection.connection.info, queue, deadline)
    raw.execute("PRAGMA busy_timeout = 0")
    try:
        while time.monotonic() < deadline:
            try:
                raw.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as error:
                if (error.sqlite_errorcode or 0) & 0xFF != SQLITE_BUSY:
                    break
            time.sleep(WAIT_STEP)
        connection.exec_driver_sql("BEGIN IMMEDIATE")  # the last try: SQLAlchemy's error
    finally:
        raw.execute(f"PRAGMA busy_timeout = {int(timeout_ms)}")


# The writers' queue. Looking at a taken lock every millisecond, the writer that looks first
# after it is let go takes it, not the one that waited longest: under load, one post in a
# hundred waited 140 ms and more while most waited 5. So the app's writers first line up
# for a file lock (flock) on a file beside the database, which the kernel gives to a waiting
# writer the moment it is let go (no sleeping past it); that writer then takes SQLite's
# lock, let go of just before. A connection holds its place from its BEGIN IMMEDIATE until it is
# returned to the pool (after its commit or rollback). The file holds nothing; a worker
# that dies lets go of its place with its open files.

def _queue_file(database):
    """The queue's file beside a database file; None for a database in memory."""
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return f"{database}-writers"


def _queue_up(info, path, deadline):
    """Take this connection's place in the writers' queue and wait to be first in it, up to
    the deadline (then SQLite's own lock decides, and the busy page shows). Each connection
    has its own open file: a place belongs to an open file, not to a process."""
    if info.get("writers_pid") != os.getpid():  # opened before a fork: not ours
        info["writers_pid"], info["writers"] = os.getpid(), os.open(
            path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(info["writers"], fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        if not _wait_in_line(info["writers"], deadline - time.monotonic()):
            _leave_queue(info, close=True)  # closed, the file lets go of what the wait gets
            return
    info["writers_first"] = True


def _wait_in_line(fd, seconds):
    """Whether fd's file lock came within `seconds`. The kernel's wait has no time limit: in
    the main thread (a gunicorn worker's), an alarm ends it, unless something else uses the
    alarm; elsewhere a helper thread waits on a copy of fd (the lock is the open file's,
    whichever copy took it), and when the time runs out first, the caller closes fd and the
    lock the helper gets later goes as it closes its copy. Waiting in the main thread
    itself, the worker runs the moment the lock is its own: a hop through a helper thread
    cost the writes all that the queue gains (measured, bench/compare.py)."""
    if seconds <= 0:
        return False
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGALRM) in (signal.SIG_DFL, signal.SIG_IGN)
            and not signal.getitimer(signal.ITIMER_REAL)[0]):
        return _wait_until_alarm(fd, seconds)
    copy, got = os.dup(fd), threading.Event()

    def wait():
        try:
            fcntl.flock(copy, fcntl.LOCK_EX)
            got.set()
        finally:
            os.close(copy)

    threading.Thread(target=wait, daemon=True).start()
    return got.wait(seconds)


class _TimeUp(Exception):
    pass


_alarmed = [False]  # whether the alarm may still end the wait: it ends it once, at most


def _time_up(_signal, _frame):
    if _alarmed[0]:
        _alarmed[0] = False
        raise _TimeUp


def _wait_until_alarm(fd, seconds):
    """flock in the main thread, ended by SIGALRM after `seconds`. The alarm raises once and
    only while armed, so one that comes late (as the lock came, say) raises inside the try or
    not at all; a lock taken just as the time ran out counts as not taken: the caller closes
    fd, which lets go of it."""
    previous = signal.signal(signal.SIGALRM, _time_up)
    _alarmed[0] = True
    try:
        signal.setitimer(signal.ITIMER_REAL, seconds)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return True
    except _TimeUp:
        return False
    finally:
        _alarmed[0] = False
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _leave_queue(info, *, close=False):
    if info.pop("writers_first", False):
        fcntl.flock(info["writers"], fcntl.LOCK_UN)
    if close and "writers" in info:
        if info.pop("writers_pid") == os.getpid():
            os.close(info["writers"])
        del info["writers"]


# SQLITE_BUSY and its kinds (the low byte of the extended code). A deferred transaction
# that has read cannot wait for the write lock: its first write fails at once when another
# worker holds the lock (SQLITE_BUSY) or wrote since its read (SQLITE_BUSY_SNAPSHOT).
SQLITE_BUSY = 5


def _reads_first():
    """Whether this request's next transaction starts without the write lock: a page that
    shows (GET, HEAD), unless it logs apart (write_lock) or was overtaken before
    (writes_on_read); and once its template renders, what it still reads, whatever page;
    and the session's user, where it is read apart (user_apart)."""
    if not has_request_context():
        return False
    state, asked = g._get_current_object(), request._get_current_object()  # once each
    return state.get("user_apart") or (
        asked.method in ("GET", "HEAD") and not state.get("write_lock")
        and (state.get("rendering") or
             asked.endpoint not in current_app.extensions["referral.writes_on_read"]))


def user_apart(load):
    """The session's user loader, reading the user outside the write lock on SQLite.

    A form post, and a page that writes on read once it was overtaken, take SQLite's one
    write lock with their first statement, which is the user's: every other writer then
    waited for the user to be read too. Read as the request's first statement, the user
    comes in a read of its own, ended at once; the request's own transaction (its reads,
    its writes, its access-log entry: all or nothing as before) begins after it. Nothing
    else is read in that first transaction, so nothing the request shows or changes is read
    apart from its writes; a user changed in the moment between is as one changed just
    before the request came. Elsewhere (PostgreSQL, a session already in a transaction)
    the user is read in the request's transaction: no lock is taken by reading there."""
    @functools.wraps(load)
    def loader(user_id):
        if (_reads_first() or engine().dialect.name != "sqlite"
                or ("db_session" in g and g.db_session.in_transaction())):
            return load(user_id)
        g.user_apart = True
        try:
            user = load(user_id)
        finally:
            g.pop("user_apart")
        session().commit()
        return user

    return loader


def _lock_refused(error):
    return (getattr(error.orig, "sqlite_errorcode", 0) or 0) & 0xFF == SQLITE_BUSY


def _dispatch_again_if_overtaken(app):
    """Run each view; when a GET that writes (an access-log entry, a denial) cannot take the
    write lock at its first write — another worker holds it, or wrote since this request's
    first read — run it once more from the start, holding the write lock from its first
    statement after the user's (waiting for it like any form post; user_apart). Its writes
    are flushed inside the view, so that this shows there rather than at the commit. The
    page's later requests in this worker take the lock so too (writes_on_read): a page
    that writes on read under load would otherwise be overtaken time and again."""
    view = app.dispatch_request

    def flushed():
        try:
            result = view()
        except SQLAlchemyError:
            raise
        except Exception:
            _flush()  # a refusal's denial entry, say
            raise
        _flush()
        return result

    def dispatch_request():
        try:
            return flushed()
        except OperationalError as error:
            if not (_reads_first() and _lock_refused(error)):
                raise
        app.extensions["referral.writes_on_read"].add(request.endpoint)
        stale = g.pop("db_session")
        stale.rollback()
        stale.close()
        g.pop("_login_user", None)  # loaded in the stale session: load again
        g.write_lock = True
        return flushed()

    app.dispatch_request = dispatch_request


def _flush():
    if "db_session" in g:
        g.db_session.flush()


def wrote(session):
    """Mark that this session wrote: a page that only shows commits before it renders. The
    ORM's flushes mark it themselves; a write through the session's connection calls this.
    Answers sent ahead and not yet taken are dropped: read before the write, they could
    miss it (a read asked again goes to the database)."""
    session.info["wrote"] = True
    session.info.pop("ahead", None)


@event.listens_for(Session, "after_flush")
def _flushed(session, _context):
    wrote(session)


def write_apart():
    """Commit what this request has read so far; what it writes next goes in a transaction
    of its own, which on SQLite takes the write lock as it begins. For an access-log entry
    that records a read of no personal data — a directory search, the monitor — and so need
    not share the reads' transaction: the one write lock (on PostgreSQL the log's head row)
    is then held for the entry alone, not for the whole page, and the page's reads never
    wait for it. A read of a family or a referral is logged in its reads' transaction.
    Only a page that shows (GET, HEAD) commits early: a form post holds the lock from its
    first statement anyway, and it and a command stay one transaction, all or nothing.
    On PostgreSQL nothing is committed early: reads hold no lock there, and the head row is
    locked by the entry itself, up to the commit before the page renders; an early commit
    cost a COMMIT and a BEGIN, two round trips of a page of eight."""
    if (has_request_context() and request.method in ("GET", "HEAD")
            and engine().dialect.name == "sqlite"):
        session().commit()
        g.write_lock = True


def _commit_before_rendering(_app, template=None, context=None, **_extra):
    """A page that only shows (GET, HEAD) but wrote — an access-log entry, a denial, the
    moment a referral was opened — commits before its template renders. The entry and the
    reads it records are still one transaction, committed before any of the page is sent;
    what is released earlier is SQLite's one write lock and the access log's head row on
    PostgreSQL, which every other request that logs waits for. The template renders from
    what the view loaded; if it fails, the entry stays: the data was read."""
    if not has_request_context() or request.method not in ("GET", "HEAD"):
        return
    session = g.get("db_session")
    if session is None or (template.name or "").startswith("email/"):  # a mail is part of a change
        return
    if session.new or session.dirty or session.deleted or session.info.get("wrote"):
        session.commit()
        session.info.pop("wrote", None)
        # What the template still reads (a family's key, say) needs no write lock, also on
        # a page that takes it from its first statement (writes_on_read).
        g.pop("write_lock", None)
        g.rendering = True


def init_app(app):
    app.extensions["referral.engine"] = make_engine(
        app.config["DATABASE_URL"], busy_timeout_ms=app.config["SQLITE_BUSY_TIMEOUT_MS"],
        lock_timeout_ms=app.config["POSTGRES_LOCK_TIMEOUT_MS"])
    app.extensions["referral.writes_on_read"] = set()  # endpoints, see below
    if app.config["DATABASE_URL"].startswith("sqlite"):
        _dispatch_again_if_overtaken(app)

    before_render_template.connect(_commit_before_rendering, app, weak=False)

    @app.after_request
    def commit(response):
        db = g.pop("db_session", None)
        if db is not None:
            try:
                if response.status_code >= 500:
                    db.rollback()
                else:
                    db.commit()
            finally:
                db.close()
        return response

    @app.teardown_appcontext
    def close(_exc):
        db = g.pop("db_session", None)
        if db is not None:
            db.close()  # rolls back what was not committed; loaded objects stay readable


def rows(statement, params=None, *, within=None, flushed=False):
    """The rows of a statement of columns (no models), through the connection of this
    request's session (or of `within`, another session): without the ORM, half the cost of
    a statement. For a page's reads, what the session holds unsaved is not written first;
    `flushed` writes it first, as the ORM's own read would (a post's check that must see
    what the post added, changed or removed)."""
    current, params = within or session(), params or {}
    if flushed and (current.new or current.dirty or current.deleted):
        current.flush()  # which drops what was sent ahead (wrote)
    answers = current.info.get("ahead")
    if answers:  # sent ahead (see `ahead`)
        found = answers.pop((statement, _values_key(params)), None)
        if found is not None:
            return found
    return _rows(current.connection(), statement, params)


def row(statement, params=None, *, within=None):
    """The first row of `rows`, or None."""
    found = rows(statement, params, within=within)
    return found[0] if found else None


def scalar(statement, params=None, *, flushed=False):
    """The first column of `row`, or None."""
    found = rows(statement, params, flushed=flushed)
    return found[0][0] if found else None


def write(statement, params):
    """Run a statement that changes rows and returns none (an insert, an update) through
    the session's connection, as `rows` reads: a `prepared` one through its plan. `params`
    is one row's values, or a list of them (executemany)."""
    session_ = session()
    _rows(session_.connection(), statement, params)
    wrote(session_)


def _rows(connection, statement, params):
    """A statement's rows on a connection (none for a change): one built by `prepared`
    through its plan, made at its first execution; anything else through SQLAlchemy."""
    many = isinstance(params, list)  # a change of many rows (executemany)
    first = params[0] if many else params
    key = (statement, connection.dialect.name)
    plan = _plans.get(key, _unplanned)
    if plan is _unplanned and statement in _prepared:
        result = connection.execute(statement, params)
        _plans[key] = plan = _Plan.of(result, first)
        return result.all() if result.returns_rows else []
    if plan is None or plan is _unplanned or (plan.keys is not None
                                               and first.keys() != plan.keys):
        result = connection.execute(statement, params)
        return result.all() if result.returns_rows else []
    return plan.many(connection, params) if many else plan.rows(connection, params)


_unplanned = object()


class _Plan:
    """How a kept statement goes to the database driver, learnt from its first execution
    through SQLAlchemy: its SQL, the order of its values, the conversions of the values
    going in (a UUID as SQLite stores it, say) and of the columns coming back (a date from
    SQLite's text), the rows' keys. Each later execution converts the values, hands the
    SQL to the driver and makes the same Rows from its answer, without the rest of
    SQLAlchemy's way to the driver and back, which cost more than the database (a user by
    its id: 44 µs against 7 on SQLite; on PostgreSQL 46 µs of 212). What an execution does
    stays as it was: in the connection's transaction, seen by `before_cursor_execute`
    listeners (the tests' statement counters), a driver's error raised as SQLAlchemy
    raises it (a lost connection is let go of as there); lists of values (`IN`) and
    literal values are written into the SQL per execution, by SQLAlchemy's own step.

    A change (insert, update) without RETURNING is planned for the names of the values it
    was first given (an insert's columns are those given); given others, it goes through
    SQLAlchemy. Given a list of values, a change runs once for each (executemany). One
    that fills values itself (a column's default made in Python) or returns rows, and a
    select whose rows SQLAlchemy filters, have no plan."""

    __slots__ = ("compiled", "sql", "order", "binds", "finished_per_run", "keys",
                 "metadata", "processors", "key_to_index")

    @classmethod
    def of(cls, result, params):
        context, compiled = result.context, result.context.compiled
        changes = compiled is not None and (compiled.isinsert or compiled.isupdate
                                            or compiled.isdelete)
        if (compiled is None or compiled.schema_translate_map or compiled.escaped_bind_names
                or compiled._render_postcompile or (context.executemany and not changes)
                or (changes and (result.returns_rows or compiled.insert_prefetch
                                 or compiled.update_prefetch))
                or (not changes and (not result.returns_rows
                                     or result._metadata._tuplefilter is not None))):
            return None
        plan = cls()
        plan.compiled, plan.sql = compiled, compiled.string
        plan.finished_per_run = bool(compiled.literal_execute_params
                                     or compiled.post_compile_params)
        plan.order = tuple(compiled.positiontup) if compiled.positional else None
        plan.binds = dict(compiled._bind_processors)
        plan.keys = frozenset(params) if changes else None
        plan.metadata = None if changes else result._metadata
        plan.processors = None if changes else plan.metadata._effective_processors
        plan.key_to_index = None if changes else plan.metadata._key_to_index
        return plan

    def given(self, params):
        """The SQL and values of one run, as the driver takes them."""
        values = self.compiled.construct_params(params, escape_names=False)
        sql, order, binds = self.sql, self.order, self.binds
        if self.finished_per_run:  # as SQLAlchemy does it (DefaultExecutionContext)
            finished = self.compiled._process_parameters_for_postcompile(values)
            sql, order = finished.statement, finished.positiontup
            binds = {**binds, **finished.processors}
        if order is None:
            return sql, {name: binds[name](value) if name in binds else value
                         for name, value in values.items()}
        return sql, tuple(binds[name](values[name]) if name in binds else values[name]
                          for name in order)

    def made(self, found):
        """The Rows of what the driver gave."""
        metadata, processors, key_to_index = self.metadata, self.processors, self.key_to_index
        return [Row(metadata, processors, key_to_index, data) for data in found]

    def rows(self, connection, params):
        sql, given = self.given(params)
        return self.made(self._run(connection, sql, given, many=False))

    def many(self, connection, params):
        """A change run once for each of a list of values (executemany): nothing returned."""
        if self.finished_per_run:  # the SQL could differ from one run to the next
            connection.execute(self.compiled.statement, params)
            return []
        self._run(connection, self.sql, [self.given(each)[1] for each in params], many=True)
        return []

    def _run(self, connection, sql, given, *, many):
        cursor = connection.connection.dbapi_connection.cursor()
        try:
            _seen(connection, cursor, sql, given, many=many)
            if many:
                cursor.executemany(sql, given)
            else:
                cursor.execute(sql, given)
            return cursor.fetchall() if self.metadata is not None else ()
        except connection.dialect.loaded_dbapi.Error as error:
            connection._handle_dbapi_exception(error, sql, given, cursor, None)
        finally:
            cursor.close()


def _seen(connection, cursor, sql, given, *, many=False):
    """Tell the statement listeners (before_cursor_execute), as SQLAlchemy would."""
    if connection._has_events or connection.engine._has_events:
        for listener in connection.dispatch.before_cursor_execute:
            listener(connection, cursor, sql, given, None, many)


def ahead(*reads):
    """Send a page's reads — (statement, params) pairs of kept selects, each run later by
    `rows`, `values`, `row` or `scalar` with the same values — to PostgreSQL at once, in one
    round trip (psycopg's pipeline) instead of one each: the page then takes each answer
    when it asks, in its own order. For reads whose answer nothing the request does before
    asking changes (they run earlier, in the same transaction). Each answer is taken once;
    one not taken is dropped at the transaction's end. SQLite has no round trips: nothing
    is sent ahead there, nor a statement not yet planned (its first run learns its plan)."""
    connection = session().connection()
    if connection.dialect.name != "postgresql":
        return
    planned = [(statement, params, _plans.get((statement, "postgresql")))
               for statement, params in reads]
    planned = [read for read in planned if isinstance(read[2], _Plan)
               and read[2].metadata is not None]
    if len(planned) < 2:
        return
    raw, runs = connection.connection.dbapi_connection, []
    try:
        with raw.pipeline():
            for _statement, params, plan in planned:
                sql, given = plan.given(params)
                cursor = raw.cursor()
                runs.append(cursor)
                _seen(connection, cursor, sql, given)
                cursor.execute(sql, given)
        answers = session().info.setdefault("ahead", {})
        for (statement, params, plan), cursor in zip(planned, runs, strict=True):
            answers[(statement, _values_key(params))] = plan.made(cursor.fetchall())
    except connection.dialect.loaded_dbapi.Error as error:
        connection._handle_dbapi_exception(error, None, None, None, None)
    finally:
        for cursor in runs:
            cursor.close()


def _values_key(params):
    return tuple(sorted((name, tuple(value) if isinstance(value, list) else value)
                        for name, value in params.items()))


def memo(name):
    """A dict of this transaction's own: for a look-up of data the transaction does not
    change, asked again later in it (a partner's address for each mail of a post), kept
    until the transaction ends, as answers sent ahead."""
    return session().info.setdefault("memo", {}).setdefault(name, {})


@event.listens_for(Session, "after_commit")
@event.listens_for(Session, "after_rollback")
def _forget_ahead(session_):
    session_.info.pop("ahead", None)
    session_.info.pop("memo", None)


def values(model, statement, params=None, *, flushed=False):
    """A page's rows of a model read as values: objects with the row's columns (the
    statement selects `model.__table__.columns`, and may add labelled ones), the model's
    plain properties (an encrypted value opens as it is shown) and its own methods, but
    none of the ORM's bookkeeping of a loaded object (identity, state, changes), which cost
    more than the statement. Read only: nothing set on them is saved. `flushed`: as `rows`."""
    kind = _values_class(model)
    found = []
    for row in rows(statement, params, flushed=flushed):
        value = object.__new__(kind)
        value.__dict__.update(row._mapping)
        found.append(value)
    return found


def loaded(model, statement, params):
    """The model of a statement's one row of `model.__table__.columns` (None without one),
    made the session's loaded object as the ORM's own load makes it — in its identity map,
    changes tracked and saved — without the ORM's machinery around the statement, which cost
    more than the statement (every request's first: its user). One in the session already
    is given as it is, as the ORM gives it. Nothing unsaved is flushed first: for what a
    request reads before it changes anything. Its answer may have been sent ahead."""
    read = rows(statement, params)
    return as_loaded(model, read[0]._mapping) if read else None


def stored(value):
    """A value written by `insert` as the session's loaded model object (see `loaded`),
    without reading it back: for a caller that goes on to change what was made."""
    return as_loaded(type(value).model, value.__dict__)


def as_loaded(model, values, *, fresh=False):
    """The session's loaded object of `model` with these stored column values (a mapping
    that may hold more). One the session holds already is given as it is, or, `fresh`,
    with these values, as the ORM's `populate_existing` does (a row just locked)."""
    current, mapper = session(), inspect(model)
    if not mapper.configured:  # the ORM's first statement sets its mappers up: this may be
        configure_mappers()    # a worker's first (a request's user)
    key = mapper.identity_key_from_primary_key([values[c.key] for c in mapper.primary_key])
    found = current.identity_map.get(key)
    names = _values_class(model).table_columns
    if found is not None:
        for name in names if fresh else ():
            set_committed_value(found, name, values[name])
        return found
    made = mapper.class_manager.new_instance()
    made.__dict__.update({name: values[name] for name in names})
    make_transient_to_detached(made)  # as if just read: its values are what is stored
    current.add(made)
    return made


def value_of(model, row):
    """One value (see `values`) from a row of plain columns whose first ones are
    `model.__table__.columns`, in their order (what follows them is left out)."""
    kind = _values_class(model)
    value = object.__new__(kind)
    value.__dict__.update(zip(kind.table_columns, row, strict=False))  # extras after them
    return value


def new_value(model, **given):
    """A new row of `model` as a value (see `values`) to `insert`: the columns given, the
    model's own defaults for the rest (a new id, now). Its sealed properties are set on it
    as on the model, once the columns they are sealed with (its id, its family) are."""
    kind = _values_class(model)
    value = object.__new__(kind)
    value.__dict__.update({name: given.pop(name) if name in given else default()
                           for name, default in _defaults(model)})
    if given:
        raise TypeError(f"{model.__name__} has no column {', '.join(given)}")
    return value


def insert(*values):
    """Write new values (`new_value`) as their tables' rows, in order, through kept
    inserts: not the ORM's unit of work, which cost a post more than the statements. New
    objects the session holds are inserted first (a referral before its events). Returns
    the last value."""
    current = session()
    if current.new:
        current.flush()
    for kind, together in itertools.groupby(values, type):
        rows = [{name: value.__dict__[name] for name in kind.table_columns}
                for value in together]
        write(_insert_of(kind.model), rows[0] if len(rows) == 1 else rows)
    return values[-1]


def update(obj, **changed):
    """Set columns of a model object. A stored one without other unsaved changes has them
    written at once, through a kept update, as what is stored (the ORM does not write them
    again): a note's moment on its referral, a step, without the unit of work. A new one,
    or one changed otherwise, is written by the ORM with the rest, in one statement; a new
    value (`new_value`) by `insert`."""
    state = inspect(obj, raiseerr=False)
    if state is None or not state.persistent or state.modified:
        for name, value in changed.items():
            setattr(obj, name, value)
        return
    (key,) = state.mapper.primary_key
    write(_update_of(type(obj), tuple(changed)), {"row_id": state.dict[key.key], **changed})
    for name, value in changed.items():
        set_committed_value(obj, name, value)


@prepared
def _insert_of(model):
    return model.__table__.insert()


@prepared
def _update_of(model, names):
    """An update of these columns of one row (by its key, `row_id`): one statement, and so
    one plan, per set of columns."""
    table = model.__table__
    (key,) = table.primary_key.columns
    return (table.update().where(key == bindparam("row_id"))
            .values({name: bindparam(name) for name in names}))


@functools.cache
def _defaults(model):
    """(column, a function making its default) of a model's table, from its fields."""
    return [(name, _default_of(model, name)) for name in _values_class(model).table_columns]


def _default_of(model, name):
    field = model.model_fields[name]
    if field.default_factory is not None:
        return field.default_factory
    if field.default is not PydanticUndefined:
        return lambda: field.default

    def required():
        raise TypeError(f"{model.__name__}: {name} is required")
    return required


@functools.cache
def _values_class(model):
    """The plain class of `values`: the properties and functions the model and its mixins
    of this package define (not SQLModel's or SQLAlchemy's)."""
    members = {"__tablename__": model.__tablename__, "model": model,
               "table_columns": tuple(column.name for column in model.__table__.columns)}
    for klass in reversed(model.__mro__):
        if klass.__module__.startswith("referral."):
            members.update({name: member for name, member in vars(klass).items()
                            if isinstance(member, property) or (
                                callable(member) and not name.startswith("__")
                                and not isinstance(member, type))})
    return type(f"{model.__name__}Values", (), members)


def one_of(column, words):
    """`column IN ('a', 'b', …)` of fixed words (statuses, kinds: what code names, never
    what someone typed), written into the statement itself. `in_` makes them a list
    parameter, which SQLAlchemy writes into a kept statement's SQL again on every run
    (30 µs of the home page), and which made the worklist's statement too long (4096
    characters) for psycopg to keep it converted."""
    words = sorted(str(word) for word in words)  # the same SQL in every process
    if not all(FIXED_WORD.fullmatch(word) for word in words):
        raise ValueError(f"not a fixed word: {words}")
    return column.in_([literal_column(f"'{word}'") for word in words])


FIXED_WORD = re.compile(r"[a-z0-9_-]+")


def engine():
    return current_app.extensions["referral.engine"]


def session():
    """The session of this request or command; committed by the caller's edge, not here."""
    state = g._get_current_object()
    found = state.get("db_session")
    if found is None:
        # Bound to a connection already in a transaction (the test suite does that), each
        # session works in a savepoint of it; bound to the engine, this changes nothing.
        found = state.db_session = Session(engine(), expire_on_commit=False,
                                           join_transaction_mode="create_savepoint")
    return found


def commit():
    """Commit the current session (CLI commands; requests commit in after_request)."""
    if "db_session" in g:
        g.db_session.commit()


def alembic_config():
    cfg = Config()
    cfg.set_main_option("script_location", str(config.PROJECT_ROOT / "migrations"))
    # Date-prefixed revision files, so the folder reads in the order they were written.
    cfg.set_main_option("file_template",
                        "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
    return cfg
