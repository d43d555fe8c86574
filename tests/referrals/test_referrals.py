"""Referring from a signal, and following the referral through both sides."""

import re
import uuid
from datetime import date, timedelta

import pytest
from sqlmodel import select

from referral import db
from referral.auth.models import User
from referral.mail import OutboxMessage, send_pending
from referral.referrals.models import Referral, ReferralEvent
from tests.conftest import audit_entries, csrf_token, post_form
from tests.matrix import accompany
from tests.world import SECRET_MESSAGE, dutch, load, refer_again


def step(client, referral_id, target, **fields):
    """Press a step's button on the referral page, as the form there would post it (with its
    confirmation box ticked, which only the steps that end a referral have, and the version
    of the referral the page showed)."""
    fields.setdefault("confirm", "y")
    if "version" not in fields:
        shown = re.search(r'name="[\w-]+-version" type="hidden" value="(\d+)"',
                          client.get(f"/referrals/{referral_id}").text)
        if shown:
            fields["version"] = shown.group(1)
    token = csrf_token(client, "/account")
    data = {f"{target}-csrf_token": token, **{f"{target}-{k}": v for k, v in fields.items()}}
    return client.post(f"/referrals/{referral_id}/status/{target}", data=data)


def text_of(response):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text))


def outbox(app):
    with app.app_context():
        return db.session().exec(select(OutboxMessage).order_by(OutboxMessage.created_at)).all()


def refer_page(client, world):
    return f"/referrals/new/{world.signal_id}"


# --- referring ---------------------------------------------------------------------------

def test_refer_page_opens_filtered_by_the_signal(client, login, world, make_service):
    make_service("Kledingbon", organisation="Kledingbank", domains=("clothing",),
                 referral_route="inbox")
    make_service("Peuterontbijt", organisation="Voedselbank", minimum_age=0, maximum_age=3)
    make_service("Voedselhulp Utrecht", organisation="Voedselbank",
                 areas=(("GM0344", "Utrecht"),))
    login(world.owner)
    page = text_of(client.get(refer_page(client, world)))
    assert "Voedselpakket" in page and "Schoolspullen" not in page  # need domain: food
    assert "Kledingbon" not in page  # another need domain
    assert "Peuterontbijt" not in page  # Elif is older than three
    assert "Voedselhulp Utrecht" not in page  # another municipality
    wide = text_of(client.get(refer_page(client, world) + "?domains=all&age=&municipality="))
    assert "Kledingbon" in wide and "Peuterontbijt" in wide and "Voedselhulp Utrecht" in wide


def _refer(client, world, services, *, token=None, button="send", **fields):
    page = client.get(refer_page(client, world))
    token = token or re.search(r'name="form_token"[^>]*value="([^"]+)"', page.text).group(1)
    data = {"csrf_token": re.search(r'name="csrf_token"[^>]*value="([^"]+)"',
                                    page.text).group(1),
            "form_token": token, "services": [str(s) for s in services],
            "message": "Graag contact opnemen.", "follow_up_on": fields.pop(
                "follow_up_on", (date.today() + timedelta(days=14)).isoformat()),
            button: "1", **fields}
    return client.post(refer_page(client, world), data=data), token


def _referrals_of(app, world):
    with app.app_context():
        return db.session().exec(select(Referral).where(
            Referral.family_id == world.family_id).order_by(Referral.created_at)).all()


def test_refer_sends_where_consented_and_keeps_a_draft_elsewhere(app, client, login, world,
                                                                 make_service):
    sport = make_service("Zwemles", organisation="Jeugdfonds", domains=("food",),
                         referral_route="inbox")
    parcel = make_service("Voedselbus", organisation="Voedselbank", referral_route="inbox")
    login(world.owner)
    response, _ = _refer(client, world, [parcel, sport])
    assert response.status_code == 303
    page = text_of(client.get(response.headers["Location"]))
    assert "1 verwijzing verstuurd" in page or "Verwijzingen verstuurd: 1" in page
    assert "concept" in page  # no consent for the Jeugdfonds: a draft
    made = _referrals_of(app, world)[2:]
    assert sorted(r.status for r in made) == ["draft", "requested"]


