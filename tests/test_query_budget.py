"""Every page keeps a budget of SQL statements, so an N+1 query fails a test.

The budgets are measured on the larger of SQLite and PostgreSQL, against an alliance with
several families, referrals, events and answers: a query per row would go over at once.
A new page needs a row in BUDGETS before this file passes.
"""

import re
import uuid
from datetime import date

import pyotp
import pytest
from sqlmodel import select

from referral import db
from referral.auth.models import User
from referral.cases.models import Child, Family
from referral.cases.operations import create_family, log_signal, record_consent
from referral.directory.models import Organisation, Service
from referral.feedback import operations as feedback
from referral.referrals.models import Referral
from referral.referrals.operations import add_note, assign_bridge, change_status, refer
from referral.referrals.queries import default_follow_up
from tests.conftest import count_queries, counted_queries, csrf_token, post_form
from tests.world import refer_again

KEY = pyotp.random_base32()
YEAR = date.today().year

# (who, path, most statements), measured on SQLite: its BEGIN IMMEDIATE is one statement
# more than PostgreSQL runs. Paths name the world's objects in braces. A page that decrypts
# a family's data reads the family's key once (one statement, whatever the number of rows).
BUDGETS = [
    ("anonymous", "/login", 0),
    ("anonymous", "/login/forgot", 0),
    ("anonymous", "/login/forgot/sent", 0),
    ("linked", "/account/link", 2),
    ("anonymous", "/healthz", 0),
    ("owner", "/healthz", 0),  # a page that needs no account loads none (issue 18)
    ("anonymous", "/readyz", 2),
    ("family", "/f/", 2),
    ("family", "/f/form", 2),
    ("family", "/f/thanks", 0),
    ("pending", "/login/code", 2),
    ("owner", "/", 2),  # the worklist and its families' keys: one statement (issue 18)
    ("owner", "/account", 2),
    ("owner", "/account/password", 2),
    ("owner", "/login/enrol", 2),
    ("owner", "/families/", 3),
    ("owner", "/families/?sort=name&page=2", 3),
    ("owner", "/families/new", 3),
    ("owner", "/families/{family}", 12),  # events with their actors, with its municipality
    ("owner", "/families/{family}/edit", 5),
    ("owner", "/families/{family}/children/{child}/remove", 4),
    ("owner", "/families/{family}/signals/new", 4),
    ("owner", "/families/{family}/consents/new", 5),
    ("owner", "/referrals/", 4),  # the rows, their count and families' keys: one statement;
    # the counts per status and the filters' services: one more
    ("owner", "/referrals/?status=open&overdue=y&service={service}&days=90&sort=service", 4),
    ("owner", "/referrals/new/{signal}", 13),
    ("owner", "/referrals/{referral}", 11),
    ("owner", "/referrals/{referral}/handover", 4),
    ("owner", "/referrals/{referral}/follow-up", 4),
    ("owner", "/referrals/{draft}/edit", 14),
    ("owner", "/referrals/{referral}/bridge", 4),
    ("owner", "/referrals/{letter_referral}/letter", 11),  # with the address and hours
    ("owner", "/directory/", 9),  # the need domains read once; the results and their count
    ("owner", "/directory/?domains=food&municipality=GM0363&age=7&q=voedsel", 9),
    ("owner", "/directory/services/{service}", 8),  # the address, hours, what the source says
    ("owner", "/feedback/", 3),
    ("owner", "/feedback/invite/{family}", 4),
    ("owner", "/privacy/register", 2),
    ("partner", "/", 2),
    ("partner", "/referrals/", 4),  # the rows with their families' keys and municipalities
    ("partner", "/referrals/?status=all&waiting=7&service={service}&sort=waiting&page=2", 6),
    ("partner", "/referrals/{referral}", 11),
    ("partner", "/directory/services/{service}/edit", 7),  # with the address and hours
    ("partner", "/feedback/", 3),
    ("partner", "/monitor/", 29),  # counts the year (the same figures for every viewer)
    ("partner", "/monitor/pledge", 6),
    ("partner", "/monitor/pledge/edit", 4),
    ("partner", "/monitor/pledge/report", 5),
    ("bridge", "/", 2),
    ("bridge", "/referrals/", 2),
    ("bridge", "/referrals/?status=closed&sort=urgency", 2),
    ("bridge", "/referrals/{referral}", 11),
    ("coordinator", "/", 3),
    ("coordinator", "/outbox", 3),
    ("coordinator", "/monitor/", 29),
    ("coordinator", "/monitor/export.csv", 31),
    ("coordinator", "/monitor/report", 29),  # the years read with the stored count
    ("coordinator", "/monitor/pledges", 5),
    ("coordinator", "/monitor/pledges/{organisation}", 6),
    ("coordinator", "/referrals/stuck", 6),
    ("coordinator", "/referrals/stuck?organisation={organisation}&status=accepted&sort=longest",
     6),
    ("coordinator", "/users", 3),
    ("coordinator", "/users?role=professional&status=active&expired=y&sort=training&order=desc", 4),
    ("coordinator", "/users?sort=status&page=2", 4),
    ("coordinator", "/users/new", 2),
    ("coordinator", "/users/{colleague}", 4),
    ("coordinator", "/users/{colleague}/deactivate", 3),
    ("coordinator", "/directory/attention", 3),
    ("coordinator", "/directory/export.zip", 20),  # one select per HSDS table it writes
    # The public HSDS API: the directory's tables, one select each, whatever the page.
    ("anonymous", "/api/hsds/", 0),
    ("anonymous", "/api/hsds/openapi.json", 0),
    ("anonymous", "/api/hsds/services", 24),
    ("anonymous", "/api/hsds/organizations", 24),
    ("anonymous", "/api/hsds/taxonomies", 24),
    ("anonymous", "/api/hsds/taxonomy_terms", 24),
    ("anonymous", "/api/hsds/service_at_locations", 24),
    ("coordinator", "/directory/organisations", 3),
    ("coordinator", "/directory/organisations/new", 2),
    ("coordinator", "/directory/organisations/{organisation}", 8),
    ("coordinator", "/directory/organisations/{organisation}/edit", 3),
    ("officer", "/", 3),
    ("officer", "/privacy/", 3),
    ("officer", "/privacy/families", 2),
    ("officer", "/privacy/families?postcode=1011AB&house_number=1", 2),  # not searched
    ("officer", "/privacy/families/{family}", 25),
    ("officer", "/privacy/families/{family}.json", 19),
    ("officer", "/privacy/families/{family}/erase", 14),
    ("officer", "/privacy/log", 7),
]
FIND_BUDGET = 8  # POST /privacy/families: a search by name, the access log entry
SEARCH_BUDGET = 2  # POST /families/: the search goes in the session, nothing is read
# The posts hold SQLite's one write lock from their first statement to their commit.
# POST /referrals/new/<signal>: two services, one referral sent (each inserted once, with
# its final status: the consent is read before it is added; the signal and its family in
# one statement)
REFER_BUDGET = 19
STATUS_BUDGET = 10  # POST /referrals/<id>/status/accepted by the partner
NOTE_BUDGET = 8  # POST /referrals/<id>/notes by the owner (the partner told by mail: its
# service's or organisation's address in one statement)
SIGNAL_BUDGET = 7  # POST /families/<id>/signals/new (its need domains checked against the
# process's reference data, not read again)


