"""Kept statements (db.prepared) go to the database driver through a plan learnt at their
first execution (db._Plan): the same rows, values and errors as through SQLAlchemy, seen by
the statement listeners, on SQLite and PostgreSQL."""

import re
import uuid
from contextlib import contextmanager
from datetime import UTC, date, datetime

import pytest
from psycopg import pq
from sqlalchemy import bindparam, event, exc, select

from referral import db
from referral.auth.models import User
from referral.monitor.models import MonitorCache
from tests.conftest import SAVEPOINTS, counted_queries


@db.prepared
def _users():
    return (select(*User.__table__.columns)
            .where(User.id.in_(bindparam("ids", expanding=True)))
            .where(User.trained_on != bindparam("not_on"))
            .order_by(User.email_index))


@db.prepared
def _add_count():
    return MonitorCache.__table__.insert()


@db.prepared
def _change_count():
    table = MonitorCache.__table__
    return table.update().where(table.c.key == bindparam("count_key"))


def _through_sqlalchemy(statement, params):
    return db.session().connection().execute(statement, params).all()


def test_a_kept_select_reads_the_same_rows_and_values_through_its_plan(app, world, make_user):
    other = make_user()
    with app.test_request_context():
        statement = _users()
        one, both = ({"ids": [world.owner.id], "not_on": date(1999, 1, 1)},
                     {"ids": [world.owner.id, other.id], "not_on": date(1999, 1, 1)})
        first = db.rows(statement, one)  # through SQLAlchemy: the plan is learnt
        assert db._plans[(statement, db.engine().dialect.name)] is not None
        for params in (one, both, one):  # through the plan, each list written into the SQL
            planned, expected = db.rows(statement, params), _through_sqlalchemy(statement,
                                                                                 params)
            assert planned == expected and len(planned) == len(params["ids"])
            for got, wanted in zip(planned, expected, strict=True):
                assert got._mapping == wanted._mapping
                assert [type(value) for value in got] == [type(value) for value in wanted]
        assert first == db.rows(statement, one)
        row = db.row(statement, both)
        assert isinstance(row.id, type(world.owner.id)) and isinstance(row.created_at, datetime)
        assert isinstance(row.active, bool) and row.trained_on is not None
        assert db.scalar(statement, both) == row.id
        assert db.rows(statement, {"ids": [], "not_on": date(1999, 1, 1)}) == []


def test_a_kept_change_runs_through_its_plan_and_other_columns_through_sqlalchemy(app):
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    with app.test_request_context():
        for number in range(3):  # the first learns the plan, the others use it
            db.write(_add_count(), {"key": f"plan-{number}", "computed_at": moment,
                                    "tables": "[]"})
        assert db._plans[(_add_count(), db.engine().dialect.name)] is not None
        db.write(_change_count(), {"count_key": "plan-1", "tables": "[1]"})
        # Other columns given: not the statement of the plan (an update of other columns).
        db.write(_change_count(), {"count_key": "plan-2", "computed_at": moment.replace(
            year=2025)})
        db.commit()
    with app.test_request_context():
        stored = {row.key: (row.tables, db.aware(row.computed_at)) for row in db.rows(
            select(MonitorCache.key, MonitorCache.tables, MonitorCache.computed_at)
            .where(MonitorCache.key.like("plan-%")))}
        assert stored == {"plan-0": ("[]", moment), "plan-1": ("[1]", moment),
                          "plan-2": ("[]", moment.replace(year=2025))}


def test_a_kept_change_of_many_rows_runs_once_through_its_plan(app, monkeypatch):
    """A list of values (executemany) goes through the plan learnt from the list itself (or
    from one row): every row written, one statement for the listeners each time."""
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    planned = []
    many = db._Plan.many
    monkeypatch.setattr(db._Plan, "many", lambda plan, connection, params: (
        planned.append(len(params)), many(plan, connection, params))[1])

    def rows(*keys):
        return [{"key": key, "computed_at": moment, "tables": "[]"} for key in keys]

    with app.test_request_context():
        db.write(_add_count(), rows("many-0", "many-1"))  # learns the plan
        assert db._plans[(_add_count(), db.engine().dialect.name)] is not None
        with counted_queries(app) as seen:
            db.write(_add_count(), rows("many-2", "many-3", "many-4"))
            db.write(_add_count(), rows("many-5"))
        assert planned[-2:] == [3, 1]  # (the first too, when an earlier test learnt it)
        assert len(seen) == 2 and all(text.startswith("INSERT") for text in seen)
        db.commit()
    with app.test_request_context():
        stored = db.rows(select(MonitorCache.key).where(MonitorCache.key.like("many-%"))
                         .order_by(MonitorCache.key))
        assert [row.key for row in stored] == [f"many-{n}" for n in range(6)]


@db.prepared
def _users_in_roles():
    return (select(User.id).where(db.one_of(User.role, ["professional", "partner"]))
            .where(User.id == bindparam("id")))