def test_a_referral_sent_at_once_has_its_events_and_entries_in_the_order_they_happened(
        app, client, login, world, make_service):
    """Created, then sent: the timeline and the access log say so in that order (the
    referral is inserted once, with its final status: tests/test_query_budget.py)."""
    parcel = make_service("Voedselbus", organisation="Voedselbank", referral_route="inbox")
    login(world.owner)
    response, _ = _refer(client, world, [parcel])
    assert response.status_code == 303
    [made] = _referrals_of(app, world)[2:]
    assert (made.status, made.version) == ("requested", 2) and made.requested_at is not None
    with app.app_context():
        events = db.session().exec(select(ReferralEvent).where(
            ReferralEvent.referral_id == made.id).order_by(ReferralEvent.at)).all()
    assert [(e.kind, e.from_status, e.to_status) for e in events] == [
        ("created", None, "draft"), ("status", "draft", "requested")]
    assert [(e.action, e.summary) for e in audit_entries(app, object_id=str(made.id))] == [
        ("create", "referral created"), ("update", "referral draft -> requested")]


def test_the_same_form_twice_makes_its_referrals_once(app, client, login, world, make_service):
    parcel = make_service("Voedselbus", organisation="Voedselbank", referral_route="inbox")
    login(world.owner)
    first, token = _refer(client, world, [parcel])
    second, _ = _refer(client, world, [parcel], token=token)
    assert second.status_code == 303
    assert second.headers["Location"] == first.headers["Location"]
    assert len(_referrals_of(app, world)) == 3  # two from the world, one from this form


def test_refer_form_refuses_bad_input_and_saves_nothing(app, client, login, world):
    login(world.owner)
    cases = [
        dict(services=[]),
        dict(message=""),
        dict(message="x" * 4001),
        dict(follow_up_on="2020-01-01"),
        dict(follow_up_on="morgen"),
        dict(form_token="not-a-uuid"),
    ]
    for fields in cases:
        services = fields.pop("services", [world.inbox_service])
        response, _ = _refer(client, world, services, **fields)
        assert response.status_code == 200, fields
        assert "Er is een probleem" in response.text
    response, _ = _refer(client, world, [uuid.uuid4()])  # not a service
    assert response.status_code == 200
    assert len(_referrals_of(app, world)) == 2


def test_refer_from_a_signal_of_someone_elses_family_is_404(client, login, world):
    login(world.stranger)
    assert client.get(refer_page(client, world)).status_code == 404


# --- the partner's side ------------------------------------------------------------------

def test_partner_accepts_starts_and_completes(app, client, login, world):
    login(world.partner)
    inbox = text_of(client.get("/referrals/"))
    assert "Nieuw (1)" in inbox and "Voedselpakket" in inbox
    page = text_of(client.get(f"/referrals/{world.inbox_referral}"))
    assert SECRET_MESSAGE in page
    for target, fields in [("accepted", {}), ("in-progress", {}),
                           ("completed", {"outcome": "need_met", "reason": "Pakket gehaald."})]:
        version = load(app, world.inbox_referral).version
        response = step(client, world.inbox_referral, target, version=version, **fields)
        assert response.status_code == 303, target
    referral = load(app, world.inbox_referral)
    assert referral.status == "completed" and referral.outcome == "need_met"
    assert referral.closed_at is not None and referral.accepted_at is not None
    login(world.owner)
    page = text_of(client.get(f"/referrals/{world.inbox_referral}"))
    assert "afgerond" in page and "hulpvraag beantwoord" in page and "Pakket gehaald." in page
    family = text_of(client.get(f"/families/{world.family_id}"))
    assert "Voedselpakket — afgerond" in family


def test_a_reason_is_required_where_the_design_says(app, client, login, world):
    login(world.partner)
    response = step(client, world.inbox_referral, "rejected", reason="  ")
    assert response.status_code == 303
    page = text_of(client.get(response.headers["Location"]))
    assert "Geef een reden" in page
    assert load(app, world.inbox_referral).status == "requested"
    step(client, world.inbox_referral, "rejected", reason="Buiten ons werkgebied.")
    assert load(app, world.inbox_referral).status == "rejected"


def test_an_illegal_step_is_refused_with_a_message_not_a_500(app, client, login, world):
    login(world.partner)
    response = step(client, world.inbox_referral, "completed", outcome="need_met")
    assert response.status_code == 303
    assert "Deze stap kan nu niet" in text_of(client.get(response.headers["Location"]))
    assert step(client, world.inbox_referral, "no-such-status").status_code == 404
    assert load(app, world.inbox_referral).status == "requested"


