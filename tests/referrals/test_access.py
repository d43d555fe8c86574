"""Who sees what: every role against every kind of object, through the real pages.

Whoever may not see an object gets the same 404 as for one that does not exist (logged out:
the login page), never its content, and the denial is in the access log.
"""

import re
import uuid
from urllib.parse import urlsplit

import pytest
from sqlmodel import select

from referral import db
from referral.auth.models import User
from referral.cases.models import Consent
from referral.cases.operations import withdraw_consent
from referral.directory.models import Service
from referral.referrals.models import Handover, ReferralEvent, Status
from tests.conftest import audit_entries, browser, csrf_token, post_form
from tests.matrix import accompany
from tests.world import PRIVATE, SECRET_MESSAGE, age, dutch, load, refer_again

# What only the owner, and with consent the partner and bridge worker, may ever read.

NOTE = "Vader belt donderdag terug over de aanvraag."


ROLES = ("owner", "colleague", "stranger", "partner", "other_partner", "letter_partner",
         "bridge", "bridge_assigned", "coordinator", "privacy", "logged_out")

# Who may, per kind of object; everyone else gets 404. The bridge worker is assigned to the
# inbox referral only.
MAY = {
    "family": {"owner"},
    "signal": {"owner"},
    "consent": {"owner"},
    "referral": {"owner", "partner", "bridge_assigned"},
    "letter_referral": {"owner"},
    "note": {"owner", "partner", "bridge_assigned"},
    "letter": {"owner"},
    "status": {"owner", "partner", "bridge_assigned"},
}

# What those who may see find on the page.
SHOWN = {
    "family": ("Zeynep Yilmaz", "Elif"),
    "signal": ("Zeynep Yilmaz", "Voedselpakket"),
    "consent": ("Voedselbank",),
    "referral": (SECRET_MESSAGE,),
    "letter_referral": (SECRET_MESSAGE,),
    "letter": ("Zeynep Yilmaz", SECRET_MESSAGE),
}


def consent_id(app, world, service_id):
    """The family's consent for the organisation of this service."""
    with app.app_context():
        session = db.session()
        organisation_id = session.get(Service, service_id).organisation_id
        return session.exec(select(Consent.id).where(
            Consent.family_id == world.family_id,
            Consent.organisation_id == organisation_id)).one()


def step(client, referral_id, target, *, token=None, **fields):
    """Post a status step as the step's form on the referral page would (prefixed fields)."""
    token = token or csrf_token(client, "/account")
    fields.setdefault("confirm", "y")  # the box the steps that end a referral have
    data = {f"{target}-csrf_token": token, **{f"{target}-{k}": v for k, v in fields.items()}}
    return client.post(f"/referrals/{referral_id}/status/{target}", data=data)


def events(app, referral_id, kind=None):
    with app.app_context():
        query = select(ReferralEvent).where(ReferralEvent.referral_id == referral_id)
        if kind:
            query = query.where(ReferralEvent.kind == kind)
        return db.session().exec(query).all()


def assert_nothing_private(text):
    for private in PRIVATE:
        assert private not in text


# --- the matrix --------------------------------------------------------------------------

def _urls(app, world):
    referral = f"/referrals/{world.inbox_referral}"
    consent = consent_id(app, world, world.inbox_service)
    return {
        "family": f"/families/{world.family_id}",
        "signal": f"/referrals/new/{world.signal_id}",
        "consent": f"/families/{world.family_id}/consents/{consent}/withdraw",
        "referral": referral,
        "letter_referral": f"/referrals/{world.letter_referral}",
        "note": f"{referral}/notes",
        "letter": f"/referrals/{world.letter_referral}/letter",
        "status": f"{referral}/status/accepted",
    }


def _denied_object(world, kind):
    """The object a denial is logged for (the withdraw page checks the family first)."""
    return {"family": world.family_id, "signal": world.signal_id, "consent": world.family_id,
            "letter_referral": world.letter_referral, "letter": world.letter_referral,
            }.get(kind, world.inbox_referral)


