"""What a request sends its database on a connection from the pool: BEGIN, its statements,
COMMIT. On PostgreSQL each is a round trip; the check that a pooled connection still lives
(pre-ping, so a connection cut by a restart is replaced before use) is that BEGIN, not a
statement of its own."""

import re
import tempfile
from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from psycopg.pq import Trace

from referral import db

pytestmark = pytest.mark.own_database  # the app's own engine and pool, not the test's


class Sent:
    """The commands the app's connections send, in order: SQLite's trace callback, or
    libpq's protocol trace (simple queries and the statements of extended ones)."""

    def __init__(self, file=None):
        self.traced, self.file, self.start = [], file, 0

    def connect(self, dbapi_connection, _record):
        if self.file is None:
            dbapi_connection.set_trace_callback(self.traced.append)
        else:
            dbapi_connection.pgconn.trace(self.file.fileno())
            dbapi_connection.pgconn.set_trace_flags(Trace.SUPPRESS_TIMESTAMPS
                                                    | Trace.REGRESS_MODE)

    def clear(self):
        self.traced.clear()
        if self.file is not None:
            self.start = self.file.seek(0, 2)

    def commands(self):
        if self.file is None:
            return list(self.traced)
        self.file.seek(self.start)
        return [found.group(1) for found in
                re.finditer(r'^F\t\d+\t(?:Query|Parse)\t (?:"[^"]*" )?"(.*?)"',
                            self.file.read(), re.M)]



@contextmanager
def sent(app):
    engine = app.extensions["referral.engine"]
    engine.dispose()  # new connections, each traced from its start
    with tempfile.TemporaryFile("w+") as file:
        recorder = Sent(None if engine.dialect.name == "sqlite" else file)
        sa.event.listen(engine, "connect", recorder.connect)
        try:
            yield recorder
        finally:
            sa.event.remove(engine, "connect", recorder.connect)
            engine.dispose()


def test_a_pooled_connection_costs_no_statement_of_its_own(app, client):
    with sent(app) as recorder:
        assert client.get("/readyz").status_code == 200  # a new connection, then pooled
        recorder.clear()
        assert client.get("/readyz").status_code == 200
        commands = recorder.commands()
    assert [c.split()[0].upper() for c in commands] == ["BEGIN", "SELECT", "COMMIT"], commands


def test_a_list_is_planned_once_per_connection(app, client, login, world):
    """The partner's inbox, asked for again and again: its statements are the same texts
    each time, so each connection compiles them once (SQLite's statement cache, psycopg's
    prepared statements after five runs); and PostgreSQL plans a prepared one once, not
    at every run: its seven-table statement took 2 ms to plan, more than to run."""
    login(world.partner)
    engine = app.extensions["referral.engine"]
    texts = []

    def seen(_conn, _cursor, statement, *_args):
        texts.append(statement)

    for run in range(12):  # two more than psycopg's five runs and PostgreSQL's five plans
        texts.clear()
        sa.event.listen(engine, "before_cursor_execute", seen)
        try:
            assert client.get("/referrals/").status_code == 200
        finally:
            sa.event.remove(engine, "before_cursor_execute", seen)
        if run == 0:
            first = list(texts)
    assert texts == first and len(texts) >= 3
    if engine.dialect.name == "sqlite":
        return
    with app.app_context():
        plans = db.session().connection().execute(sa.text(
            "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements")).all()
    inbox = [plan for plan in plans if "referral.by_inbox" in plan.statement]
    assert inbox and all(plan.generic_plans >= 1 for plan in inbox), plans
    assert all(plan.custom_plans == 0 for plan in plans), plans


def test_a_search_logs_in_its_reads_transaction_on_postgresql(app, client, login, world):
    """A directory search logs apart from its reads on SQLite (its reads start without the
    write lock; the entry's transaction takes it): two transactions. On PostgreSQL reads
    hold no lock and the entry locks the log's head itself, so the entry is written in the
    reads' transaction: one BEGIN and one COMMIT, each a round trip there."""
    login(world.owner)
    with sent(app) as recorder:
        assert client.get("/directory/?q=voedsel").status_code == 200  # connections made
        recorder.clear()
        assert client.get("/directory/?q=ontbijt").status_code == 200
        commands = [c.split()[0].upper() for c in recorder.commands() if c.strip()]
    transactions = 2 if app.extensions["referral.engine"].dialect.name == "sqlite" else 1
    assert commands.count("COMMIT") == transactions, commands
    assert commands.count("BEGIN") == transactions, commands