def test_a_form_from_before_a_change_is_told_not_applied(app, client, login, world):
    login(world.partner)
    old = load(app, world.inbox_referral).version
    step(client, world.inbox_referral, "accepted", version=old)
    response = step(client, world.inbox_referral, "cancelled", version=old, reason="dubbel")
    assert "veranderd" in text_of(client.get(response.headers["Location"]))
    assert load(app, world.inbox_referral).status == "accepted"


def _status_post(client, referral_id, target, *, version):
    """The step's form exactly as the referral page shows it, with its version field
    changed (None: left out)."""
    page = client.get(f"/referrals/{referral_id}").text
    form = re.search(rf'<form[^>]*action="/referrals/{referral_id}/status/{target}".*?</form>',
                     page, re.S).group(0)
    data = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', form))
    assert f"{target}-version" in data  # the page does send it
    if version is None:
        del data[f"{target}-version"]
    else:
        data[f"{target}-version"] = str(version)
    return client.post(f"/referrals/{referral_id}/status/{target}", data=data)


def test_a_step_posted_without_its_version_is_refused_like_a_stale_form(
        app, client, login, world):
    """Issue 16, finding 6: leaving the version out skipped the check that a stale form
    meets. Now both get the same answer, and nothing changes."""
    login(world.partner)
    before = load(app, world.inbox_referral)
    events = len(audit_entries(app, object_type="referral", action="update"))
    stale = _status_post(client, world.inbox_referral, "accepted", version=before.version - 1)
    stale_page = text_of(client.get(stale.headers["Location"]))
    missing = _status_post(client, world.inbox_referral, "accepted", version=None)
    missing_page = text_of(client.get(missing.headers["Location"]))
    assert (missing.status_code, missing.headers["Location"]) == \
        (stale.status_code, stale.headers["Location"]) == (303, f"/referrals/{world.inbox_referral}")
    message = "Deze verwijzing is veranderd terwijl je ernaar keek"
    assert message in stale_page and message in missing_page
    after = load(app, world.inbox_referral)
    assert (after.status, after.version) == (before.status, before.version) == ("requested",
                                                                                before.version)
    assert len(audit_entries(app, object_type="referral", action="update")) == events
    # The same form with its version does the step.
    done = _status_post(client, world.inbox_referral, "accepted", version=before.version)
    assert message not in text_of(client.get(done.headers["Location"]))
    assert load(app, world.inbox_referral).status == "accepted"


def test_too_long_a_reason_is_refused(app, client, login, world):
    login(world.partner)
    response = step(client, world.inbox_referral, "rejected", reason="x" * 2001)
    assert response.status_code == 400 and "Er is een probleem" in response.text
    assert load(app, world.inbox_referral).status == "requested"


def test_notes_go_both_ways_and_are_encrypted(app, client, login, world):
    login(world.partner)
    response = post_form(client, f"/referrals/{world.inbox_referral}/notes",
                         {"text": "We bellen morgen."}, page=f"/referrals/{world.inbox_referral}")
    assert response.status_code == 303
    login(world.owner)
    assert "We bellen morgen." in client.get(f"/referrals/{world.inbox_referral}").text
    with app.app_context():
        raw = db.session().exec(select(ReferralEvent.text_enc).where(
            ReferralEvent.kind == "note")).one()
    assert "morgen" not in raw
    empty = post_form(client, f"/referrals/{world.inbox_referral}/notes", {"text": ""},
                      page=f"/referrals/{world.inbox_referral}")
    assert empty.status_code == 400


# --- referral by letter ------------------------------------------------------------------

def test_a_letter_referral_is_printed_and_its_steps_recorded_on_behalf(app, client, login,
                                                                      world):
    login(world.owner)
    letter = client.get(f"/referrals/{world.letter_referral}/letter")
    assert letter.status_code == 200
    text = text_of(letter)
    assert "Schoolspullen" in text and "Zeynep Yilmaz" in text and SECRET_MESSAGE in text
    assert "010-5550102" in text
    assert audit_entries(app, action="print")
    assert client.get(f"/referrals/{world.inbox_referral}/letter").status_code == 200
    step(client, world.letter_referral, "accepted",
         version=load(app, world.letter_referral).version)
    referral = load(app, world.letter_referral)
    assert referral.status == "accepted"
    page = text_of(client.get(f"/referrals/{world.letter_referral}"))
    assert "namens de partner vastgelegd" in page
    login(world.letter_partner)  # the organisation has no inbox: nothing shows there
    assert client.get(f"/referrals/{world.letter_referral}").status_code == 404


