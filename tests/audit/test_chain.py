"""The access log: append-only in the database, and every tampering named by `audit verify`."""

import threading

import pytest
import sqlalchemy as sa

from referral import audit, db
from tests.conftest import counted_queries

pytestmark = pytest.mark.usefixtures("app")


def fill(app, count, start=0):
    """`count` entries, each in its own transaction like a request, so the head file has a
    line for every one."""
    for n in range(start, start + count):
        with app.app_context():
            audit.record("read", object_type="test", object_id=n, summary=f"entry {n + 1}")
            db.commit()


@pytest.fixture
def entries(app):
    """Five entries, each in its own transaction like five requests."""
    fill(app, 5)


def _sql(app, statement, **params):
    with app.app_context():
        db.session().execute(sa.text(statement), params)
        db.commit()


def _as_attacker(app):
    """Someone with full database rights, who can switch off the append-only triggers."""
    if app.config["DATABASE_URL"].startswith("sqlite"):
        _sql(app, "DROP TRIGGER audit_event_no_update")
        _sql(app, "DROP TRIGGER audit_event_no_delete")
    else:
        _sql(app, "ALTER TABLE audit_event DISABLE TRIGGER USER")


def _verify(runner):
    result = runner.invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def test_intact_log_verifies(entries, runner):
    code, output = _verify(runner)
    assert code == 0 and "intact: 5 entries" in output


@pytest.mark.usefixtures("entries")
@pytest.mark.parametrize("statement", ["UPDATE audit_event SET summary = 'x' WHERE seq = 2",
                                       "DELETE FROM audit_event WHERE seq = 2"])
def test_update_and_delete_are_refused_by_the_database(app, statement):
    with pytest.raises(sa.exc.DBAPIError, match="append-only"):
        _sql(app, statement)


@pytest.mark.usefixtures("entries")
@pytest.mark.parametrize(("statement", "message"), [
    ("UPDATE audit_event SET summary = 'nothing to see' WHERE seq = 3", "entry 3 was changed"),
    ("DELETE FROM audit_event WHERE seq = 2", "entry 2 is missing"),
    # Entry 4's content moved into entry 3's place: its link back no longer fits.
    ("UPDATE audit_event SET prev_hash = (SELECT prev_hash FROM audit_event WHERE seq = 4),"
     " hash = (SELECT hash FROM audit_event WHERE seq = 4),"
     " summary = 'entry 4' WHERE seq = 3", "entry 3 does not follow entry 2"),
    ("DELETE FROM audit_event WHERE seq = 5", "the log ends at entry 4"),
])
def test_tampering_is_named(app, runner, statement, message):
    _as_attacker(app)
    _sql(app, statement)
    code, output = _verify(runner)
    assert code == 1 and message in output, output


@pytest.mark.usefixtures("entries")
def test_cut_off_tail_shows_even_with_the_head_rewritten(app, runner):
    _as_attacker(app)
    _sql(app, "DELETE FROM audit_event WHERE seq >= 4")
    _sql(app, "UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit_event WHERE seq = 3)")
    code, output = _verify(runner)
    assert code == 1 and "entries after 3 were removed (entry 5 was recorded, in audit-head.log)" in output


@pytest.mark.own_database
def test_concurrent_writers_keep_one_chain(app, runner):
    errors = []

    def write(worker):
        try:
            for n in range(10):
                with app.app_context():
                    audit.record("read", object_type="test", object_id=f"{worker}-{n}")
                    db.commit()
        except Exception as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    code, output = _verify(runner)
    assert code == 0 and "intact: 40 entries" in output


def test_rolled_back_change_leaves_no_entry(app, runner):
    with app.app_context():
        audit.record("update", object_type="test", summary="never happened")
        db.session().rollback()
    code, output = _verify(runner)
    assert code == 0 and "intact: 0 entries" in output


def test_entries_of_one_transaction_read_the_head_once(app, runner):
    """The transaction that wrote an entry holds the head since (its row lock, SQLite's write
    lock): the next entry follows it without reading the head again."""
    with app.app_context(), counted_queries(app) as statements:
        for n in range(3):
            audit.record("update", object_type="test", object_id=n)
        db.commit()
    heads = [s for s in statements if "FROM audit_head" in s]
    assert len(heads) == 1, statements
    # Each entry is inserted and moves the head: on PostgreSQL in one statement (a CTE).
    writes = [s for s in statements if s.lstrip().startswith(("INSERT", "UPDATE", "WITH"))]
    postgres = app.config["DATABASE_URL"].startswith("postgresql")
    assert len(writes) == 3 * (1 if postgres else 2), statements
    code, output = _verify(runner)
    assert code == 0 and "intact: 3 entries" in output, output


@pytest.mark.parametrize("end", ["rollback", "close"])
def test_after_its_transaction_an_entry_reads_the_head_again(app, runner, end):
    """An entry rolled back (or a session closed without a commit) is not the head of the
    next transaction, nor is what another worker wrote in between missed."""
    with app.app_context():
        session = db.session()
        audit.record("update", object_type="test", summary="never happened")
        getattr(session, end)()
        fill(app, 1)  # another request, meanwhile
        audit.record("update", object_type="test", summary="the second entry")
        db.commit()
    code, output = _verify(runner)
    assert code == 0 and "intact: 2 entries" in output, output