@pytest.mark.parametrize("kind", list(MAY))
@pytest.mark.parametrize("role", ROLES)
def test_access_matrix(app, client, login, world, role, kind):
    person = None
    if role == "bridge_assigned":
        accompany(app, world)
    if role != "logged_out":
        person = getattr(world, role.removesuffix("_assigned"))
        login(person)
    url = _urls(app, world)[kind]
    version = load(app, world.inbox_referral).version
    denials = len(audit_entries(app, outcome="denied"))
    token = csrf_token(client, "/login" if person is None else "/account")
    if kind == "note":
        response = client.post(url, data={"csrf_token": token, "text": NOTE})
    elif kind == "status":
        response = client.post(url, data={"accepted-csrf_token": token,
                                          "accepted-version": str(version)})
    else:
        response = client.get(url)

    if role in MAY[kind]:
        if kind in SHOWN:
            assert response.status_code == 200
            for shown in SHOWN[kind]:
                assert shown in response.text
        else:
            assert response.status_code == 303
            after = client.get(response.headers["Location"])
            if kind == "note":
                assert NOTE in after.text
            elif role == "partner":
                assert load(app, world.inbox_referral).status == Status.accepted
            else:  # the owner and the bridge worker may not accept for the partner
                assert dutch(app, "This step is not yours to take.") in after.text
                assert load(app, world.inbox_referral).status == Status.requested
        return

    if person is None:
        assert response.status_code == 302
        assert urlsplit(response.headers["Location"]).path == "/login"
    else:
        assert response.status_code == 404
        [denial] = audit_entries(app, outcome="denied")[denials:]
        assert denial.user_id == person.id
        assert denial.object_id == str(_denied_object(world, kind))
    assert_nothing_private(response.text)
    referral = load(app, world.inbox_referral)
    assert (referral.status, referral.version) == (Status.requested, version)
    assert events(app, world.inbox_referral, "note") == []


# --- what a prober learns ----------------------------------------------------------------

def _error_text(response, path):
    """The error page, without what differs by request: its number, address and the time
    in the CSRF tokens."""
    text = response.text.replace(path, "<path>")
    text = re.sub(r'(name="csrf_token"[^>]*value=")[^"]+', r"\1<token>", text)
    return re.sub(r"\b[0-9a-f]{16}\b", "<number>", text)


@pytest.mark.parametrize("role", ["stranger", "other_partner", "letter_partner", "bridge",
                                  "coordinator", "privacy"])
def test_a_hidden_object_looks_exactly_like_a_missing_one(app, client, login, world, role):
    login(getattr(world, role))
    for hidden, missing in [
        (f"/referrals/{world.inbox_referral}", f"/referrals/{uuid.uuid4()}"),
        (f"/referrals/{world.letter_referral}/letter", f"/referrals/{uuid.uuid4()}/letter"),
        (f"/families/{world.family_id}", f"/families/{uuid.uuid4()}"),
        (f"/referrals/new/{world.signal_id}", f"/referrals/new/{uuid.uuid4()}"),
    ]:
        seen, absent = client.get(hidden), client.get(missing)
        assert seen.status_code == absent.status_code == 404
        assert _error_text(seen, hidden) == _error_text(absent, missing)


@pytest.mark.parametrize("role", ["colleague", "stranger", "other_partner", "letter_partner",
                                  "bridge", "coordinator", "privacy"])