# --- my referrals ------------------------------------------------------------------------

def test_my_referrals_put_overdue_first_with_counts(app, client, login, world):
    with app.app_context():
        referral = db.session().get(Referral, world.letter_referral)
        referral.follow_up_on = date.today() - timedelta(days=1)
        db.commit()
    login(world.owner)
    page = text_of(client.get("/referrals/"))
    assert "2 aangevraagd" in page
    first, second = re.findall(r"(Schoolspullen|Voedselpakket)", page)[:2]
    assert (first, second) == ("Schoolspullen", "Voedselpakket")
    assert page.count("aangevraagd te laat") == 1  # the status column says so


# --- handover ----------------------------------------------------------------------------

def test_handover_moves_accountability_only_when_accepted(app, client, login, world):
    login(world.owner)
    url = f"/referrals/{world.inbox_referral}/handover"
    response = post_form(client, url, {"colleague": str(world.colleague.id),
                                       "note": "Ik ga met verlof."})
    assert response.status_code == 303
    again = post_form(client, url, {"colleague": str(world.colleague.id)})
    assert "wacht al op een antwoord" in again.text
    assert load(app, world.inbox_referral).owner_id == world.owner.id
    login(world.colleague)
    listed = client.get("/referrals/")
    assert "Gevraagd om over te nemen" in text_of(listed)
    assert f'href="/referrals/{world.inbox_referral}">Voedselpakket</a> — aangevraagd' in listed.text
    page = client.get(f"/referrals/{world.inbox_referral}")
    assert "Ik ga met verlof." in page.text
    assert client.get(f"/families/{world.family_id}").status_code == 404  # not yet
    handover_url = re.search(r'action="(/referrals/handovers/[^"]+)"', page.text).group(1)
    post_form(client, handover_url, {"accept": "1"}, page=f"/referrals/{world.inbox_referral}")
    assert load(app, world.inbox_referral).owner_id == world.colleague.id
    assert client.get(f"/families/{world.family_id}").status_code == 200
    login(world.owner)  # still created the family, but no longer owns this referral
    assert client.get(f"/referrals/{world.inbox_referral}").status_code == 404


def test_handover_only_to_a_colleague_of_the_same_organisation(client, login, world):
    login(world.owner)
    page = client.get(f"/referrals/{world.inbox_referral}/handover").text
    assert str(world.colleague.id) in page and str(world.stranger.id) not in page
    response = post_form(client, f"/referrals/{world.inbox_referral}/handover",
                         {"colleague": str(world.stranger.id)})
    assert response.status_code == 200 and "Er is een probleem" in response.text


def test_a_user_with_open_referrals_cannot_be_deactivated(app, client, login, runner, world):
    result = runner.invoke(args=["users", "deactivate", world.owner.email])
    assert result.exit_code != 0
    assert str(world.inbox_referral) in result.output
    login(world.coordinator)
    response = post_form(client, f"/users/{world.owner.id}/deactivate", {"confirm": "y"})
    assert response.status_code == 200 and str(world.letter_referral) in response.text
    with app.app_context():
        for referral_id in (world.inbox_referral, world.letter_referral):
            referral = db.session().get(Referral, referral_id)
            referral.owner_id = world.colleague.id
        db.commit()
    response = post_form(client, f"/users/{world.owner.id}/deactivate", {"confirm": "y"})
    assert response.status_code == 303
    assert runner.invoke(args=["users", "deactivate", world.colleague.email]).exit_code != 0


# --- notifications -----------------------------------------------------------------------

@pytest.fixture
def mail_app(make_app, smtp):
    return make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, MAIL_FROM="tool@example.org")


def test_who_is_told_what_without_personal_data(mail_app, smtp, world, make_user):
    app = mail_app
    client = app.test_client()

    def as_(person):
        client.post("/logout", data={"csrf_token": csrf_token(client, "/account")}) \
            if client.get_cookie("referral_session") else None
        post_form(client, "/login", {"email": person.email, "password": person.password})

    with app.app_context():
        send_pending()
    [(to, content)] = [m for m in smtp.messages if "aanmelden@" in m[0][0]]
    assert to == ["aanmelden@voedselbank.example"] and "/referrals/" in content
    smtp.messages.clear()
    as_(world.partner)
    step(client, world.inbox_referral, "accepted")
    as_(world.owner)
    post_form(client, f"/referrals/{world.inbox_referral}/handover",
              {"colleague": str(world.colleague.id), "note": "Zeynep belt terug"})
    with app.app_context():
        assert send_pending() == (2, 0)
    recipients = sorted(to[0] for to, _ in smtp.messages)
    assert recipients == sorted([world.owner.email, world.colleague.email])
    for _to, content in smtp.messages:
        assert f"/referrals/{world.inbox_referral}" in content
        for private in ("Zeynep", "Elif", "Yilmaz", "06-12345678", "voedselpakket"):
            assert private not in content