def test_every_page_has_a_budget(app):
    pages = {rule.rule for rule in app.url_map.iter_rules()
             if "GET" in rule.methods and not rule.arguments}
    budgeted = {path.split("?")[0] for _who, path, _budget in BUDGETS}
    assert pages - budgeted == set(), "give these pages a row in BUDGETS"


def _grow(app, world):  # noqa: F811
    """More families, referrals, events, bridge work and answers than one of each."""
    with app.app_context():
        session = db.session()
        nurse, partner = session.get(User, world.owner.id), session.get(User, world.partner.id)
        bridge = session.get(User, world.bridge.id)
        service = session.get(Service, world.inbox_service)
        for n in range(4):
            family = create_family(nurse, parent_names=f"Ouder {n}", postcode="1011AB",
                                   street=f"Dam {n + 1}", municipality_code="GM0363",
                                   children=[(f"Kind {n}a", date(2016, 1, 1 + n)),
                                             (f"Kind {n}b", date(2019, 2, 1 + n))])
            signal = log_signal(nurse, family, domains=["food", "money"], source="conversation",
                                observations="gezien")
            record_consent(nurse, family, organisation_id=service.organisation_id,
                           given_by="ouder", scope="alles", method="spoken",
                           given_on=date.today(), parent_agreed=True)
            [made] = refer(nurse, family, signal, [service], message="graag",
                           follow_up_on=default_follow_up(), send=True,
                           form_token=str(uuid.uuid4()))
            change_status(partner, made, "accepted")
            add_note(partner, made, "We hebben gebeld.")
            assign_bridge(nurse, made, bridge, family_agreed=True)
        assign_bridge(nurse, session.get(Referral, world.inbox_referral), bridge,
                      family_agreed=True)
        db.commit()
    for _ in range(3):
        referral_id = refer_again(app, world, world.inbox_service)
        with app.app_context():
            session = db.session()
            referral = session.get(Referral, referral_id)
            add_note(session.get(User, world.owner.id), referral, "Nagebeld.")
            db.commit()
    with app.app_context():
        session = db.session()
        owner, family = session.get(User, world.owner.id), session.get(Family, world.family_id)
        referral = session.get(Referral, world.inbox_referral)
        for score in (2, 3, 4, 5, 4, 3):
            invitation, _token = feedback.invite(owner, family, referral=referral)
            feedback.submit(invitation, language="nl", scores={"heard": score, "useful": score},
                            texts={"went_well": "Fijn geholpen."})
        for row in session.exec(select(Referral)).all():
            row.follow_up_on = row.follow_up_on.replace(year=2020)  # stuck, for the list
        db.commit()