def test_fixed_words_are_written_into_a_kept_statement_once(app, world):
    """`db.one_of` writes fixed words (statuses, kinds) into the SQL: no list parameter
    for SQLAlchemy to write in again on every run; what is not a plain word is refused."""
    with app.test_request_context():
        assert db.rows(_users_in_roles(), {"id": world.owner.id})[0].id == world.owner.id
        plan = db._plans[(_users_in_roles(), db.engine().dialect.name)]
        assert not plan.finished_per_run and "'partner', 'professional'" in plan.sql
        with counted_queries(app) as seen:
            assert db.rows(_users_in_roles(), {"id": world.coordinator.id}) == []
        assert "'professional')" in seen[0]
    with pytest.raises(ValueError, match="not a fixed word"):
        db.one_of(User.role, ["partner'); DROP TABLE user_account; --"])


def test_statement_listeners_see_each_planned_execution(app, world):
    with app.test_request_context():
        params = {"ids": [world.owner.id], "not_on": date(1999, 1, 1)}
        db.rows(_users(), params)
        with counted_queries(app) as seen:
            db.rows(_users(), params)
            db.rows(_users(), params)
        assert len(seen) == 2 and all("FROM user_account" in text for text in seen)


def test_a_drivers_error_in_a_planned_statement_is_raised_as_sqlalchemy_raises_it(app):
    moment = datetime(2026, 1, 2, tzinfo=UTC)
    with app.test_request_context():
        db.write(_add_count(), {"key": "twice", "computed_at": moment, "tables": "[]"})
        db.write(_add_count(), {"key": "once", "computed_at": moment, "tables": "[]"})
        with pytest.raises(exc.IntegrityError):
            db.write(_add_count(), {"key": "twice", "computed_at": moment, "tables": "[]"})
        db.session().rollback()
        assert db.rows(select(MonitorCache.key).where(MonitorCache.key == "twice")) == []


def _reads(world):
    from referral.cases.queries import family_page_reads

    return family_page_reads(world.family_id)


@contextmanager
def _sent(app):
    """The statements sent inside the block, each with whether it went in a pipeline."""
    sent = []

    def seen(_conn, cursor, statement, *_args):
        if statement.startswith(SAVEPOINTS):  # the tests' own transaction around the app's
            return
        pgconn = getattr(cursor.connection, "pgconn", None)  # psycopg's; not sqlite3's
        sent.append((statement, pgconn is not None
                     and pgconn.pipeline_status != pq.PipelineStatus.OFF))

    engine = app.extensions["referral.engine"]
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def test_reads_sent_ahead_are_answered_as_read_once_each(app, world):
    """On PostgreSQL, reads sent ahead go in one pipeline and each is then answered from
    it, once; on SQLite nothing is sent ahead (no round trips to save)."""
    postgres = app.config["DATABASE_URL"].startswith("postgresql")
    with app.test_request_context():
        reads = _reads(world)
        expected = [_through_sqlalchemy(statement, params) for statement, params in reads]
        for statement, params in reads:  # the plans are learnt at a first run
            db.rows(statement, params)
        with _sent(app) as ahead:
            db.ahead(*reads)
        with _sent(app) as asked:
            answers = [db.rows(statement, params) for statement, params in reads]
        assert answers == expected and any(expected)
        if postgres:
            assert len(ahead) == len(reads) and all(piped for _sql, piped in ahead)
            assert asked == []
        else:
            assert ahead == [] and len(asked) == len(reads)
        with _sent(app) as again:  # taken once: asked again, read again
            db.rows(*reads[0])
        assert len(again) == 1


def test_an_answer_sent_ahead_is_not_kept_past_its_transaction_or_for_other_values(
        app, world, make_user):
    with app.test_request_context():
        reads = _reads(world)
        for statement, params in reads:
            db.rows(statement, params)
        db.ahead(*reads)
        statement, params = reads[0]
        with _sent(app) as other:
            db.rows(statement, {"family": uuid.uuid4()})
        assert len(other) == 1
        db.commit()
        with _sent(app) as after:
            db.rows(statement, params)
        assert len(after) == 1


def test_pages_send_their_independent_reads_ahead_on_postgresql(app, client, world, login):
    postgres = app.config["DATABASE_URL"].startswith("postgresql")
    for person, path, ahead in ((world.owner, f"/families/{world.family_id}", 6),
                                (world.owner, f"/referrals/{world.inbox_referral}", 3),
                                (world.owner, "/referrals/", 2),  # my referrals
                                (world.partner, "/referrals/", 2)):  # the inbox
        login(person)
        client.get(path)  # the plans are learnt
        with _sent(app) as sent:
            assert client.get(path).status_code == 200
        piped = sum(1 for _sql, in_pipeline in sent if in_pipeline)
        assert piped == (ahead if postgres else 0), path
        # Each read sent ahead is answered from the pipeline, not sent again.
        again = {sql for sql, in_pipeline in sent if not in_pipeline}
        assert not again & {sql for sql, in_pipeline in sent if in_pipeline}, path