def test_a_failing_smtp_server_keeps_the_change_and_the_mail(make_app, world, client, login,
                                                             app):
    from tests.conftest import free_port

    login(world.partner)
    step(client, world.inbox_referral, "accepted")
    assert load(app, world.inbox_referral).status == "accepted"
    down = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())
    with down.app_context():
        sent, failed = send_pending()
    assert sent == 0 and failed >= 1
    assert all(m.sent_at is None for m in outbox(app))


def test_refer_again_helper_makes_a_draft_without_consent(app, world, make_service):
    service = make_service("Zwemles", organisation="Jeugdfonds", referral_route="inbox")
    assert load(app, refer_again(app, world, service)).status == "draft"


# --- bridge workers ----------------------------------------------------------------------

def test_a_bridge_worker_joins_with_consent_and_adds_notes(app, client, login, world):
    login(world.owner)
    url = f"/referrals/{world.inbox_referral}/bridge"
    refused = post_form(client, url, {"bridge": str(world.bridge.id)})
    assert refused.status_code == 200 and "Er is een probleem" in refused.text
    assert load(app, world.inbox_referral).bridge_id is None
    assert post_form(client, url, {"bridge": str(world.bridge.id),
                                   "family_agreed": "y"}).status_code == 303
    login(world.bridge)
    assert answer_bridge(client, world, accept="1").status_code == 303
    mine = text_of(client.get("/referrals/"))
    assert "Voedselpakket" in mine
    page = client.get(f"/referrals/{world.inbox_referral}")
    assert SECRET_MESSAGE in page.text and "Zeynep Yilmaz" not in page.text
    post_form(client, f"/referrals/{world.inbox_referral}/notes",
              {"text": "Ik ga mee naar de intake."}, page=f"/referrals/{world.inbox_referral}")
    assert client.get(f"/referrals/{world.letter_referral}").status_code == 404
    assert client.get(f"/families/{world.family_id}").status_code == 404
    assert step(client, world.inbox_referral, "accepted").status_code == 303
    assert load(app, world.inbox_referral).status == "requested"  # notes only
    login(world.owner)
    assert "Ik ga mee naar de intake." in client.get(f"/referrals/{world.inbox_referral}").text


def test_a_rejection_keeps_its_kind_of_reason_for_the_monitor(app, client, login, world):
    login(world.partner)
    step(client, world.inbox_referral, "rejected", reason="Geen plek tot maart.",
         reason_code="no_capacity")
    assert load(app, world.inbox_referral).reason_code == "no_capacity"
    login(world.owner)
    assert "geen plek of een wachtlijst" not in client.get(
        f"/referrals/{world.inbox_referral}").text  # final: no more steps to take
    step(client, world.letter_referral, "accepted", version=load(app, world.letter_referral)
         .version)
    refused = step(client, world.letter_referral, "failed", reason="Nooit gekomen.",
                   reason_code="made-up")
    assert refused.status_code == 400 and load(app, world.letter_referral).status == "accepted"
    step(client, world.letter_referral, "failed", reason="Nooit gekomen.")
    assert load(app, world.letter_referral).reason_code == "other"  # no kind given


def test_refer_page_survives_odd_filters(client, login, world):
    login(world.owner)
    for query in ("age=99999999999999999999999", "age=-1", "municipality=" + "x" * 500,
                  "q=" + "%00" * 50, "domains=all&age=abc"):
        assert client.get(f"/referrals/new/{world.signal_id}?{query}").status_code == 200


# --- the next steps, as groups -----------------------------------------------------------

def steps_of(response):
    """The step groups of the referral page, in order: (legend, whether it ends the
    referral)."""
    section = response.text.split('id="steps-title"', 1)[1].split("</section>", 1)[0]
    return [(re.sub(r"\s+", " ", re.search(r"<legend>(.*?)</legend>", form, re.S)[1]).strip(),
             'class="step stop"' in form.split(">", 1)[0])
            for form in section.split("<form")[1:]]


