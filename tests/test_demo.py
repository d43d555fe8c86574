"""The demo shows everything: something waits on every role's home page, and Voorbeeldstad
has enough history that every figure of the monitor shows numbers."""

from datetime import date

import pytest
from sqlmodel import func, select

from referral import db
from referral.auth.queries import find_user
from referral.dev import demo, history
from referral.monitor import queries as monitor
from referral.monitor.suppression import Cell
from referral.referrals import worklist
from referral.referrals.models import EventKind, Handover, Referral, ReferralEvent
from referral.referrals.queries import is_overdue


@pytest.fixture
def loaded(app):
    with app.app_context():
        demo.load()
        db.commit()
    return app


def test_every_role_has_work_waiting(loaded):
    with loaded.test_request_context():
        nurse, colleague = find_user("jgz@demo.example"), find_user("jgz2@demo.example")
        mine = worklist.for_owner(nurse)
        assert mine["overdue"].count == 1 and mine["drafts"].count == 1
        assert mine["handovers"].count == 1 and mine["changed"].count >= 1
        assert worklist.for_owner(colleague)["overdue"].count == 1  # the stuck one
        partner = worklist.for_partner(find_user("partner@demo.example"))
        assert partner["new"].count >= 1 and partner["changed"].count == 1
        assert worklist.for_bridge(find_user("brug@demo.example"))["requests"].count == 1
        assert worklist.stuck_count() >= 1
        session = db.session()
        waiting = session.exec(select(Handover).where(Handover.decided_at.is_(None))).one()
        assert waiting.to_id == nurse.id
        overdue = [r for r in session.exec(select(Referral).where(
            Referral.owner_id == nurse.id)).all() if is_overdue(r)]
        assert len(overdue) == 1 and overdue[0].follow_up_on < date.today()


def test_loading_twice_adds_nothing(loaded):
    with loaded.app_context():
        before = db.session().exec(select(func.count()).select_from(Referral)).one()
        demo.load()
        db.commit()
        assert db.session().exec(select(func.count()).select_from(Referral)).one() == before
        assert history.is_loaded()


def _shown(cells):
    """The figures shown as numbers (counts, or means of enough answers)."""
    return [c for c in cells if (isinstance(c, Cell) and not c.hidden and c.value)
            or (isinstance(c, int | float | str) and str(c).replace(".", "").isdigit())]


def test_every_monitor_figure_of_voorbeeldstad_shows_numbers(loaded):
    with loaded.test_request_context():
        coordinator = find_user("coordinator@demo.example")
        _scope, _years, tables, _at = monitor.dashboard(coordinator, year=date.today().year)
        empty = [table.key for table in tables
                 if not _shown([cell for _label, cells in table.rows for cell in cells])
                 and table.rows]
        assert empty == []
        figures = {table.key: table for table in tables}
        status = figures["referrals_status"]
        assert len(_shown([c for _label, cells in status.rows for c in cells])) >= 4


def test_every_demo_timeline_starts_with_its_creation(loaded):
    """Steps taken on one demo day keep their order: the timeline (by moment, then id)
    never shows a step before the referral was created."""
    with loaded.app_context():
        session = db.session()
        for referral_id in session.exec(select(Referral.id)).all():
            first = session.exec(select(ReferralEvent.kind).where(
                ReferralEvent.referral_id == referral_id).order_by(
                ReferralEvent.at, ReferralEvent.id)).first()
            assert first == EventKind.created, referral_id