def _client(app, person, code=None):
    client = app.test_client()
    post_form(client, "/login", {"email": person.email, "password": person.password})
    if code:
        post_form(client, "/login/code", {"code": code})
    return client


def _family_link(app, world, client):  # noqa: F811
    """Open a fresh feedback link, as a parent's phone would."""
    with app.app_context():
        session = db.session()
        _invitation, token = feedback.invite(session.get(User, world.owner.id),
                                             session.get(Family, world.family_id),
                                             referral=session.get(Referral, world.inbox_referral))
        db.commit()
    assert client.get(f"/f/{token}").status_code == 303


def _account_link(app, world):
    """A browser holding a mailed link to choose a password."""
    from referral.auth.operations import start_reset
    from referral.policy import COMMAND_LINE

    with app.app_context():
        token = start_reset(COMMAND_LINE, db.session().get(User, world.stranger.id))
        db.commit()
    client = app.test_client()
    assert client.get(f"/account/link/{token}").status_code == 303
    return client


def every_client(app, world, make_user):
    """A logged-in client per role, the family's, a privacy officer's with and without the
    second factor, a linked account's and an anonymous one."""
    officer = make_user("privacy_officer", organisation="Alliantie", totp_secret=KEY)
    clients = {"anonymous": app.test_client(), "family": app.test_client(),
               "pending": _client(app, officer),
               "officer": _client(app, officer, pyotp.TOTP(KEY).now()),
               **{who: _client(app, getattr(world, who))
                  for who in ("owner", "partner", "bridge", "coordinator")}}
    _family_link(app, world, clients["family"])
    clients["linked"] = _account_link(app, world)
    return clients


def page_names(app, world):
    """What the paths of BUDGETS name, in the test world."""
    with app.app_context():
        organisation = db.session().exec(select(Organisation.id).where(
            Organisation.name == "Voedselbank")).one()
        child = db.session().exec(select(Child.id).where(
            Child.family_id == world.family_id)).first()
    draft = refer_again(app, world, world.inbox_service, send=False)
    return {"family": world.family_id, "child": child, "signal": world.signal_id, "draft": draft,
            "referral": world.inbox_referral, "letter_referral": world.letter_referral,
            "service": world.inbox_service, "organisation": organisation,
            "colleague": world.colleague.id}