def test_the_next_steps_are_labelled_groups_the_usual_one_first(app, client, login, world):
    login(world.partner)
    page = client.get(f"/referrals/{world.inbox_referral}")
    assert steps_of(page) == [(dutch(app, "Accept"), False), (dutch(app, "Reject"), True),
                              (dutch(app, "Cancel the referral"), True)]
    text = text_of(page)
    # Each reason field asks its own step's question, with its own id.
    assert dutch(app, "Why can the service not help?") in text
    assert dutch(app, "Why does the referral stop?") in text
    assert 'id="rejected-reason"' in page.text and 'id="cancelled-reason"' in page.text
    assert text.index(dutch(app, "If it does not go ahead")) > text.index(
        dutch(app, "The service takes the family on. The referrer is told."))
    step(client, world.inbox_referral, "accepted",
         version=load(app, world.inbox_referral).version)
    assert [label for label, _stop in steps_of(client.get(
        f"/referrals/{world.inbox_referral}"))] == [dutch(app, "Start"),
                                                    dutch(app, "Put on hold"),
                                                    dutch(app, "Report as failed"),
                                                    dutch(app, "Cancel the referral")]


def test_the_referrer_sees_only_stops_set_apart_for_a_sent_referral(app, client, login, world):
    login(world.owner)
    page = client.get(f"/referrals/{world.inbox_referral}")
    assert steps_of(page) == [(dutch(app, "Mark as entered in error"), True),
                              (dutch(app, "Cancel the referral"), True)]
    assert dutch(app, "Yes, this referral was made by mistake") in page.text


def test_each_page_has_its_own_steps_and_a_form_with_errors_stays_on_its_page(app, client,
                                                                                 login, world):
    """The steps' blank fields are drawn once per status and step; each page's address and
    version are its own, and a step or note sent back with its errors is not drawn again."""
    other = refer_again(app, world, world.inbox_service)
    with app.app_context():
        db.session().get(Referral, other).version = 7
        db.commit()
    login(world.partner)
    pages = {referral: client.get(f"/referrals/{referral}").text
             for referral in (world.inbox_referral, other)}
    for referral, page in pages.items():
        assert f'action="/referrals/{referral}/status/accepted"' in page
        assert f'name="rejected-version" type="hidden" value="{load(app, referral).version}"' \
            in page
        other_id = other if referral == world.inbox_referral else world.inbox_referral
        assert str(other_id) not in page
    refused = step(client, other, "rejected", confirm="", reason_code="other")
    empty = post_form(client, f"/referrals/{other}/notes", {"text": ""},
                      page=f"/referrals/{other}")
    assert refused.status_code == empty.status_code == 400
    assert dutch(app, "Tick the box to confirm.") in refused.text
    assert dutch(app, "Write the note.") in empty.text
    for referral in (world.inbox_referral, other):
        again = client.get(f"/referrals/{referral}").text
        assert dutch(app, "Tick the box to confirm.") not in again
        assert dutch(app, "Write the note.") not in again
        assert dutch(app, "There is a problem") not in again
    assert steps_of(client.get(f"/referrals/{other}")) == steps_of(
        client.get(f"/referrals/{world.inbox_referral}"))


@pytest.mark.parametrize(("who", "target", "fields"), [
    ("partner", "rejected", {"reason": "Buiten ons werkgebied.", "reason_code": "other"}),
    ("owner", "cancelled", {"reason": "Het gezin is verhuisd."}),
    ("owner", "entered-in-error", {}),
])
def test_a_step_that_ends_the_referral_asks_for_a_confirmation(app, client, login, world, who,
                                                               target, fields):
    login(getattr(world, who))
    version = load(app, world.inbox_referral).version
    refused = step(client, world.inbox_referral, target, version=version, confirm="",
                   **fields)
    assert refused.status_code == 400
    assert dutch(app, "Tick the box to confirm.") in refused.text
    assert f'href="#{target}-confirm"' in refused.text  # the summary leads to the box
    assert load(app, world.inbox_referral).status == "requested"
    done = step(client, world.inbox_referral, target, version=version, confirm="y", **fields)
    assert done.status_code == 303 and load(app, world.inbox_referral).status == target


def test_the_usual_step_needs_no_confirmation(app, client, login, world):
    login(world.partner)
    page = client.get(f"/referrals/{world.inbox_referral}")
    assert 'id="accepted-confirm"' not in page.text
    step(client, world.inbox_referral, "accepted", confirm="")
    assert load(app, world.inbox_referral).status == "accepted"


