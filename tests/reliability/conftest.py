"""Real failures against real processes: gunicorn with its workers, and the PostgreSQL server
on 127.0.0.1:5432, which these tests stop, restart and cut connections of."""

import dataclasses
import http.client
import http.cookiejar
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from sqlmodel import select

from referral import create_app, db
from referral.auth.models import User
from referral.cases.models import Family
from referral.cases.operations import log_signal
from tests.conftest import PG_URL, _config, free_port
from tests.world import build_world

ROOT = Path(__file__).resolve().parent.parent.parent
HERE = Path(__file__).parent


def pytest_collection_modifyitems(items):
    # This hook sees every collected test, not only this folder's: mark only ours. They run
    # real processes against a database of their own, and restart the PostgreSQL server: run
    # them apart from the rest (make test does).
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.reliability)
            item.add_marker(pytest.mark.own_database)
# The PostgreSQL server is tested directly, also when the suite runs on SQLite.
PG_ADMIN_URL = PG_URL or "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PG_CLUSTER = ["15", "main"]

# Loaded by a gunicorn worker (`-c`): pauses the worker at one SQL statement (or at COMMIT)
# of the first form sent to a path (by default: a new referral), so a test can kill it or cut its connection there. Test code, in the test's
# own gunicorn config, never in the app.
PAUSE_HOOK = '''
import os, time
from sqlalchemy import event
from sqlalchemy.engine import Engine

AT, PATH = os.environ["PAUSE_AT"], os.environ["PAUSE_PATH"]
MARK, GO = os.environ["PAUSE_MARK"], os.environ["PAUSE_GO"]


def _pause():
    from flask import has_request_context, request

    if not (has_request_context() and request.method == "POST"
            and request.path.startswith(PATH)):
        return
    try:  # one request only, whichever worker runs it
        fd = os.open(MARK, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        return
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    deadline = time.monotonic() + 60
    while not os.path.exists(GO) and time.monotonic() < deadline:
        time.sleep(0.05)


def post_worker_init(worker):
    if AT == "COMMIT":
        event.listen(Engine, "commit", lambda conn: _pause())
    else:
        event.listen(Engine, "before_cursor_execute",
                     lambda conn, cursor, statement, *args: statement.startswith(AT) and _pause())
'''


# --- PostgreSQL, directly ----------------------------------------------------------------

def pg_admin():
    return sa.create_engine(sa.engine.make_url(PG_ADMIN_URL).set(database="postgres"),
                            isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)


def pg_url(name):
    return (sa.engine.make_url(PG_ADMIN_URL).set(database=name)
            .render_as_string(hide_password=False))


def pg_ready():
    return subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", "5432"],
                          check=False).returncode == 0


def pg_wait(up=True, seconds=30):
    deadline = time.monotonic() + seconds
    while pg_ready() != up:
        assert time.monotonic() < deadline, f"PostgreSQL is not {'up' if up else 'down'}"
        time.sleep(0.1)


def pg_ctl(action):
    """Stop, start or restart the PostgreSQL server (fast: connections are cut at once)."""
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *PG_CLUSTER, action,
                    *(["-m", "fast"] if action != "start" else [])],
                   check=True, capture_output=True, timeout=60)
    pg_wait(up=action != "stop")


@pytest.fixture
def postgres_server():
    """The PostgreSQL server, which the test may stop: running again afterwards, whatever
    happened (the rest of the suite needs it)."""
    yield
    if not pg_ready():
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", *PG_CLUSTER, "start"],
                       check=False, capture_output=True, timeout=60)
        pg_wait()


@pytest.fixture(scope="session")
def pg_template(template):
    """A migrated PostgreSQL template database: the suite's own on the PostgreSQL pass."""
    instance, name = template
    if PG_URL:
        yield instance, name
        return
    name = f"referral_reltmpl_{uuid.uuid4().hex[:8]}"
    with pg_admin().connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    app = create_app(_config(instance, pg_url(name)))
    with app.app_context():
        command.upgrade(db.alembic_config(), "head")
    app.extensions["referral.engine"].dispose()
    yield instance, name
    with pg_admin().connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_app_config(pg_template, tmp_path):
    """Like app_config, but always on PostgreSQL: a fresh copy of the migrated template."""
    source, template_name = pg_template
    instance = tmp_path / "pg-instance"
    shutil.copytree(source, instance)
    (instance / "referral.sqlite").unlink(missing_ok=True)
    name = f"referral_rel_{uuid.uuid4().hex[:10]}"
    with pg_admin().connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template_name}"')
    yield _config(instance, pg_url(name))
    pg_wait()
    with pg_admin().connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def backends(url, **where):
    """Process ids of the PostgreSQL backends connected to this database, but ours."""
    name = sa.engine.make_url(url).database
    sql = ("SELECT pid FROM pg_stat_activity WHERE datname = %(name)s "
           "AND pid <> pg_backend_pid()")
    for column in where:
        sql += f" AND {column} = %({column})s"
    with pg_admin().connect() as conn:
        return [row[0] for row in conn.exec_driver_sql(sql, {"name": name, **where})]


