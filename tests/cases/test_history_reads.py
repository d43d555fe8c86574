"""The family page's history (its creation, corrections and children) is a few entries of
the access log among every read of the family, which the log gains each time the family is
opened. The history is read through the index of a family's entries by action, so the page
does not read more as the family is read more often."""

from sqlalchemy import event, text

from referral import audit, db
from referral.cases.models import Family
from referral.cases.queries import family_history


def _plan(app, family):
    """The database's plan of the history's statement, as the page runs it."""
    sent = []

    def remember(_conn, _cursor, statement, parameters, _context, _many):
        sent.append((statement, parameters))

    engine = db.engine()
    event.listen(engine, "before_cursor_execute", remember)
    try:
        history = family_history(family)
    finally:
        event.remove(engine, "before_cursor_execute", remember)
    [(statement, parameters)] = [s for s in sent if "audit_event" in s[0]]
    cursor = db.session().connection().connection.driver_connection.cursor()
    if engine.dialect.name == "postgresql":
        # The test's log is tiny: a scan of the table would win; among the indexes, the
        # plan must find the family's changes by their action, not filter all its entries.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("EXPLAIN " + statement, parameters)
    else:
        cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
    return history, "\n".join(str(row[-1]) for row in cursor.fetchall())


def test_the_history_skips_the_familys_reads_in_the_index(app, world):
    with app.test_request_context():
        family = db.session().get(Family, world.family_id)
        for _ in range(30):  # the family opened time and again
            audit.record("read", object_type="family", object_id=family.id,
                         family_id=family.id, summary="family read")
        db.session().execute(text("ANALYZE"))  # as a database in use has its statistics
        db.commit()
        history, plan = _plan(app, family)
        dialect = db.engine().dialect.name
    assert [entry.kind for entry in history][-1:] == ["created"]  # oldest last
    if dialect == "sqlite":
        assert "USING INDEX ix_audit_event_family_action (family_id=? AND action=?)" in plan, plan
    else:
        assert "Index Cond:" in plan and "action" in plan.split("Index Cond:", 1)[1], plan
