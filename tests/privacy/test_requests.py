"""A family's access request and erasure, and the access log, as the privacy officer sees
them; nobody else gets in, and not without a two-factor login."""

import html
import json
import re
import uuid
from urllib.parse import parse_qs, quote, urlsplit

import pyotp
import pytest
from flask import request
from sqlalchemy import func
from sqlmodel import select

from referral import db
from referral.audit.chain import verify
from referral.audit.models import AuditEvent
from referral.cases.models import Child, Consent, Family, Signal, SignalDomain
from referral.mail import OutboxMessage
from referral.privacy import queries as privacy_queries
from referral.referrals.models import Referral, ReferralEvent
from tests.conftest import audit_entries, csrf_token, post_form
from tests.world import SECRET_MESSAGE

FAMILY_TABLES = (Family, Child, Signal, SignalDomain, Consent, Referral, ReferralEvent)


def _counts(app, family_id):
    with app.app_context():
        session = db.session()
        referral_ids = select(Referral.id).where(Referral.family_id == family_id)
        return {
            "family": session.exec(select(func.count()).select_from(Family).where(
                Family.id == family_id)).one(),
            "child": session.exec(select(func.count()).select_from(Child).where(
                Child.family_id == family_id)).one(),
            "signal": session.exec(select(func.count()).select_from(Signal).where(
                Signal.family_id == family_id)).one(),
            "consent": session.exec(select(func.count()).select_from(Consent).where(
                Consent.family_id == family_id)).one(),
            "referral": session.exec(select(func.count()).select_from(Referral).where(
                Referral.family_id == family_id)).one(),
            "referral_event": session.exec(select(func.count()).select_from(
                ReferralEvent).where(ReferralEvent.referral_id.in_(referral_ids))).one(),
            "outbox_message": session.exec(select(func.count()).select_from(
                OutboxMessage).where(OutboxMessage.family_id == family_id)).one(),
        }


def test_the_access_request_shows_everything_decrypted(client, world, officer, app):
    page = client.get(f"/privacy/families/{world.family_id}")
    assert page.status_code == 200
    for value in ("Zeynep Yilmaz", "06-12345678", "Elif", "1 mrt 2017",
                  "Elif heeft vaak honger op school.", "naam en telefoon",
                  "Moeder Zeynep vraagt een voedselpakket"):
        assert value in page.text, value
    assert "Voedselbank" in page.text  # organisations by name, not by number
    assert "Wie uw gegevens bekeek" in page.text
    exports = audit_entries(app, action="export", family_id=world.family_id)
    assert exports and exports[-1].user_id == officer.id


def test_the_access_request_as_json(client, world, officer):
    response = client.get(f"/privacy/families/{world.family_id}.json")
    assert response.headers["Content-Disposition"].startswith("attachment")
    record = json.loads(response.text)
    assert record["family"][0]["parent_names"] == "Zeynep Yilmaz"
    assert record["child"][0]["birth_date"] == "2017-03-01"
    assert {r["message"] for r in record["referral"]} == {SECRET_MESSAGE}
    assert len(record["consent"]) == 2 and record["signal_domain"][0]["domain_code"] == "food"
    assert any(access["action"] == "create" for access in record["accesses"])
    assert "address_index" not in record["family"][0]  # keyed hashes are not the family's
    assert all("recipient" not in message for message in record["outbox_message"])


