"""Fixtures: one migrated database per test process, and each test inside a transaction that
is rolled back at its end; a fresh copy of the database only for the tests that need their own
(marker `own_database`: other processes, raw files, migrations, concurrency). On SQLite, or on
PostgreSQL when REFERRAL_TEST_DATABASE_URL is set."""

import json
import os
import re
import shutil
import socket
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta

import pytest
import sqlalchemy as sa
from aiosmtpd.controller import Controller
from alembic import command
from argon2 import PasswordHasher
from sqlmodel import select

from referral import create_app, crypto, db, policy
from referral.auth import credentials as passwords
from referral.auth.models import User
from referral.directory.models import Organisation
from referral.directory.operations import create_organisation, create_service
from tests.matrix import ROLE_PEOPLE
from tests.world import build_world

PG_URL = os.environ.get("REFERRAL_TEST_DATABASE_URL")
PASSWORD = "lange-zin-als-wachtwoord"
AMSTERDAM = ("GM0363", "Amsterdam")
RECENTLY = date.today() - timedelta(days=30)
# Argon2 at its lowest cost: the production cost (about 0.3 s a hash) made most of the
# suite's time. Tests about hashing itself are marked `real_hasher`.
CHEAP_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


@pytest.fixture(autouse=True)
def _password_hashing(request, monkeypatch):
    if request.node.get_closest_marker("real_hasher"):
        yield
        return
    monkeypatch.setattr(passwords, "hasher", CHEAP_HASHER)
    passwords.dummy_hash.cache_clear()
    yield
    passwords.dummy_hash.cache_clear()  # never leave a cheap dummy hash to another test


def _admin_engine():
    # No pool: every connection is closed at once, so no ResourceWarning and no lingering
    # session that would stop CREATE DATABASE … TEMPLATE.
    return sa.create_engine(sa.engine.make_url(PG_URL), isolation_level="AUTOCOMMIT",
                            poolclass=sa.pool.NullPool)


def _pg_url(name):
    return sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


def _create_database(template=None):
    """A new PostgreSQL database (a copy of `template`, if given): its name."""
    # The worker's name in it, so parallel workers (pytest-xdist) can tell theirs apart.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"referral_{worker}_{uuid.uuid4().hex[:10]}"
    with _admin_engine().connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"'
                             + (f' TEMPLATE "{template}"' if template else ""))
    return name


def _drop_database(name):
    with _admin_engine().connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _config(instance, url, **extra):
    return {"TESTING": True, "INSTANCE_PATH": str(instance), "DATABASE_URL": url,
            "SECRET_KEY": "test-secret", "ENV": "testing",
            "MONITOR_CACHE_SECONDS": 0, **extra}


@pytest.fixture(scope="session")
def template(tmp_path_factory):
    """An instance folder with keys, and a database migrated to head."""
    instance = tmp_path_factory.mktemp("template") / "instance"
    instance.mkdir()
    crypto.write_private(instance / "keys.json", json.dumps(crypto.new_key_material()))
    if PG_URL:
        name = _create_database()
        url = _pg_url(name)
    else:
        name, url = None, f"sqlite:///{instance / 'referral.sqlite'}"
    app = create_app(_config(instance, url))
    with app.app_context():
        command.upgrade(db.alembic_config(), "head")
    app.extensions["referral.engine"].dispose()
    yield instance, name
    if name:
        _drop_database(name)


@pytest.fixture(scope="session")
def shared_database(template, tmp_path_factory):
    """This process's copy of the template that every test shares, each in a transaction of
    its own: its URL and an engine."""
    source, template_name = template
    if template_name:
        name = _create_database(template_name)
        url = _pg_url(name)
    else:
        folder = tmp_path_factory.mktemp("shared")
        shutil.copy(source / "referral.sqlite", folder / "referral.sqlite")
        name, url = None, f"sqlite:///{folder / 'referral.sqlite'}"
    engine = db.make_engine(url)
    yield url, engine
    engine.dispose()
    if name:
        _drop_database(name)


@pytest.fixture
def new_database(template, tmp_path):
    """Make fresh copies of the migrated template: (instance folder, database URL)."""
    source, template_name = template
    made = []

    def make(label="instance"):
        instance = tmp_path / label
        shutil.copytree(source, instance)
        if not template_name:
            return instance, f"sqlite:///{instance / 'referral.sqlite'}"
        name = _create_database(template_name)
        made.append(name)
        return instance, _pg_url(name)

    yield make
    for name in made:
        _drop_database(name)