def test_who_may_not_see_gets_404_whatever_they_post(app, client, login, world, role):
    person = getattr(world, role)
    login(person)
    token = csrf_token(client, "/account")
    before = load(app, world.inbox_referral)
    denials = len(audit_entries(app, outcome="denied"))
    targets = [status.value for status in Status] + ["no-such-step"]
    for target in targets:
        response = step(client, world.inbox_referral, target, token=token,
                        version=str(before.version), reason="Ik doe maar wat.",
                        outcome="need_met")
        assert response.status_code == 404, target
        assert_nothing_private(response.text)
    # A form that does not validate is read before the referral: still 404, not its errors.
    for path, data in [("notes", {"text": NOTE}), ("notes", {"text": ""}),
                       ("status/accepted", {"accepted-reason": "x" * 2001}),
                       ("handover", {"colleague": str(person.id), "note": "neem maar"}),
                       ("bridge", {"bridge": str(world.bridge.id), "family_agreed": "y"})]:
        response = client.post(f"/referrals/{world.inbox_referral}/{path}",
                               data={"csrf_token": token, **data})
        assert response.status_code == 404, path
    after = load(app, world.inbox_referral)
    assert (after.status, after.version, after.owner_id, after.bridge_id) == (
        before.status, before.version, before.owner_id, None)
    assert [e.kind for e in events(app, world.inbox_referral)] == ["created", "status"]
    new = audit_entries(app, outcome="denied")[denials:]
    assert len(new) == len(targets) + 5
    assert {e.user_id for e in new} == {person.id}


# --- what a role may not set -------------------------------------------------------------

@pytest.mark.parametrize("target", ["requested", "entered-in-error"])
def test_a_partner_cannot_take_the_referrers_steps(app, client, login, world, target):
    login(world.partner)
    page = client.get(f"/referrals/{world.inbox_referral}")
    assert f"/status/{target}\"" not in page.text  # no button for it
    assert "/status/accepted\"" in page.text
    before = load(app, world.inbox_referral)
    response = step(client, world.inbox_referral, target, version=str(before.version),
                    reason="Toch maar opnieuw.")
    assert response.status_code == 303
    after = client.get(response.headers["Location"])
    assert dutch(app, "This step is not possible now: the referral is %(status)s.",
                 status="requested") in after.text
    referral = load(app, world.inbox_referral)
    assert (referral.status, referral.version) == (Status.requested, before.version)
    assert len(events(app, world.inbox_referral, "status")) == 1  # only the sending


def test_fields_a_partner_may_not_set_are_ignored(app, client, login, world):
    login(world.partner)
    version = load(app, world.inbox_referral).version
    response = client.post(f"/referrals/{world.inbox_referral}/status/accepted", data={
        "accepted-csrf_token": csrf_token(client, "/account"),
        "accepted-version": str(version),
        "accepted-target": "completed",
        "accepted-outcome": "need_met",
        "owner_id": str(world.partner.id),
        "bridge_id": str(world.bridge.id),
        "follow_up_on": "2099-01-01",
    })
    assert response.status_code == 303
    referral = load(app, world.inbox_referral)
    assert referral.status == Status.accepted
    assert referral.outcome is None and referral.closed_at is None
    assert referral.owner_id == world.owner.id and referral.bridge_id is None
    assert referral.follow_up_on.year != 2099


@pytest.mark.parametrize("role", ["partner", "bridge_assigned", "colleague"])
def test_only_the_owner_hands_over_or_asks_a_bridge_worker(app, client, login, world, role):
    accompany(app, world)
    person = getattr(world, role.removesuffix("_assigned"))
    login(person)
    token = csrf_token(client, "/account")
    base = f"/referrals/{world.inbox_referral}"
    for path, data in [("handover", {"colleague": str(world.colleague.id), "note": "graag"}),
                       ("bridge", {"bridge": str(world.bridge.id), "family_agreed": "y"})]:
        assert client.get(f"{base}/{path}").status_code == 404
        response = client.post(f"{base}/{path}", data={"csrf_token": token, **data})
        assert response.status_code == 404
        assert_nothing_private(response.text)
    with app.app_context():
        assert db.session().exec(select(Handover)).all() == []
    referral = load(app, world.inbox_referral)
    assert referral.owner_id == world.owner.id
    # Only the owner's request and the bridge worker's answer.
    assert len(events(app, world.inbox_referral, "bridge")) == 2


# --- coordinators and privacy officers ---------------------------------------------------

