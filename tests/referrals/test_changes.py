"""Changing a referral after it is made: the owner moves the follow-up date of an open
referral, and changes a draft's service, message and follow-up date before sending it. Every
change is in the referral's history and the access log; nobody else may."""

import re
import uuid
from datetime import date, timedelta

import pytest
from sqlmodel import select

from referral import db
from referral.auth.models import User
from referral.cases.models import Family, Signal
from referral.cases.operations import log_signal
from referral.directory.models import Service
from referral.errors import Denied, Refused
from referral.referrals.models import Change, EventKind, Referral, ReferralEvent, Status
from referral.referrals.operations import (
    AlreadyReferred,
    change_follow_up,
    change_status,
    edit_draft,
    refer,
)
from tests.conftest import audit_entries, csrf_token
from tests.matrix import WORLD_ACTORS, accompany, check_as, nothing_written
from tests.world import load

LATER = date.today() + timedelta(days=30)


def _get(model, key):
    return db.session().get(model, key)


def _draft(app, world, service_id=None):
    """A draft from a new signal of the world's family, to the inbox service."""
    with app.app_context():
        owner, family = _get(User, world.owner.id), _get(Family, world.family_id)
        signal = log_signal(owner, family, domains=["food"], source="conversation",
                            observations="Weer geen ontbijt.")
        [draft] = refer(owner, family, signal,
                        [_get(Service, service_id or world.inbox_service)],
                        message="Eerste versie.", follow_up_on=date.today() + timedelta(days=14),
                        send=False, form_token=str(uuid.uuid4()))
        db.commit()
        return draft.id


def _message(app, referral_id):
    with app.app_context():
        return _get(Referral, referral_id).message


def _events(app, referral_id, kind):
    with app.app_context():
        return db.session().exec(select(ReferralEvent).where(
            ReferralEvent.referral_id == referral_id, ReferralEvent.kind == kind)).all()


# --- who may -------------------------------------------------------------------------------

def _move_follow_up(user, world, _context):
    change_follow_up(user, _get(Referral, world.inbox_referral), follow_up_on=LATER)


def _edit(user, world, draft_id):
    edit_draft(user, _get(Referral, draft_id), message="Tweede versie.",
               service=_get(Service, world.inbox_service), follow_up_on=LATER)


@pytest.mark.parametrize("who", WORLD_ACTORS)
def test_only_the_owner_moves_the_follow_up_date(app, world, who):
    if who == "bridge_assigned":
        accompany(app, world)
    check_as(app, world, who, _move_follow_up, may={"owner"}, rule="referral.follow_up")


@pytest.mark.parametrize("who", WORLD_ACTORS)
def test_only_the_owner_changes_a_draft(app, world, who):
    check_as(app, world, who, _edit, may={"owner"}, rule="referral.edit",
             context=_draft(app, world))


# --- the follow-up date ----------------------------------------------------------------------

def test_moving_the_follow_up_date_is_in_the_history_and_the_log(app, world):
    with app.app_context():
        before = _get(Referral, world.inbox_referral)
        old_date, activity = before.follow_up_on, before.last_activity_at
        change_follow_up(_get(User, world.owner.id), before, follow_up_on=LATER)
        db.commit()
    referral = load(app, world.inbox_referral)
    assert referral.follow_up_on == LATER
    assert referral.last_activity_at == activity  # the owner's planning is no news
    [event] = _events(app, world.inbox_referral, EventKind.follow_up)
    assert (event.follow_up_on, event.actor_id) == (LATER, world.owner.id)
    [entry] = audit_entries(app, summary=f"follow-up date {old_date.isoformat()} -> "
                                         f"{LATER.isoformat()}")
    assert entry.object_id == str(world.inbox_referral) and entry.user_id == world.owner.id


@pytest.mark.parametrize(("when", "message"), [
    (date.today() - timedelta(days=1), "Choose a follow-up date within the coming year."),
    (date.today() + timedelta(days=400), "Choose a follow-up date within the coming year."),
    (None, "Choose a follow-up date within the coming year."),
])
def test_a_follow_up_date_outside_the_coming_year_is_refused(app, world, when, message):
    with app.app_context():
        with nothing_written(Refused) as raised:
            change_follow_up(_get(User, world.owner.id), _get(Referral, world.inbox_referral),
                             follow_up_on=when)
        assert raised.value.field == "follow_up_on"


def test_a_closed_referral_has_no_follow_up_date_to_move(app, world):
    with app.app_context():
        owner = _get(User, world.owner.id)
        change_status(owner, _get(Referral, world.inbox_referral), Status.cancelled,
                      reason="Verhuisd.")
        db.commit()
        with nothing_written(Refused):
            change_follow_up(owner, _get(Referral, world.inbox_referral), follow_up_on=LATER)