@pytest.fixture
def connection(request, shared_database):
    """The shared database, inside a transaction that is rolled back after the test; None for
    a test with a database of its own."""
    if request.node.get_closest_marker("own_database"):
        yield None
        return
    _url, engine = shared_database
    conn = engine.connect()
    outer = conn.begin()
    yield conn
    outer.rollback()
    conn.close()


@pytest.fixture
def app_config(request, connection, new_database, shared_database, template, tmp_path):
    """The configuration of this test's app: its own instance folder (keys, the access log's
    head file) and the shared database, or a fresh copy of its own."""
    if connection is None:
        return _config(*new_database())
    instance = tmp_path / "instance"
    shutil.copytree(template[0], instance, ignore=shutil.ignore_patterns("referral.sqlite*"))
    return _config(instance, shared_database[0])


@pytest.fixture
def make_app(app_config, connection):
    """Build apps on this test's database (several, like several worker processes). On the
    shared database every session of the app joins the test's transaction (db.session makes
    a savepoint for each request or command), so nothing outlives the test."""
    apps = []

    def make(**overrides):
        app = create_app({**app_config, **overrides})
        if connection is not None and app.config["DATABASE_URL"] == app_config["DATABASE_URL"]:
            app.extensions["referral.engine"].dispose()
            app.extensions["referral.engine"] = connection
        apps.append(app)
        return app

    yield make
    for app in apps:
        if app.extensions["referral.engine"] is not connection:
            app.extensions["referral.engine"].dispose()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture(scope="session")
def bare_app(tmp_path_factory):
    """An app that never touches a database, for pure table tests (rules, lifecycle, labels):
    built once for the whole session."""
    instance = tmp_path_factory.mktemp("bare")
    crypto.write_private(instance / "keys.json", json.dumps(crypto.new_key_material()))
    return create_app(_config(instance, "sqlite://"))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@dataclass
class Person:
    id: uuid.UUID
    email: str
    password: str
    role: str


@pytest.fixture
def make_user(app):
    """Create an account and return its id, email and password."""
    from referral.auth.operations import create_user

    count = 0

    def make(role="professional", *, email=None, password=PASSWORD, trained_on=RECENTLY,
             organisation=None, active=True, totp_secret=None):
        nonlocal count
        count += 1
        email = email or f"{role}{count}@example.org"
        with app.app_context():
            session = db.session()
            org_id = None
            if organisation:
                org = session.exec(select(Organisation).where(
                    Organisation.name == organisation)).first()
                if org is None:
                    org = Organisation(name=organisation)
                    session.add(org)
                    session.flush()
                org_id = org.id
            user = create_user(policy.COMMAND_LINE, email=email, name=f"Test Persoon {count}",
                               role=role, password=password, organisation_id=org_id,
                               trained_on=trained_on if role == "professional" else None)
            user.active = active
            if totp_secret:
                user.totp_secret = totp_secret
            db.commit()
            return Person(user.id, email, password, role)

    return make


@pytest.fixture
def make_service(app):
    """Create a service (and its organisation) through the directory's operations, as the
    command line; return its id."""

    def make(name, *, organisation="Stichting Voorbeeld", domains=("food",), areas=(AMSTERDAM,),
             description="Hulp voor gezinnen.", checked=None, **fields):
        with app.app_context():
            session = db.session()
            org = session.exec(select(Organisation).where(Organisation.name == organisation)
                               ).first()
            if org is None:
                org = create_organisation(policy.COMMAND_LINE, name=organisation)
            service = create_service(policy.COMMAND_LINE, org, name=name, description=description,
                                     domains=list(domains), areas=list(areas), languages=["nl"],
                                     assured_date=checked or date.today(), **fields)
            db.commit()
            return service.id

    return make

# --- the people and the small alliance most tests share -------------------------------------

@pytest.fixture
def world(app, make_user, make_service):
    """The small alliance of tests/world.py: a family referred to an inbox and a letter
    service, and everyone who might look at it."""
    return build_world(app, make_user, make_service)