@pytest.mark.slow
def test_every_page_stays_within_its_budget(app, world, make_user, make_service):  # noqa: F811
    _grow(app, world)
    for n in range(3):
        make_service(f"Extra hulp {n}", organisation="Voedselbank", referral_route="inbox")
    clients = every_client(app, world, make_user)
    post_form(clients["partner"], "/monitor/pledge/edit", {
        "activities-0-what": "Spreekuur op school", "activities-1-what": "Ontbijt"})
    names = page_names(app, world)
    measured, over = {}, []
    for who, path, budget in BUDGETS:
        count = count_queries(app, clients[who], path.format(**names))
        measured[(who, path)] = count
        if count > budget:
            over.append(f"{who} {path}: {count} statements, budget {budget}")
    print(measured)  # noqa: T201  (shows the counts when a budget is lowered or raised)
    assert over == []


def _count_post(app, client, path, data):
    with counted_queries(app) as statements:
        response = client.post(path, data=data)
    assert response.status_code == 303, response.text
    return len(statements), response


def test_referring_a_status_change_a_note_and_a_signal_stay_within_their_budget(app, world,  # noqa: F811
                                                                make_service):
    _grow(app, world)
    other = make_service("Zwemles", organisation="Jeugdfonds", referral_route="inbox")
    parcel = make_service("Voedselbus", organisation="Voedselbank", referral_route="inbox")
    owner = _client(app, world.owner)
    page = owner.get(f"/referrals/new/{world.signal_id}").text
    data = {"csrf_token": csrf_token(owner, f"/referrals/new/{world.signal_id}"),
            "form_token": re.search(r'name="form_token"[^>]*value="([^"]+)"', page).group(1),
            "services": [str(parcel), str(other)], "message": "Graag bellen.",
            "follow_up_on": default_follow_up_iso(app), "send": "1"}
    refer_count, _ = _count_post(app, owner, f"/referrals/new/{world.signal_id}", data)
    with app.app_context():
        newest = db.session().exec(select(Referral).where(
            Referral.service_id == parcel, Referral.status == "requested")
            .order_by(Referral.created_at.desc())).first()
    partner = _client(app, world.partner)
    token = csrf_token(partner, "/account")
    status_count, _ = _count_post(app, partner, f"/referrals/{newest.id}/status/accepted",
                                  {"accepted-csrf_token": token,
                                   "accepted-version": str(newest.version)})
    note_count, _ = _count_post(app, owner, f"/referrals/{newest.id}/notes",
                                {"csrf_token": csrf_token(owner, "/account"),
                                 "text": "Moeder gebeld."})
    signal_page = f"/families/{world.family_id}/signals/new"
    signal_count, _ = _count_post(app, owner, signal_page, {
        "csrf_token": csrf_token(owner, signal_page), "domains": ["food", "money"],
        "urgency": "normal", "source": "conversation", "observations": "Gezien."})
    print({"refer": refer_count, "status": status_count, "note": note_count,  # noqa: T201
           "signal": signal_count})
    assert refer_count <= REFER_BUDGET, f"referring: {refer_count} statements"
    assert status_count <= STATUS_BUDGET, f"status change: {status_count} statements"
    assert note_count <= NOTE_BUDGET, f"a note: {note_count} statements"
    assert signal_count <= SIGNAL_BUDGET, f"a signal: {signal_count} statements"


def default_follow_up_iso(app):
    with app.app_context():
        return default_follow_up().isoformat()


def test_searching_families_stays_within_its_budget(app, world, make_user):  # noqa: F811
    _grow(app, world)
    officer = make_user("privacy_officer", organisation="Alliantie", totp_secret=KEY)
    client = _client(app, officer, pyotp.TOTP(KEY).now())
    token = csrf_token(client, "/privacy/families")
    with counted_queries(app) as statements:
        found = client.post("/privacy/families", data={"csrf_token": token, "name": "ouder"})
    assert found.status_code == 200 and "Ouder 3" in found.text
    owner = _client(app, world.owner)
    search_count, _ = _count_post(app, owner, "/families/", {
        "csrf_token": csrf_token(owner, "/families/"), "text": "ouder"})
    print({"find": len(statements), "search": search_count})  # noqa: T201
    assert len(statements) <= FIND_BUDGET, f"finding a family: {len(statements)} statements"
    assert search_count <= SEARCH_BUDGET, f"searching my families: {search_count} statements"