def test_the_same_date_again_writes_nothing(app, world):
    with app.app_context():
        referral = _get(Referral, world.inbox_referral)
        assert change_follow_up(_get(User, world.owner.id), referral,
                                follow_up_on=referral.follow_up_on) is None
    assert _events(app, world.inbox_referral, EventKind.follow_up) == []


# --- a draft -------------------------------------------------------------------------------

def test_a_drafts_service_and_message_change_each_with_an_event(app, world, make_service):
    other = make_service("Voedselbus", organisation="Voedselbank", referral_route="letter",
                         phone="010-5550199")
    draft_id = _draft(app, world)
    with app.app_context():
        changed = edit_draft(_get(User, world.owner.id), _get(Referral, draft_id),
                             message="Tweede versie.", service=_get(Service, other),
                             follow_up_on=LATER, version=1)
        db.commit()
    assert changed == [Change.service, Change.message, EventKind.follow_up]
    draft = load(app, draft_id)
    assert (draft.service_id, _message(app, draft_id), draft.follow_up_on) == (
        other, "Tweede versie.", LATER)
    assert draft.by_inbox is False and draft.status == Status.draft and draft.version == 2
    edits = {e.outcome: e for e in _events(app, draft_id, EventKind.edited)}
    assert set(edits) == {Change.service, Change.message}
    assert edits[Change.service].from_service_id == world.inbox_service
    assert audit_entries(app, summary="draft changed: service, message, follow_up")


def _sent(app, world, draft_id):
    with app.app_context():
        change_status(_get(User, world.owner.id), _get(Referral, draft_id), Status.requested)
        db.commit()


@pytest.mark.parametrize(("what", "change", "message"), [
    ("sent already", lambda app, world, d: _sent(app, world, d),
     "Only a draft can be changed; this referral is requested."),
    ("a stale form", None,
     "This referral changed while you were looking at it. Look at it again, then retry."),
    ("an empty message", None, "Write what the partner needs to know."),
    ("a message too long", None, "Write at most 4000 characters."),
    ("no service", None, "Choose a service that takes referrals."),
])
def test_a_draft_change_is_refused_and_writes_nothing(app, world, what, change, message):
    from flask_babel import force_locale

    draft_id = _draft(app, world)
    if change:
        change(app, world, draft_id)
    fields = {"message": "Tweede versie.", "service": world.inbox_service,
              "follow_up_on": LATER, "version": 1}
    fields.update({"a stale form": {"version": 0}, "an empty message": {"message": "  "},
                   "a message too long": {"message": "x" * 4001},
                   "no service": {"service": None}}.get(what, {}))
    with app.app_context():
        fields["service"] = fields["service"] and _get(Service, fields["service"])
        with nothing_written(Refused), app.test_request_context(), \
                force_locale("en"):
            try:
                edit_draft(_get(User, world.owner.id), _get(Referral, draft_id), **fields)
            except Refused as refused:
                assert str(refused) == message
                raise


def test_a_draft_moves_to_no_service_the_signal_has_open(app, world, make_service):
    extra = make_service("Zwemles", organisation="Jeugdfonds", referral_route="inbox")
    with app.app_context():
        owner = _get(User, world.owner.id)
        [draft] = refer(owner, _get(Family, world.family_id), _get(Signal, world.signal_id),
                        [_get(Service, extra)], message="Eerste versie.", follow_up_on=LATER,
                        send=False, form_token=str(uuid.uuid4()))
        db.commit()
        with nothing_written(AlreadyReferred) as raised:
            edit_draft(owner, _get(Referral, draft.id), message="x",
                       service=_get(Service, world.letter_service), follow_up_on=LATER)
        assert [r.id for r in raised.value.referrals] == [world.letter_referral]


# --- the pages -----------------------------------------------------------------------------

def test_follow_up_page_moves_the_date_and_the_timeline_says_so(app, client, login, world):
    login(world.owner)
    page = client.get(f"/referrals/{world.inbox_referral}")
    assert f'href="/referrals/{world.inbox_referral}/follow-up"' in page.text
    url = f"/referrals/{world.inbox_referral}/follow-up"
    form = client.get(url)
    assert form.status_code == 200 and "Opvolgdatum veranderen" in form.text
    response = client.post(url, data={"csrf_token": csrf_token(client, url),
                                      "follow_up_on": LATER.isoformat()})
    assert response.status_code == 303
    shown = client.get(response.headers["Location"]).text
    assert "De opvolgdatum is nu" in shown and "zette de opvolgdatum op" in shown
    assert load(app, world.inbox_referral).follow_up_on == LATER

    # In English the date is written the European way, as on every page.
    client.post("/language", data={"csrf_token": csrf_token(client, "/"), "language": "en",
                                   "next": "/"})
    response = client.post(url, data={"csrf_token": csrf_token(client, url),
                                      "follow_up_on": (LATER + timedelta(days=1)).isoformat()})
    shown = client.get(response.headers["Location"]).text
    assert re.search(r"The follow-up date is now \d{1,2} [A-Z][a-z]{2} \d{4}\.", shown), shown


