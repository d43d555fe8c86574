"""A partner's pledge on one page, its yearly report, and reminders to who has not."""

import re
from datetime import date

from sqlmodel import select

from referral import db
from referral.mail import OutboxMessage
from referral.monitor.models import PledgeActivity, PledgeReport
from tests.conftest import post_form

YEAR = date.today().year


def _pledge(client, **extra):
    data = {"activities-0-what": "Gratis sportkennismaking", "activities-0-for_whom":
            "kinderen 6-12", "activities-0-target": "40 kinderen", "activities-0-due":
            f"{YEAR}-12-31", "activities-1-what": "Spreekuur op school",
            "new_partner": "Muziekschool Noord", **extra}
    return post_form(client, "/monitor/pledge/edit", data)


def test_partner_records_a_pledge_and_reports_on_it(app, client, login, make_user):
    login(make_user("partner", organisation="Jeugdfonds"))
    assert "Nog geen belofte" in client.get("/monitor/pledge").text
    assert _pledge(client).status_code == 303
    page = client.get("/monitor/pledge").text
    assert "Gratis sportkennismaking" in page and "Muziekschool Noord" in page
    assert "niet gerapporteerd" in page
    response = post_form(client, f"/monitor/pledge/report?year={YEAR}", {
        "entries-0-progress": "done", "entries-0-text": "42 kinderen kwamen",
        "entries-1-progress": "partly"})
    assert response.status_code == 303
    page = client.get(f"/monitor/pledge?year={YEAR}").text
    assert "gedaan" in page and "42 kinderen kwamen" in page
    # Editing keeps the report; emptying an activity removes it and its report.
    _pledge(client, **{"activities-1-what": ""})
    with app.app_context():
        assert len(db.session().exec(select(PledgeActivity)).all()) == 1
        assert len(db.session().exec(select(PledgeReport)).all()) == 1


def test_bad_pledges_are_refused_and_nothing_is_saved(app, client, login, make_user):
    login(make_user("partner", organisation="Jeugdfonds"))
    for data in ({"activities-0-what": ""}, {"activities-0-what": "x" * 301},
                 {"activities-0-what": "", "activities-0-target": "10"},
                 {"activities-0-due": "morgen"}):
        response = _pledge(client, **{"activities-1-what": "", **data})
        assert response.status_code == 200 and "Er is een probleem" in response.text
    with app.app_context():
        assert db.session().exec(select(PledgeActivity)).all() == []
    empty = post_form(client, "/monitor/pledge/report", {}, page="/monitor/pledge/edit")
    assert empty.status_code == 303  # no pledge yet: asked to describe it first


def test_coordinator_sees_who_reported_and_reminds_the_others(app, client, login, make_user):
    partner = make_user("partner", organisation="Jeugdfonds")
    make_user("partner", organisation="Leergeld")
    login(partner)
    _pledge(client)
    login(make_user("coordinator", organisation="Alliantie"))
    page = client.get(f"/monitor/pledges?year={YEAR}").text
    assert "Jeugdfonds" in page and "nog niet" in page and "geen belofte" in page
    assert "Gratis sportkennismaking" in client.get(
        re.search(r'href="(/monitor/pledges/[^"?]+)', page).group(1)).text
    for _ in range(2):  # twice on one day: one mail
        assert post_form(client, f"/monitor/pledges?year={YEAR}", {}).status_code == 303
    with app.app_context():
        [message] = db.session().exec(select(OutboxMessage)).all()
        assert message.recipient == partner.email
        assert "/monitor/pledge" in message.body and "sportkennismaking" not in message.body


def test_only_partners_pledge_and_only_coordinators_list(client, login, make_user):
    login(make_user("professional"))
    assert client.get("/monitor/pledge").status_code == 403
    assert client.get("/monitor/pledges").status_code == 403
    login(make_user("partner", organisation="Jeugdfonds"))
    assert client.get("/monitor/pledges").status_code == 403
