"""A partner's pledge on one page, its yearly report, and reminders to who has not."""

import re
from datetime import date

from sqlmodel import select

from referral import db
from referral.directory.models import Organisation
from referral.mail import OutboxMessage
from referral.monitor import queries
from referral.monitor.models import PledgeActivity, PledgeReport
from tests.conftest import counted_queries, post_form

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


def _row(page, organisation):
    """The overview's cells of one organisation, as text."""
    row = re.search(rf"<tr><td[^>]*>(?:<a [^>]*>)?{organisation}.*?</tr>", page, re.S).group(0)
    return [re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>",
                                                                        row, re.S)]


def test_coordinator_sees_who_reported_and_reminds_the_others(app, client, login, make_user):
    partner = make_user("partner", organisation="Jeugdfonds")
    make_user("partner", organisation="Leergeld")
    login(make_user("partner", organisation="Kledingbank"))
    _pledge(client, **{"activities-1-what": ""})
    post_form(client, f"/monitor/pledge/report?year={YEAR}", {"entries-0-progress": "done"})
    login(partner)
    _pledge(client)
    login(make_user("coordinator", organisation="Alliantie"))
    page = client.get(f"/monitor/pledges?year={YEAR}").text
    assert _row(page, "Jeugdfonds") == ["Jeugdfonds", "2", "nog niet"]
    assert _row(page, "Kledingbank") == ["Kledingbank", "1", "ja"]
    assert _row(page, "Leergeld") == ["Leergeld", "geen belofte", "—"]
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


def test_the_pledges_overview_is_paged(app, client, login, make_user, monkeypatch):
    """A country's alliance has thousands of organisations: one page at a time, the same
    statements for any number of them; the reminder still reaches every organisation."""
    partner = make_user("partner", organisation="Aanpak")
    for name in ("Buurtwerk", "Cultuurfonds", "Dorpshuis", "Eetpunt", "Jeugdfonds", "Opgeheven"):
        make_user("partner", organisation=name)
    with app.app_context():  # an organisation that stopped is neither listed nor counted
        stopped = db.session().exec(select(Organisation).where(
            Organisation.name == "Opgeheven")).one()
        stopped.active = False
        db.commit()
    login(partner)
    _pledge(client)
    monkeypatch.setattr(queries, "PLEDGE_PAGE_SIZE", 2)
    login(make_user("coordinator", organisation="Alliantie"))
    with counted_queries(app) as few:
        first = client.get(f"/monitor/pledges?year={YEAR}").text
    assert "Aanpak" in first and "nog niet" in first and "Alliantie" in first
    assert "Buurtwerk" not in first
    assert "Pagina 1 van 4" in first and f"/monitor/pledges?page=2&amp;year={YEAR}" in first
    last = client.get(f"/monitor/pledges?year={YEAR}&page=4").text
    assert "Jeugdfonds" in last and "Aanpak" not in last and "Pagina 4 van 4" in last
    assert "Pagina 4 van 4" in client.get(f"/monitor/pledges?year={YEAR}&page=99").text
    for name in ("Fietsbank", "Gezinshuis", "Huiswerkklas"):
        make_user("partner", organisation=name)
    with counted_queries(app) as more:
        assert "Pagina 1 van 5" in client.get(f"/monitor/pledges?year={YEAR}").text
    assert len(few) == len(more)
    assert post_form(client, f"/monitor/pledges?year={YEAR}", {}).status_code == 303
    with app.app_context():
        [message] = db.session().exec(select(OutboxMessage)).all()
        assert message.recipient == partner.email