@pytest.mark.parametrize(("role", "pages"), [
    ("coordinator", ["/", "/referrals/", "/referrals/stuck", "/families/", "/users",
                     "/account"]),
    ("privacy", ["/", "/referrals/", "/families/", "/account"]),
])
def test_coordinators_and_privacy_officers_never_see_case_content(app, world, role, pages):
    age(app, world.inbox_referral, 40)  # stuck: on the coordinator's list
    client = browser(app, getattr(world, role))
    for page in pages:
        response = client.get(page, follow_redirects=True)
        assert response.status_code in (200, 403), page
        assert_nothing_private(response.text)
    if role == "coordinator":  # it is listed: which and whose, not what
        assert "Voedselpakket" in client.get("/referrals/stuck").text


# --- consent withdrawn -------------------------------------------------------------------

def _withdraw_on_the_page(app, world, service_id):
    client = browser(app, world.owner)
    consent = consent_id(app, world, service_id)
    response = post_form(client, f"/families/{world.family_id}/consents/{consent}/withdraw",
                         {"confirm": "y"})
    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == f"/families/{world.family_id}"


def _withdraw_by_the_services(app, world, service_id):
    consent = consent_id(app, world, service_id)
    with app.app_context():
        session = db.session()
        owner, consent = session.get(User, world.owner.id), session.get(Consent, consent)
        withdraw_consent(owner, consent)  # and tells the referrals' partners and owners
        db.commit()


@pytest.mark.parametrize("withdraw", [_withdraw_on_the_page, _withdraw_by_the_services],
                         ids=["withdraw page", "services"])
def test_after_consent_is_withdrawn_the_partner_sees_the_referral_not_its_content(
        app, world, withdraw):
    accompany(app, world)
    owner, partner, bridge = (browser(app, p) for p in (world.owner, world.partner,
                                                        world.bridge))
    referral = f"/referrals/{world.inbox_referral}"
    partner_note, owner_note = "Pakket klaar op vrijdag.", "Moeder kan pas na 15 uur."
    for client, text in [(partner, partner_note), (owner, owner_note)]:
        response = post_form(client, f"{referral}/notes", {"text": text}, page=referral)
        assert response.status_code == 303
    for client in (partner, bridge):
        page = client.get(referral).text
        assert SECRET_MESSAGE in page and partner_note in page and owner_note in page

    withdraw(app, world, world.inbox_service)

    notice = dutch(app, "The family withdrew its consent: the content of this referral is no "
                        "longer shared with you.")
    for client in (partner, bridge):
        response = client.get(referral)
        assert response.status_code == 200
        assert "Voedselpakket" in response.text  # the referral itself is still theirs
        assert notice in response.text
        assert dutch(app, "the family withdrew its consent") in response.text
        assert_nothing_private(response.text)
        assert partner_note not in response.text and owner_note not in response.text
    page = owner.get(referral).text  # the owner stays accountable and keeps reading
    assert SECRET_MESSAGE in page and partner_note in page and owner_note in page
    assert notice not in page
    letter = owner.get(f"/referrals/{world.letter_referral}").text
    assert SECRET_MESSAGE in letter  # the consent for Leergeld stands


# --- the letter: family data on paper, for an organisation outside the tool --------------

def _a_draft_without_consent(app, world, make_service):
    service = make_service("Huiswerkbegeleiding", organisation="Huiswerkhulp",
                           referral_route="letter")
    return refer_again(app, world, service, send=False)


def _consent_withdrawn(app, world, make_service):
    _withdraw_by_the_services(app, world, world.letter_service)
    return world.letter_referral


@pytest.mark.parametrize("without_consent", [_a_draft_without_consent, _consent_withdrawn],
                         ids=["draft, never consented", "consent withdrawn"])
def test_no_letter_without_the_familys_consent(app, world, make_service, without_consent):
    referral_id = without_consent(app, world, make_service)
    response = browser(app, world.owner).get(f"/referrals/{referral_id}/letter")
    assert response.status_code < 500
    assert_nothing_private(response.text)