def terminate_backends(url, **where):
    pids = backends(url, **where)
    with pg_admin().connect() as conn:
        for pid in pids:
            conn.exec_driver_sql("SELECT pg_terminate_backend(%(pid)s)", {"pid": pid})
    return pids


@contextmanager
def write_lock(app_config):
    """Hold what a referral's write needs, from another connection: SQLite's write lock, or
    PostgreSQL's audit chain head row (every audited write locks it after its own rows)."""
    url = app_config["DATABASE_URL"]
    if url.startswith("sqlite"):
        conn = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    conn = engine.connect()
    try:
        conn.exec_driver_sql("SELECT seq FROM audit_head WHERE id = 1 FOR UPDATE")
        yield
    finally:
        with suppress(sa.exc.OperationalError):  # gone if the test restarted the server
            conn.rollback()
        conn.close()
        engine.dispose()


# --- gunicorn ----------------------------------------------------------------------------

@dataclass
class Server:
    base: str
    process: subprocess.Popen

    def worker_pids(self):
        path = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return {int(pid) for pid in path.read_text().split()}

    def wait_for_workers(self, count, seconds=30):
        deadline = time.monotonic() + seconds
        while len(self.worker_pids()) != count:
            assert time.monotonic() < deadline, "gunicorn did not start its workers"
            time.sleep(0.1)


@pytest.fixture
def gunicorn(tmp_path):
    """Start gunicorn on a free port for an app configuration (its instance folder and
    database URL), like production; every server is stopped at teardown."""
    servers = []

    def start(app_config, *, workers=2, timeout=30, pause_at=None, pause_path="/referrals/new/",
              env=None):
        port = free_port()
        environ = {**os.environ, "REFERRAL_INSTANCE_PATH": app_config["INSTANCE_PATH"],
                   "REFERRAL_DATABASE_URL": app_config["DATABASE_URL"],
                   "REFERRAL_SECRET_KEY": app_config["SECRET_KEY"], "REFERRAL_ENV": "testing",
                   **(env or {})}
        command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b",
                   f"127.0.0.1:{port}", "--timeout", str(timeout), "--graceful-timeout", "2",
                   "--log-level", "warning"]
        if pause_at:
            hook = tmp_path / "pause_hook.py"
            hook.write_text(PAUSE_HOOK)
            command += ["-c", str(hook)]
            environ.update(PAUSE_AT=pause_at, PAUSE_PATH=pause_path, PAUSE_MARK=str(tmp_path / "paused"),
                           PAUSE_GO=str(tmp_path / "go"))
        process = subprocess.Popen([*command, "referral.wsgi:app"], env=environ, cwd=ROOT)
        server = Server(f"http://127.0.0.1:{port}", process)
        servers.append(server)
        deadline = time.monotonic() + 30
        while Browser(server.base).get("/healthz", timeout=1).status != 200:
            assert process.poll() is None, "gunicorn stopped"
            assert time.monotonic() < deadline, "gunicorn did not answer /healthz"
            time.sleep(0.1)
        server.wait_for_workers(workers)
        return server

    yield start
    for server in servers:
        # Nothing to wait for at the end of a test: kill the master and its workers at once.
        workers = server.worker_pids() if server.process.poll() is None else set()
        server.process.kill()
        server.process.wait()
        for pid in workers:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def paused_worker(tmp_path, seconds=20):
    """The pid of the worker that the pause hook holds, once it is there."""
    mark = tmp_path / "paused"
    deadline = time.monotonic() + seconds
    while not (mark.exists() and mark.read_text()):
        assert time.monotonic() < deadline, "no request reached the pause"
        time.sleep(0.02)
    return int(mark.read_text())


def resume(tmp_path):
    (tmp_path / "go").touch()


# --- a browser over real HTTP ------------------------------------------------------------

@dataclass
class Response:
    status: int
    text: str
    url: str = ""