def test_a_step_without_its_token_is_refused(app, client, login, world):
    login(world.partner)
    response = client.post(f"/referrals/{world.inbox_referral}/status/rejected", data={
        "rejected-reason": "x", "rejected-confirm": "y"})
    assert response.status_code == 400
    assert load(app, world.inbox_referral).status == "requested"


def test_the_timeline_is_numbered_oldest_first(app, client, login, world):
    login(world.partner)
    step(client, world.inbox_referral, "accepted")
    login(world.owner)
    page = client.get(f"/referrals/{world.inbox_referral}")
    timeline = page.text.split('class="timeline"', 1)[1].split("</ol>", 1)[0]
    items = [re.sub(r"<[^>]+>", " ", item) for item in timeline.split("<li>")[1:]]
    assert dutch(app, "created the referral") in items[0]
    assert dutch(app, "accepted") in items[-1]
    family = client.get(f"/families/{world.family_id}").text
    family_timeline = family.split('class="timeline"', 1)[1]
    assert family_timeline.index(dutch(app, "created the referral")) < family_timeline.index(
        dutch(app, "accepted"))



def test_the_family_page_names_who_did_what(app, client, login, world):
    """The timeline and the changes to the family's data name their actors (read with the
    rows themselves, not looked up apart)."""
    login(world.partner)
    step(client, world.inbox_referral, "accepted")
    with app.app_context():
        owner, partner = (db.session().get(User, person.id).name
                          for person in (world.owner, world.partner))
    login(world.owner)
    family = client.get(f"/families/{world.family_id}").text
    timeline = family.split('class="timeline"', 1)[1].split("</ol>", 1)[0]
    items = [re.sub(r"<[^>]+>", " ", item) for item in timeline.split("<li>")[1:]]
    assert all(owner in item for item in items if dutch(app, "created the referral") in item)
    assert partner in next(item for item in items if dutch(app, "accepted") in item)
    history = family.split('class="plain-list history"', 1)[1].split("</ul>", 1)[0]
    assert f"{owner}:" in history and partner not in history


@pytest.mark.parametrize("answered", [False, True])
def test_the_referral_page_names_its_referrer_bridge_worker_and_actors(app, client, login,
                                                                       world, answered):
    """The events bring their actors' names; the referrer and a bridge worker who has not
    answered yet (no event of theirs) are named all the same."""
    accompany(app, world, answer=answered)
    login(world.partner)
    step(client, world.inbox_referral, "accepted")
    with app.app_context():
        owner, partner, bridge = (db.session().get(User, person.id).name
                                  for person in (world.owner, world.partner, world.bridge))
    login(world.owner)
    text = text_of(client.get(f"/referrals/{world.inbox_referral}"))
    assert f"{dutch(app, 'Referred by')} {owner}" in text
    assert f"{dutch(app, 'Bridge worker')} {bridge}" in text
    assert f"{partner}:" in text and f"{owner}:" in text and (f"{bridge}:" in text) == answered
    assert "?" not in text.split(dutch(app, "Referred by"), 1)[1][:80]


def test_a_referral_outside_the_tool_says_so_in_plain_words(app, client, login, world):
    login(world.owner)
    text = text_of(client.get(f"/referrals/{world.letter_referral}"))
    assert "hier gevolgd" not in text
    assert dutch(app, "outside the tool (%(route)s): you record its steps here",
                 route="by letter") in text


# --- the bridge worker's answer ----------------------------------------------------------

def answer_bridge(client, world, referral=None, **fields):
    referral = referral or world.inbox_referral
    token = csrf_token(client, "/account")
    return client.post(f"/referrals/{referral}/bridge/answer",
                       data={"csrf_token": token, **fields})


def test_the_bridge_worker_sees_the_request_and_accepts(app, client, login, world):
    accompany(app, world, answer=False)
    login(world.owner)
    assert dutch(app, "asked, has not answered yet") in text_of(
        client.get(f"/referrals/{world.inbox_referral}"))
    login(world.bridge)
    page = client.get(f"/referrals/{world.inbox_referral}")
    assert dutch(app, "You are asked to accompany this family") in page.text
    assert SECRET_MESSAGE in page.text  # enough to decide, with the family's consent
    assert 'action="/referrals/' + str(world.inbox_referral) + '/notes"' not in page.text
    before = len(outbox(app))
    response = answer_bridge(client, world, accept="1")
    assert response.status_code == 303
    assert load(app, world.inbox_referral).bridge_accepted_at is not None
    page = client.get(response.headers["Location"])
    assert dutch(app, "You are asked to accompany this family") not in page.text
    assert dutch(app, "agreed to accompany the family") in page.text
    [told] = outbox(app)[before:]
    assert told.family_id == world.family_id and "Zeynep" not in told.body
    assert audit_entries(app, summary="bridge request accepted")