@pytest.fixture
def actors(world, make_user):
    """A function from an actor's name (tests/matrix.py: ROLE_ACTORS) to the actor, loaded in
    the current app context."""
    ids = {name: getattr(world, name).id for name in ROLE_PEOPLE | {"colleague"}}
    ids["inactive_coordinator"] = make_user("coordinator", organisation="Alliantie",
                                            active=False).id
    ids["inactive_officer"] = make_user("privacy_officer", organisation="Alliantie",
                                        active=False).id

    def get(name):
        if name == "command_line":
            return policy.COMMAND_LINE
        return db.session().get(User, ids[name])

    return get


@dataclass
class Staff:
    """Someone of every role, and one service of each of the two partners' organisations."""

    professional: object
    partner: object  # staff of Voedselbank, whose service it is
    other_partner: object  # staff of Jeugdfonds, another organisation
    bridge: object
    coordinator: object
    privacy: object
    service: uuid.UUID  # Voedselbank's
    other_service: uuid.UUID  # Jeugdfonds's

    def user(self, name):
        """The acting user by name, loaded in this session; "command_line" for the CLI."""
        if name == "command_line":
            return policy.COMMAND_LINE
        return db.session().get(User, getattr(self, name).id)


@pytest.fixture
def staff(make_user, make_service):
    """Someone of every role, and a service of each of two partners' organisations."""
    return Staff(
        professional=make_user("professional", organisation="JGZ Noord"),
        partner=make_user("partner", organisation="Voedselbank"),
        other_partner=make_user("partner", organisation="Jeugdfonds"),
        bridge=make_user("bridge", organisation="Ervaringsdeskundigen"),
        coordinator=make_user("coordinator", organisation="Alliantie"),
        privacy=make_user("privacy_officer", organisation="Alliantie"),
        service=make_service("Voedselpakket", organisation="Voedselbank",
                             referral_route="inbox"),
        other_service=make_service("Sportfonds", organisation="Jeugdfonds",
                                   domains=("sport_culture",), referral_route="inbox"))


def csrf_token(client, path):
    """The CSRF token of the form on the page at path."""
    page = client.get(path)
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page.text)
    assert match, f"no form with a CSRF token on {path} ({page.status_code})"
    return match.group(1)


def post_form(client, path, data, *, page=None, **kwargs):
    """Post a form like a browser would: with the token from the page that shows it."""
    token = csrf_token(client, page or path)
    return client.post(path, data={"csrf_token": token, **data}, **kwargs)



def browser(app, person):
    """A client of its own, logged in as this person."""
    client = app.test_client()
    post_form(client, "/login", {"email": person.email, "password": person.password})
    return client

@pytest.fixture
def login(client):
    def do(person, *, follow=False):
        client.delete_cookie("referral_session")  # whoever was logged in before
        return post_form(client, "/login", {"email": person.email, "password": person.password},
                         follow_redirects=follow)

    return do


def audit_entries(app, **filters):
    from referral.audit.models import AuditEvent

    with app.app_context():
        query = select(AuditEvent).order_by(AuditEvent.seq)
        for name, value in filters.items():
            query = query.where(getattr(AuditEvent, name) == value)
        return db.session().exec(query).all()


@contextmanager
def raw_connection(app):
    """A connection to the app's database, past the app's sessions, that sees what the app
    committed: the test's own on the shared database (in a savepoint), else a new one."""
    bind = app.extensions["referral.engine"]
    if isinstance(bind, sa.Connection):
        with bind.begin_nested():
            yield bind
    else:
        with bind.begin() as conn:
            yield conn


# The test suite runs each request in a savepoint of the test's transaction: those statements
# are not the page's own.
SAVEPOINTS = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


@contextmanager
def counted_queries(app):
    """The SQL statements the app runs inside the block, as a list that fills."""
    statements = []
    engine = app.extensions["referral.engine"]

    def track(*args):
        if not args[2].startswith(SAVEPOINTS):
            statements.append(args[2])

    sa.event.listen(engine, "before_cursor_execute", track)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", track)


def count_queries(app, client, path):
    """The number of SQL statements the app runs to serve one GET of path."""
    with counted_queries(app) as statements:
        response = client.get(path)
    assert response.status_code == 200, path
    return len(statements)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's name)
        self.messages.append((envelope.rcpt_tos, envelope.content.decode()))
        return "250 OK"


@pytest.fixture
def smtp():
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    inbox.port = port
    yield inbox
    controller.stop()
