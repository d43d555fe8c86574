"""Marker values typed into every form of the referral path never appear in the raw database,
in a log line or in an email."""

import logging
import re
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlmodel import SQLModel

from referral import db
from referral.mail import send_pending
from tests.conftest import csrf_token, post_form

MARK = "Zq7731"  # in every value below, so one search finds any of them


@pytest.fixture
def mail_app(make_app, smtp):
    return make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, MAIL_FROM="tool@example.org")


def raw_database(app):
    """Every byte the database holds, as well as we can read it raw."""
    url = app.config["DATABASE_URL"]
    if url.startswith("sqlite"):
        path = Path(url.split("///", 1)[1])
        return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    engine = db.make_engine(url)
    try:
        with engine.connect() as connection:
            return "".join(str(row) for table in SQLModel.metadata.sorted_tables
                           for row in connection.execute(table.select())).encode()
    finally:
        engine.dispose()


@pytest.mark.own_database
def test_markers_stay_out_of_database_logs_and_mail(mail_app, smtp, make_user, make_service,
                                                    caplog):
    app = mail_app
    owner = make_user("professional", organisation="JGZ")
    colleague = make_user("professional", organisation="JGZ")
    partner = make_user("partner", organisation="Voedselbank")
    make_service("Voedselpakket", organisation="Voedselbank", referral_route="inbox",
                 email="aanmelden@voedselbank.example")
    client = app.test_client()

    def as_(person):
        client.delete_cookie("referral_session")
        post_form(client, "/login", {"email": person.email, "password": person.password})

    caplog.set_level(logging.DEBUG)
    as_(owner)
    family = post_form(client, "/families/new", {
        "parent_names": f"Ouder {MARK}", "phone": f"06-{MARK}", "email": f"{MARK}@example.org",
        "street": f"Straat {MARK}", "house_number": "7", "postcode": "1234 AB",
        "language": "nl", "children-0-first_name": f"Kind{MARK}",
        "children-0-birth_date": "2016-05-05"}).headers["Location"]
    post_form(client, f"{family}/signals/new", {
        "domains": ["food"], "observations": f"Gezien {MARK}", "source": "conversation",
        "urgency": "normal", "strengths": f"Sterk {MARK}", "parent_wishes": f"Wens {MARK}",
        "child_wishes": f"Kindwens {MARK}", "stress_factors": f"Stress {MARK}"})
    organisation = re.search(r'<option value="([^"]+)">Voedselbank', client.get(
        f"{family}/consents/new").text).group(1)
    post_form(client, f"{family}/consents/new", {
        "organisation": organisation, "child": "", "given_by": f"Ouder {MARK}",
        "scope": f"Alles {MARK}", "method": "spoken", "given_on": date.today().isoformat(),
        "parent_agreed": "y"})
    page = client.get(family).text
    refer = re.search(r'href="(/referrals/new/[^"]+)"', page).group(1)
    form = client.get(refer).text
    service = re.search(r'name="services" id="service-[^"]+" value="([^"]+)"', form).group(1)
    token = re.search(r'name="form_token"[^>]*value="([^"]+)"', form).group(1)
    sent = client.post(refer, data={
        "csrf_token": csrf_token(client, refer), "form_token": token, "services": [service],
        "message": f"Bericht {MARK}", "send": "1",
        "follow_up_on": (date.today() + timedelta(days=14)).isoformat()})
    assert sent.status_code == 303
    referral = re.search(r'href="(/referrals/[0-9a-f-]{36})"', client.get(family).text).group(1)
    post_form(client, f"{referral}/notes", {"text": f"Notitie {MARK}"}, page=referral)
    post_form(client, f"{referral}/handover", {"colleague": str(colleague.id),
                                                "note": f"Verlof {MARK}"})
    as_(partner)
    shown = client.get(referral).text
    assert f"Bericht {MARK}" in shown  # it works: the partner reads it
    client.post(f"{referral}/status/rejected", data={
        "rejected-csrf_token": csrf_token(client, "/account"),
        "rejected-version": re.search(r'name="rejected-version" type="hidden" value="(\d+)"',
                                      shown).group(1),
        "rejected-reason": f"Reden {MARK}", "rejected-confirm": "y"})
    with app.app_context():
        assert send_pending()[0] >= 3  # new referral, note, handover, rejection
    assert smtp.messages
    for _recipients, content in smtp.messages:
        assert MARK not in content
    assert MARK not in caplog.text
    with app.app_context():
        raw = raw_database(app)
    assert raw.count(b"f1.") + raw.count(b"v1.") > 20  # the values are there, sealed
    assert MARK.encode() not in raw