@pytest.mark.parametrize("who", ["owner", "stranger", "partner", "coordinator", "bridge"])
def test_nobody_else_reaches_the_privacy_pages(client, world, login, app, who):
    login(getattr(world, who))
    before = len(audit_entries(app, outcome="denied"))
    for path in ("/privacy/", "/privacy/log", "/privacy/families",
                 f"/privacy/families/{world.family_id}",
                 f"/privacy/families/{world.family_id}.json",
                 f"/privacy/families/{world.family_id}/erase"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "Zeynep" not in response.text
    assert len(audit_entries(app, outcome="denied")) == before + 6


def test_without_two_factor_the_officer_is_told_and_logged(client, world, login, app):
    login(world.privacy)  # password only
    for path in ("/privacy/log", f"/privacy/families/{world.family_id}"):
        response = client.get(path)
        assert response.status_code == 403
        assert "Inloggen in twee stappen nodig" in response.text
        assert "Zeynep" not in response.text
    denied = audit_entries(app, outcome="denied", user_id=world.privacy.id)
    assert len(denied) == 2 and "two-factor" in denied[-1].summary


def _privacy_pages(world):
    return ("/privacy/", "/privacy/log", "/privacy/families",
            f"/privacy/families/{world.family_id}", f"/privacy/families/{world.family_id}.json",
            f"/privacy/families/{world.family_id}/erase", f"/privacy/receipts/{uuid.uuid4()}")


@pytest.mark.parametrize("state", ["password-only", "code-owed"])
def test_an_officer_without_the_second_factor_gets_403_and_a_denied_entry_everywhere(
        client, world, login, app, make_user, state):
    """Issue 16, finding 6: logged in with the password only (no two-factor set up), or with
    the password given and the code still owed — every privacy page, read or posted, answers
    403 with the reason and logs the denial; none sends them away without a trace."""
    if state == "password-only":
        person = world.privacy
        assert login(person).headers["Location"] == "/"
        token = csrf_token(client, "/account")
    else:
        person = make_user("privacy_officer", organisation="Alliantie",
                           totp_secret=pyotp.random_base32())
        assert login(person).headers["Location"].endswith("/login/code")
        token = csrf_token(client, "/login/code")
    before = len(audit_entries(app, outcome="denied", user_id=person.id))
    requests = [("GET", path) for path in _privacy_pages(world)] + [
        ("POST", "/privacy/families"), ("POST", f"/privacy/families/{world.family_id}/erase")]
    for method, path in requests:
        response = client.open(path, method=method, data={
            "csrf_token": token, "name": "Yilmaz", "confirm": "y"} if method == "POST" else None)
        assert response.status_code == 403, (method, path, response.headers.get("Location"))
        assert "Inloggen in twee stappen nodig" in response.text
        assert "Zeynep" not in response.text
    denied = audit_entries(app, outcome="denied", user_id=person.id)[before:]
    assert len(denied) == len(requests)
    assert all(e.summary.endswith("needs two-factor") for e in denied)
    assert [e.action for e in denied][-1] == "delete"  # the erasure that was attempted
    assert sum(e.family_id == world.family_id for e in denied) == 4
    assert _counts(app, world.family_id)["family"] == 1  # nothing erased
    if state == "code-owed":  # the way on is the code, and the page says so
        assert 'href="/login/code"' in response.text
    else:
        assert 'href="/login/enrol"' in response.text


def test_erasure_asks_first_then_deletes_everywhere(client, world, officer, app):
    assert _counts(app, world.family_id)["outbox_message"] >= 1  # the partner was told
    path = f"/privacy/families/{world.family_id}/erase"
    page = client.get(path)
    assert "Wat wordt verwijderd" in page.text
    refused = post_form(client, path, {})
    assert refused.status_code == 400 and "Vink het vakje aan" in refused.text
    assert _counts(app, world.family_id)["family"] == 1  # nothing half-done
    done = post_form(client, path, {"confirm": "y"})
    assert done.status_code == 303
    assert set(_counts(app, world.family_id).values()) == {0}
    receipt = client.get(done.headers["Location"])
    assert "Bewijs van verwijdering" in receipt.text and str(world.family_id) in receipt.text
    assert re.search(r"<td[^>]*>2</td>", receipt.text)  # two referrals, two consents
    # The access log keeps its entries under the family's reference, and still verifies.
    entries = audit_entries(app, family_id=world.family_id)
    assert entries[0].action == "create" and entries[-1].summary == "family erased (request)"
    with app.app_context():
        assert verify(db.session(), app.instance_path) is None
    # The professional's page is gone for good.
    assert client.get(f"/privacy/families/{world.family_id}").status_code == 404


def test_the_log_filters_by_family_employee_action_and_period(client, world, officer, app):
    client.get(f"/privacy/families/{world.family_id}")  # one export entry by the officer
    page = post_form(client, "/privacy/log", {"family": str(world.family_id)})
    assert page.status_code == 200
    rows = re.findall(r"<tr><td[ >]", page.text)
    with app.app_context():
        expected = db.session().exec(select(func.count()).select_from(AuditEvent).where(
            AuditEvent.family_id == world.family_id)).one()
    assert len(rows) == expected - 1  # this very reading was logged after the page's query
    by_owner = post_form(client, "/privacy/log", {"user": world.owner.email,
                                                  "action": "create"})
    assert "Test Persoon 1" in by_owner.text and "aanmaken" in by_owner.text
    assert "exporteren" not in by_owner.text.split("<tbody>")[1]
    empty = post_form(client, "/privacy/log", {"start": "2000-01-01", "end": "2000-01-31"})
    assert "Geen regels gevonden." in empty.text
    bad = post_form(client, "/privacy/log", {"family": "not-a-reference",
                                             "start": "31-31-2026"})
    assert bad.status_code == 400 and "Er is een probleem" in bad.text
    # Reading the log is itself in the log, with the family it was about.
    reads = audit_entries(app, object_type="audit_log", user_id=officer.id)
    assert any(entry.family_id == world.family_id for entry in reads)


def test_the_log_filters_stay_out_of_every_address(client, world, officer, app, monkeypatch):
    """The outsider's finding: the filters were a GET form, so an employee's email address
    and a family reference went into every request log and proxy log. Now they are posted;
    the next pages carry only an opaque handle, and still show the filtered entries."""
    monkeypatch.setattr(privacy_queries, "LOG_PAGE_SIZE", 2)
    for _ in range(3):
        client.get(f"/privacy/families/{world.family_id}")  # export entries by the officer
    addresses = []  # what a request log or a proxy keeps: the path and the query string
    app.before_request_funcs.setdefault(None, []).append(
        lambda: addresses.append(request.full_path))
    empty = client.get("/privacy/log").text  # the filter form carries its own CSRF token
    assert re.search(r'<form method="post" action="/privacy/log" novalidate class="filters">'
                     r'\s*<input type="hidden" name="csrf_token" value="[^"]+">', empty)
    first = post_form(client, "/privacy/log", {"user": officer.email,
                                               "family": str(world.family_id)})
    assert first.status_code == 200 and 'rel="next"' in first.text
    assert 'method="get"' not in first.text
    assert f"family={world.family_id}" not in first.text
    older = html.unescape(re.search(r'href="([^"]+)" rel="next"', first.text).group(1))
    assert set(parse_qs(urlsplit(older).query)) == {"filter", "page"}
    second = client.get(older)
    assert second.status_code == 200 and 'rel="prev"' in second.text
    assert second.text.count("<tr><td") == 2  # two of the officer's entries, filtered
    assert "aanmaken" not in second.text.split("<tbody>")[1]  # not the owner's
    typed = (officer.email, quote(officer.email), str(world.family_id), world.family_id.hex)
    assert [path for path in addresses if any(value in path for value in typed)] == []
    # The session (a signed cookie anyone holding it can read) keeps them sealed.
    cookie = client.get_cookie("referral_session").value
    with app.test_request_context():
        held = app.session_interface.get_signing_serializer(app).loads(cookie)
    assert held["log_filters"] and officer.email not in json.dumps(held)
    assert str(world.family_id) not in json.dumps(held)
    # A handle this session does not hold (another's, or one that is gone) says so.
    assert "niet meer bekend" not in second.text
    assert "niet meer bekend" in client.get("/privacy/log?filter=elsewhere&page=2").text


def test_find_a_family_by_reference_or_address(client, world, officer, app):
    with app.app_context():
        from referral.auth.models import User
        from referral.cases.operations import create_family
        nurse = db.session().get(User, world.stranger.id)
        create_family(nurse, parent_names="Familie Adres", postcode="1234 ab",
                      house_number="7", street="Dorpsstraat", children=[])
        db.commit()
    found = post_form(client, "/privacy/families", {"reference": str(world.family_id)})
    assert "Zeynep Yilmaz" in found.text
    by_address = post_form(client, "/privacy/families", {"postcode": "1234AB",
                                                         "house_number": "7"})
    assert "Familie Adres" in by_address.text and "Zeynep" not in by_address.text
    nothing = post_form(client, "/privacy/families", {"postcode": "9999ZZ",
                                                      "house_number": "1"})
    assert "Geen gezin gevonden." in nothing.text
    assert len(audit_entries(app, action="search", user_id=officer.id)) == 3


def _family_of(app, person, parent_names, *children):
    from datetime import date

    from referral.auth.models import User
    from referral.cases.operations import create_family
    with app.app_context():
        create_family(db.session().get(User, person.id), parent_names=parent_names,
                      children=[(name, date(2016, 1, 1)) for name in children])
        db.commit()


def test_find_a_family_by_name_in_every_organisation(client, world, officer, app):
    """Found by part of a parent's or a child's name, whichever organisation registered it;
    the name goes in the posted form, never in the address, and every search is logged
    without it."""
    _family_of(app, world.stranger, "Anna de Vries", "Noor")
    _family_of(app, world.owner, "Pieter Jansen", "Daan")
    by_parent = post_form(client, "/privacy/families", {"name": "  de VRIES "})
    assert by_parent.status_code == 200
    assert "Anna de Vries" in by_parent.text and "Jansen" not in by_parent.text
    by_child = post_form(client, "/privacy/families", {"name": "daan"})
    assert "Pieter Jansen" in by_child.text and "Anna" not in by_child.text
    by_part = post_form(client, "/privacy/families", {"name": "yilm"})
    assert "Zeynep Yilmaz" in by_part.text
    nobody = post_form(client, "/privacy/families", {"name": "Bakker"})
    assert "Geen gezin gevonden." in nobody.text
    searches = audit_entries(app, action="search", user_id=officer.id)
    assert len(searches) == 4
    for entry in searches:
        assert "by name" in entry.summary
        for typed in ("Vries", "daan", "yilm", "Bakker"):
            assert typed.casefold() not in entry.summary.casefold()


def test_a_name_in_the_address_is_not_searched(client, world, officer, app):
    """An old bookmark with a name or postcode in the address searches nothing."""
    page = client.get("/privacy/families?name=Yilmaz&reference=" + str(world.family_id))
    assert page.status_code == 200 and "Zeynep Yilmaz" not in page.text
    assert not audit_entries(app, action="search", user_id=officer.id)


@pytest.mark.parametrize(("fields", "message"), [
    ({}, "Vul een naam, een gezinskenmerk, of een postcode en huisnummer in."),
    ({"name": "x"}, "Vul 2 tot 100 tekens van een naam in."),
    ({"name": "x" * 101}, "Vul 2 tot 100 tekens van een naam in."),
    ({"postcode": "1234AB"}, "Geef het huisnummer bij de postcode."),
    ({"reference": "geen-referentie"}, "Vul het gezinskenmerk in"),
])
def test_a_search_without_what_it_needs_says_so(client, world, officer, app, fields,
                                                message):
    response = post_form(client, "/privacy/families", fields)
    assert response.status_code == 400
    assert message in response.text and "Geen gezin gevonden." not in response.text
    assert not audit_entries(app, action="search", user_id=officer.id)