class Browser:
    """Cookies, CSRF tokens and redirects over real HTTP; a lost connection is status 0."""

    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, path, data=None, timeout=30):
        body = urllib.parse.urlencode(data, doseq=True).encode() if data is not None else None
        try:
            with self.opener.open(f"{self.base}{path}", data=body, timeout=timeout) as page:
                return Response(page.status, page.read().decode(), page.url)
        except urllib.error.HTTPError as error:
            return Response(error.code, error.read().decode(), error.url)
        except (OSError, http.client.HTTPException) as error:  # refused, reset, timed out
            return Response(0, repr(error))

    def get(self, path, **kwargs):
        return self.request(path, **kwargs)

    def form(self, path):
        """The page's form fields that have a value (hidden ones, dates), and its token."""
        page = self.get(path)
        assert page.status == 200, (path, page.status)
        fields = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', page.text))
        assert "csrf_token" in fields, f"no form on {path}"
        return fields

    def post_form(self, path, data, *, page=None, **kwargs):
        return self.request(path, {"csrf_token": self.form(page or path)["csrf_token"], **data},
                            **kwargs)

    def login(self, person):
        page = self.post_form("/login", {"email": person.email, "password": person.password})
        assert page.status == 200 and "/login" not in page.url, page.status


@pytest.fixture
def world(app, make_user, make_service):
    """The world, whose signal is a new one with nothing referred from it yet: the refer form
    below sends from it to the inbox service (one open referral per signal and service)."""
    built = build_world(app, make_user, make_service)
    with app.app_context():
        session = db.session()
        signal = log_signal(session.get(User, built.owner.id),
                            session.get(Family, built.family_id), domains=["food"],
                            source="conversation", observations="Weer gezien.")
        db.commit()
        return dataclasses.replace(built, signal_id=signal.id)


def refer_form(browser, alliance):
    """The new-referral form of the world's signal, filled in to send to the inbox service."""
    path = f"/referrals/new/{alliance.signal_id}"
    fields = browser.form(path)
    data = {"csrf_token": fields["csrf_token"], "form_token": fields["form_token"],
            "follow_up_on": fields["follow_up_on"], "services": str(alliance.inbox_service),
            "message": "Graag contact over een voedselpakket.", "send": "1"}
    return path, data


def on_every_worker(browser, server, path):
    """Request path once from each worker, the others stopped (SIGSTOP) so that this one
    takes it; return the status each worker answered."""
    statuses, workers = {}, server.worker_pids()
    for pid in workers:
        others = workers - {pid}
        for other in others:
            os.kill(other, signal.SIGSTOP)
        try:
            statuses[pid] = browser.get(path).status
        finally:
            for other in others:
                os.kill(other, signal.SIGCONT)
    return statuses


# --- what the database holds -------------------------------------------------------------

def referral_records(app_config):
    """Each referral with what must be saved with it; and the audit chain's verdict."""
    from referral.audit.chain import verify
    from referral.audit.models import AuditEvent
    from referral.mail import OutboxMessage
    from referral.referrals.models import Referral, ReferralEvent

    app = create_app(app_config)
    try:
        with app.app_context():
            session = db.session()
            records = {}
            for referral in session.exec(select(Referral)).all():
                events = session.exec(select(ReferralEvent.kind).where(
                    ReferralEvent.referral_id == referral.id)).all()
                audited = session.exec(select(AuditEvent.summary).where(
                    AuditEvent.object_type == "referral",
                    AuditEvent.object_id == str(referral.id))).all()
                mails = [m for m in session.exec(select(OutboxMessage).where(
                    OutboxMessage.family_id == referral.family_id)).all()
                    if str(referral.id) in m.body]
                records[referral.submission_key.split(":")[0]] = dict(
                    status=referral.status, events=sorted(events), audit=sorted(audited),
                    mails=len(mails))
            return records, verify(session, app.instance_path)
    finally:
        app.extensions["referral.engine"].dispose()


def assert_all_or_nothing(app_config, *, saved=(), not_saved=()):
    """The referrals of the `saved` form tokens are there whole (sent: its events, audit
    entries and mail); those of `not_saved` left nothing; the audit chain is intact."""
    records, broken = referral_records(app_config)
    assert broken is None, broken
    for token in saved:
        assert records.get(token) == dict(
            status="requested", events=["created", "status"],
            audit=["referral created", "referral draft -> requested"], mails=1), token
    for token in not_saved:
        assert token not in records, token