@pytest.mark.parametrize("value", ["2020-01-01", "morgen", "", "9999-99-99"])
def test_follow_up_page_refuses_bad_dates(app, client, login, world, value):
    login(world.owner)
    url = f"/referrals/{world.inbox_referral}/follow-up"
    before = load(app, world.inbox_referral).follow_up_on
    response = client.post(url, data={"csrf_token": csrf_token(client, url),
                                      "follow_up_on": value})
    assert response.status_code == 200 and "Er is een probleem" in response.text
    assert load(app, world.inbox_referral).follow_up_on == before


def test_follow_up_without_a_csrf_token_is_refused(app, client, login, world):
    login(world.owner)
    before = load(app, world.inbox_referral).follow_up_on
    response = client.post(f"/referrals/{world.inbox_referral}/follow-up",
                           data={"follow_up_on": LATER.isoformat()})
    assert response.status_code == 400
    assert load(app, world.inbox_referral).follow_up_on == before


def test_the_partner_sees_no_follow_up_link_and_gets_404(client, login, world):
    login(world.partner)
    page = client.get(f"/referrals/{world.inbox_referral}").text
    assert "/follow-up" not in page
    assert client.get(f"/referrals/{world.inbox_referral}/follow-up").status_code == 404


def test_draft_page_changes_service_and_message(app, client, login, world, make_service):
    other = make_service("Voedselbus", organisation="Voedselbank", referral_route="inbox",
                         email="bus@voedselbank.example")
    draft_id = _draft(app, world)
    login(world.owner)
    shown = client.get(f"/referrals/{draft_id}").text
    assert f'href="/referrals/{draft_id}/edit"' in shown
    url = f"/referrals/{draft_id}/edit"
    page = client.get(url)
    assert page.status_code == 200 and "Eerste versie." in page.text
    assert re.search(rf'type="radio" name="service" id="service-{world.inbox_service}"'
                     rf'[^>]*checked', page.text)
    response = client.post(url, data={
        "csrf_token": csrf_token(client, url), "service": str(other),
        "message": "Tweede versie.", "follow_up_on": LATER.isoformat(), "version": "1"})
    assert response.status_code == 303
    timeline = client.get(response.headers["Location"]).text
    assert "koos een andere dienst voor het concept" in timeline
    assert "was: Voedselpakket" in timeline and "veranderde het bericht" in timeline
    assert (load(app, draft_id).service_id, _message(app, draft_id)) == (other,
                                                                          "Tweede versie.")


@pytest.mark.parametrize("version", ["0", None], ids=["stale", "left-out"])
def test_draft_page_without_its_version_is_refused_like_a_stale_form(app, client, login, world,
                                                                      version):
    draft_id = _draft(app, world)
    login(world.owner)
    url = f"/referrals/{draft_id}/edit"
    data = {"csrf_token": csrf_token(client, url), "service": str(world.inbox_service),
            "message": "Tweede versie.", "follow_up_on": LATER.isoformat()}
    if version is not None:
        data["version"] = version
    response = client.post(url, data=data)
    assert response.status_code == 200
    assert "Deze verwijzing is veranderd terwijl je ernaar keek" in response.text
    assert _message(app, draft_id) == "Eerste versie." and load(app, draft_id).version == 1


@pytest.mark.parametrize("fields", [{"message": ""}, {"message": "x" * 4001},
                                    {"service": ""}, {"service": "geen-dienst"},
                                    {"follow_up_on": "2020-01-01"}])
def test_draft_page_refuses_bad_input(app, client, login, world, fields):
    draft_id = _draft(app, world)
    login(world.owner)
    url = f"/referrals/{draft_id}/edit"
    data = {"csrf_token": csrf_token(client, url), "service": str(world.inbox_service),
            "message": "Tweede versie.", "follow_up_on": LATER.isoformat(), "version": "1",
            **fields}
    response = client.post(url, data=data)
    assert response.status_code == 200 and "Er is een probleem" in response.text
    assert _message(app, draft_id) == "Eerste versie."


def test_draft_page_of_a_sent_referral_says_it_cannot_change(app, client, login, world):
    login(world.owner)
    response = client.get(f"/referrals/{world.inbox_referral}/edit")
    assert response.status_code == 303
    assert "Alleen een concept kun je veranderen" in client.get(
        response.headers["Location"]).text


def test_a_denied_draft_change_is_logged(app, client, login, world):
    draft_id = _draft(app, world)
    login(world.colleague)
    assert client.get(f"/referrals/{draft_id}/edit").status_code == 404
    assert audit_entries(app, summary="denied: referral.edit")
    with app.app_context(), pytest.raises(Denied):
        edit_draft(_get(User, world.colleague.id), _get(Referral, draft_id), message="x",
                   service=_get(Service, world.inbox_service), follow_up_on=LATER)