def test_the_referring_post_sends_its_checks_ahead_on_postgresql(app, world):
    """Once the signal is locked, the earlier-submission, open-referral and consent checks
    and the partner's address go to PostgreSQL at once, each answered from there (the
    address taken before the post's first write, which drops what is not); the referral
    is made and sent, and the partner's mail queued."""
    from referral.cases.models import Family
    from referral.cases.operations import log_signal
    from referral.directory.models import Service
    from referral.referrals.models import Status
    from referral.referrals.operations import refer
    from referral.referrals.queries import default_follow_up

    postgres = app.config["DATABASE_URL"].startswith("postgresql")
    with app.test_request_context():
        session = db.session()
        nurse, family = session.get(User, world.owner.id), session.get(Family, world.family_id)
        service = session.get(Service, world.inbox_service)
        for number in range(2):  # the first learns the checks' plans
            signal = log_signal(nurse, family, domains=["food"], source="conversation",
                                observations=f"Signaal {number}")
            with _sent(app) as sent:
                made = refer(nurse, family, signal, [service], message="Graag contact.",
                             follow_up_on=default_follow_up(), send=True,
                             form_token=str(uuid.uuid4()))
        assert [referral.status for referral in made] == [Status.requested]
        piped = {sql for sql, in_pipeline in sent if in_pipeline}
        assert len(piped) == (4 if postgres else 0)
        assert sum("INSERT INTO outbox_message" in sql for sql, _ in sent) == 1
        assert not piped & {sql for sql, in_pipeline in sent if not in_pipeline}
        db.commit()


def test_a_partners_step_reads_the_owner_it_tells_with_the_consent(app, world):
    """The partner's step tells the owner by mail: the owner's address is read once, with
    the consent and before the step's writes, in one pipeline on PostgreSQL (not one round
    trip each, the second after the writes); the mail goes to the owner."""
    from referral.auth.queries import user_read
    from referral.mail import OutboxMessage
    from referral.policy.queries import active_consent_read
    from referral.referrals.models import Referral, Status
    from referral.referrals.operations import change_status

    postgres = app.config["DATABASE_URL"].startswith("postgresql")
    with app.test_request_context():
        session = db.session()
        owner_address = session.get(User, world.owner.id).email
        referral = session.get(Referral, world.inbox_referral)
        for read in (active_consent_read(referral.family_id, referral.organisation_id),
                     user_read(referral.owner_id)):
            db.rows(*read)  # their plans learnt: only planned reads are sent ahead
        session.expunge_all()  # the owner not held by the session: read as a step reads it
        partner = session.get(User, world.partner.id)
        referral = session.get(Referral, world.inbox_referral)
        before = session.exec(select(OutboxMessage.id)).scalars().all()  # the partner's
        with _sent(app) as sent:
            change_status(partner, referral, Status.accepted)
        assert sum(in_pipeline for _sql, in_pipeline in sent) == (2 if postgres else 0)
        users = [number for number, (sql, _) in enumerate(sent) if "FROM user_account" in sql]
        writes = [number for number, (sql, _) in enumerate(sent)
                  if sql.lstrip().startswith(("UPDATE", "INSERT", "WITH"))]
        assert len(users) == 1 and users[0] < writes[0]
        told = session.exec(select(OutboxMessage).where(
            OutboxMessage.id.not_in(before))).scalars().all()
        assert [message.recipient for message in told] == [owner_address]
        db.commit()


def test_the_referring_post_asks_for_its_signal_and_services_at_once(app, client, world,
                                                                      login, make_service):
    """The post that refers reads the signal (with its family) and the services chosen,
    which do not depend on each other: one round trip on PostgreSQL, not two."""
    from referral.cases.queries import signal_and_family_read
    from referral.referrals.queries import active_services_read, default_follow_up

    postgres = app.config["DATABASE_URL"].startswith("postgresql")
    parcel = make_service("Voedselbus", organisation="Voedselbank", referral_route="inbox")
    with app.app_context():
        db.rows(*signal_and_family_read(world.signal_id))  # their plans learnt: only
        db.rows(*active_services_read([parcel]))          # planned reads are sent ahead
        follow_up = default_follow_up().isoformat()
    login(world.owner)
    path = f"/referrals/new/{world.signal_id}"
    page = client.get(path).text
    data = {"csrf_token": re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1),
            "form_token": re.search(r'name="form_token"[^>]*value="([^"]+)"', page).group(1),
            "services": [str(parcel)], "message": "Graag bellen.", "follow_up_on": follow_up,
            "send": "1"}
    with _sent(app) as sent:
        assert client.post(path, data=data).status_code == 303
    sent = [(" ".join(sql.split()), piped) for sql, piped in sent]
    signal = [piped for sql, piped in sent if "FROM signal JOIN family" in sql]
    services = [piped for sql, piped in sent if "FROM service WHERE service.id IN" in sql]
    assert signal == [postgres] and services == [postgres]