def test_the_bridge_worker_declines_with_a_reason_for_the_owner(app, client, login, world):
    accompany(app, world, answer=False)
    login(world.bridge)
    response = answer_bridge(client, world, decline="1", reason="Ik zit vol tot maart.")
    assert response.status_code == 303 and response.headers["Location"] == "/referrals/"
    assert load(app, world.inbox_referral).bridge_id is None
    assert client.get(f"/referrals/{world.inbox_referral}").status_code == 404
    login(world.owner)
    text = text_of(client.get(f"/referrals/{world.inbox_referral}"))
    assert dutch(app, "declined to accompany the family") in text
    assert "Ik zit vol tot maart." in text
    with app.app_context():
        raw = db.session().exec(select(ReferralEvent.text_enc).where(
            ReferralEvent.outcome == "declined")).one()
    assert "maart" not in raw


@pytest.mark.parametrize(("fields", "message"), [
    ({"decline": "1", "reason": "x" * 2001}, None),
    ({"reason": "geen knop"}, "Choose to accept or to decline."),
])
def test_a_bad_bridge_answer_is_refused_and_changes_nothing(app, client, login, world, fields,
                                                            message):
    accompany(app, world, answer=False)
    login(world.bridge)
    response = answer_bridge(client, world, **fields)
    assert response.status_code == 400 and "Er is een probleem" in response.text
    if message:
        assert dutch(app, message) in response.text
    referral = load(app, world.inbox_referral)
    assert referral.bridge_id == world.bridge.id and referral.bridge_accepted_at is None


def test_a_bridge_answer_needs_its_token_and_the_request(app, client, login, world):
    accompany(app, world, answer=False)
    login(world.bridge)
    no_token = client.post(f"/referrals/{world.inbox_referral}/bridge/answer",
                           data={"accept": "1"})
    assert no_token.status_code == 400
    assert load(app, world.inbox_referral).bridge_accepted_at is None
    for person in (world.owner, world.partner):  # asked is only the bridge worker
        login(person)
        assert answer_bridge(client, world, accept="1").status_code == 404
    login(world.bridge)
    assert answer_bridge(client, world, accept="1").status_code == 303
    assert answer_bridge(client, world, decline="1").status_code == 404  # answered once
    assert load(app, world.inbox_referral).bridge_id == world.bridge.id


# --- the letter: where, when and how to apply --------------------------------------------

def test_the_letter_says_where_when_and_how_to_apply(app, client, login, world, make_service):
    service = make_service(
        "Spreekuur schoolkosten", organisation="Leergeld", domains=("school_costs",),
        referral_route="phone", phone="010-5550177", email="spreekuur@leergeld.example",
        address={"address_1": "Schoolplein 3", "postal_code": "3011 AA", "city": "Rotterdam",
                 "state_province": "Zuid-Holland"},
        opening_hours="Woensdag 13:00 tot 16:00",
        application_process="Neem een loonstrook mee.")
    referral = refer_again(app, world, service)
    login(world.owner)
    text = text_of(client.get(f"/referrals/{referral}/letter"))
    for shown in ("Spreekuur schoolkosten", "Leergeld", "010-5550177",
                  "spreekuur@leergeld.example", "Schoolplein 3", "3011 AA Rotterdam",
                  "Woensdag 13:00 tot 16:00", "Neem een loonstrook mee.",
                  dutch(app, "Call %(phone)s to apply.", phone="010-5550177")):
        assert shown in text, shown


def test_a_letter_for_a_service_without_contact_details_says_so(app, client, login, world,
                                                                   make_service):
    service = make_service("Stille hulp", organisation="Leergeld", domains=("school_costs",),
                           referral_route="phone")
    referral = refer_again(app, world, service)
    login(world.owner)
    text = text_of(client.get(f"/referrals/{referral}/letter"))
    assert dutch(app, "Apply by phone. The directory has no number for this service: ask the "
                      "organisation.") in text
    assert dutch(app, "No contact details are known. Ask the organisation, or the "
                      "coordinator, to add them.") in text
