"""Every operation (and every read the policy guards) of the monitor and the pledges called
directly, without a page, as every role: the refusals hold, a refusal writes nothing (but
its denial in the access log), the allowed ones do what they say, and a partner only ever
counts their own organisation."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

import pytest
from sqlmodel import select

from referral import db
from referral.directory.models import Organisation
from referral.errors import Denied, Refused
from referral.mail import OutboxMessage
from referral.monitor import operations, queries
from referral.monitor.models import MAX_ACTIVITIES, MonitorCache, Pledge, PledgeReport
from tests.matrix import STAFF_ACTORS as ACTORS
from tests.matrix import last_entry, stored

YEAR = date.today().year
PARTNERS = {"partner", "other_partner"}  # each for their own organisation's pledge
VIEWERS = PARTNERS | {"coordinator"}
EXPORTERS = VIEWERS | {"command_line"}


def _organisation_id(name):
    return db.session().exec(select(Organisation.id).where(Organisation.name == name)).one()


def _activity(what="Gratis sportkennismaking"):
    return {"what": what, "for_whom": "kinderen 6-12", "target": "40 kinderen",
            "due": date(YEAR, 12, 31)}


def _pledges(staff):
    """A pledge of each partner's organisation, made by its partner; Voedselbank's first
    activity."""
    for name in ("partner", "other_partner"):
        operations.save_pledge(staff.user(name), activities=[_activity(), _activity("Les")])
    pledge, activities = queries.pledge_of(_organisation_id("Voedselbank"))
    return activities[0]


def _own_activity(user, fallback):
    """The first activity of the user's own organisation's pledge, or Voedselbank's."""
    pledge, activities = queries.pledge_of(getattr(user, "organisation_id", None))
    return activities[0] if pledge else fallback


def _reported(user):
    return db.session().exec(select(PledgeReport).where(
        PledgeReport.reported_by == user.id, PledgeReport.year == YEAR)).first() is not None


@dataclass
class Case:
    call: Callable  # (user, activity) -> result
    may: set
    rule: str
    done: Callable  # (user, result) -> bool


CASES = {
    "save_pledge": Case(
        lambda user, activity: operations.save_pledge(user, activities=[_activity("Nieuw")],
                                                      new_partner="Muziekschool"),
        PARTNERS, "pledge.edit",
        lambda user, pledge: pledge.organisation_id == user.organisation_id
        and [a.what for a in queries.pledge_of(user.organisation_id)[1]] == ["Nieuw"]),
    "report_pledge": Case(
        lambda user, activity: operations.report_pledge(user, year=YEAR, entries={
            _own_activity(user, activity).id: ("done", "42 kinderen kwamen")}),
        PARTNERS, "pledge.edit",
        lambda user, _result: _reported(user)),
    "remind_pledges": Case(
        lambda user, activity: operations.remind_pledges(user, year=YEAR),
        {"coordinator"}, "pledge.list",
        lambda user, reminded: reminded == 2
        and len(db.session().exec(select(OutboxMessage)).all()) == 2),
    "recount_figures": Case(
        lambda user, activity: operations.recount_figures(user, year=YEAR),
        EXPORTERS, "monitor.export",
        lambda user, tables: bool(tables)
        and db.session().exec(select(MonitorCache)).first() is not None),
    "dashboard": Case(
        lambda user, activity: queries.dashboard(user, year=YEAR),
        VIEWERS, "monitor.view",
        lambda user, shown: shown[0].year == YEAR and last_entry().summary == f"monitor {YEAR}"),
    "export_csv": Case(
        lambda user, activity: queries.export_csv(user, year=YEAR),
        EXPORTERS, "monitor.export",
        lambda user, exported: exported[1].startswith("table,row,column,value")
        and last_entry().action == "export"),
}


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_operation_as_every_role(app, staff, name, actor):
    case = CASES[name]
    with app.app_context():
        user = staff.user(actor)
        activity = _pledges(staff)
        before = stored()
        if actor in case.may:
            assert case.done(user, case.call(user, activity))
        else:
            with pytest.raises(Denied):
                case.call(user, activity)
            assert stored() == before
            denial = last_entry()
            assert (denial.outcome, denial.summary) == ("denied", f"denied: {case.rule}")
            assert denial.user_id == user.id


def test_a_partner_reports_only_on_their_own_pledge(app, staff):
    with app.app_context():
        theirs = _pledges(staff)  # Voedselbank's
        other = staff.user("other_partner")
        before = stored()
        with pytest.raises(Refused) as refused:
            operations.report_pledge(other, year=YEAR, entries={theirs.id: ("done", "")})
        assert str(refused.value) == "This activity is not part of your pledge."
        assert stored() == before


ENOUGH = [_activity(f"Activiteit {n}") for n in range(MAX_ACTIVITIES + 1)]


@pytest.mark.parametrize(("call", "message"), [
    (lambda user, activity: operations.save_pledge(user, activities=[]),
     "Describe at least one activity."),
    (lambda user, activity: operations.save_pledge(user, activities=ENOUGH),
     f"Describe at most {MAX_ACTIVITIES} activities."),
    (lambda user, activity: operations.save_pledge(user, activities=[
        _activity(), {"what": "", "for_whom": "", "target": "10", "due": None}]),
     "Say what the activity is."),
    (lambda user, activity: operations.report_pledge(user, year=YEAR, entries={
        activity.id: ("", "niets")}), "Report on at least one activity."),
    (lambda user, activity: operations.report_pledge(user, year=YEAR, entries={
        activity.id: ("maybe", "")}), "Choose one of the listed options."),
])
def test_the_rules_of_a_pledge_hold_for_every_caller(app, staff, call, message):
    with app.app_context():
        activity = _pledges(staff)
        before = stored()
        with pytest.raises(Refused) as refused:
            call(staff.user("partner"), activity)
        assert not isinstance(refused.value, Denied)
        assert str(refused.value) == message
        assert stored() == before


def test_no_report_before_a_pledge(app, staff):
    with app.app_context():
        before = stored()
        with pytest.raises(Refused) as refused:
            operations.report_pledge(staff.user("partner"), year=YEAR, entries={})
        assert str(refused.value) == "Describe your pledge first."
        assert stored() == before
        assert db.session().exec(select(Pledge)).first() is None


def test_forgetting_the_figures_empties_the_shared_count(app, staff):
    with app.app_context():
        operations.recount_figures(staff.user("command_line"), year=YEAR)
        assert db.session().exec(select(MonitorCache)).first() is not None
        operations.forget_figures()
        assert db.session().exec(select(MonitorCache)).first() is None
