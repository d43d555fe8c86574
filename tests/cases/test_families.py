"""Families and signals: encrypted, found again, only for who works on them."""

import subprocess
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import func, select

from referral import db
from referral.cases.models import Child, Family, Signal, age_band
from tests.conftest import PG_URL, audit_entries, post_form

MARKERS = ("Qwixotte-Vanderzanden", "Zebulonnetje", "0698765432", "Kwakkelstraat")
FAMILY = {"parent_names": f"Anouk {MARKERS[0]}", "phone": MARKERS[2], "street": MARKERS[3],
          "house_number": "12", "postcode": "1234 ab", "language": "nl",
          "children-0-first_name": MARKERS[1], "children-0-birth_date": "2017-03-09",
          "children-1-first_name": "Bram", "children-1-birth_date": "2011-10-01"}


@pytest.fixture
def nurse(client, make_user, login):
    person = make_user("professional", organisation="JGZ Noord")
    login(person)
    return person


def _create(client, **changes):
    return post_form(client, "/families/new", {**FAMILY, **changes})


def _count(app, model):
    with app.app_context():
        return db.session().exec(select(func.count()).select_from(model)).one()


def test_create_family_and_read_its_page(app, client, nurse):
    response = _create(client)
    assert response.status_code == 303
    page = client.get(response.headers["Location"])
    assert MARKERS[0] in page.text and MARKERS[1] in page.text and "Bram" in page.text
    assert page.headers["Cache-Control"] == "no-store"
    with app.app_context():
        ages = sorted(db.session().exec(select(Child.age_band)).all())
    assert ages == sorted([age_band(date(2017, 3, 9)), age_band(date(2011, 10, 1))])
    reads = audit_entries(app, action="read", object_type="family")
    assert len(reads) == 1 and reads[0].family_id is not None
    assert all(marker not in e.summary for e in audit_entries(app) for marker in MARKERS)


def test_nothing_identifying_is_stored_readable(app, client, nurse):
    family_url = _create(client).headers["Location"]
    post_form(client, f"{family_url}/signals/new", {
        "domains": ["food"], "observations": f"{MARKERS[1]} komt zonder ontbijt.",
        "urgency": "soon", "source": "conversation"})
    if PG_URL:
        url = sa.engine.make_url(app.config["DATABASE_URL"]).set(drivername="postgresql")
        blobs = [subprocess.run(["pg_dump", "--no-owner", url.render_as_string(False)],
                                capture_output=True, check=True).stdout]
    else:
        database = Path(sa.engine.make_url(app.config["DATABASE_URL"]).database)
        blobs = [p.read_bytes() for p in (database, Path(f"{database}-wal")) if p.exists()]
    for blob in blobs:
        for marker in MARKERS:
            assert marker.encode() not in blob


def test_duplicate_warning_within_the_organisation(app, client, nurse, make_user):
    first = _create(client).headers["Location"]
    again = _create(client, parent_names="Iemand Anders", postcode="", house_number="")
    assert again.status_code == 200
    assert "Dit gezin is misschien al bekend" in again.text
    assert first in again.text  # offers to open the family she already has
    assert _count(app, Family) == 1
    same_address = _create(client, **{"children-0-first_name": "Nieuw", "children-1-first_name":
                                      "", "children-1-birth_date": ""})
    assert "Dit gezin is misschien al bekend" in same_address.text
    anyway = _create(client, confirm_new="y")
    assert anyway.status_code == 303 and _count(app, Family) == 2


def test_no_warning_across_organisations(app, make_app, make_user, nurse, client):
    _create(client)
    other = make_app().test_client()
    person = make_user("professional", organisation="School Zuid")
    post_form(other, "/login", {"email": person.email, "password": person.password})
    assert _create(other).status_code == 303
    assert _count(app, Family) == 2


@pytest.mark.parametrize(("changes", "message"), [
    ({"parent_names": ""}, "Vul minstens één naam in"),
    ({"children-0-first_name": "", "children-1-first_name": "", "children-0-birth_date": "",
      "children-1-birth_date": ""}, "Vul minstens één kind in"),
    ({"children-0-first_name": "", "children-1-first_name": ""},
     "Vul de voornaam van het kind in"),
    ({"children-0-birth_date": ""}, "Vul de geboortedatum van het kind in"),
    ({"children-0-birth_date": "1980-01-01"}, "afgelopen 27 jaar"),
    ({"children-0-birth_date": "morgen"}, "Not a valid date value"),
    ({"postcode": "12345"}, "Vul een postcode in zoals 1234 AB"),
    ({"email": "geen-mail"}, "Vul een geldig e-mailadres in"),
    ({"parent_names": "x" * 201}, "200"),
    ({"language": "xx"}, "Ongeldige keuze"),
])
def test_bad_family_input_saves_nothing(app, client, nurse, changes, message):
    response = _create(client, **changes)
    assert response.status_code == 200 and 'role="alert"' in response.text
    assert message in response.text or message.replace("Not a valid date value",
                                                        "Ongeldige datum") in response.text
    assert _count(app, Family) == 0 and _count(app, Child) == 0


def test_signal_with_its_wishes(app, client, nurse):
    family_url = _create(client).headers["Location"]
    response = post_form(client, f"{family_url}/signals/new", {
        "domains": ["food", "sport_culture"], "observations": "Vaak geen ontbijt.",
        "strengths": "Moeder is zeer betrokken.", "parent_wishes": "Hulp bij sportclub.",
        "child_wishes": "Wil op voetbal.", "urgency": "soon", "source": "family_asked"})
    assert response.status_code == 303
    page = client.get(family_url).text
    for text in ("Vaak geen ontbijt.", "Moeder is zeer betrokken.", "Wil op voetbal.",
                 "Voeding", "Sport en cultuur", "binnenkort", "het gezin vroeg om hulp"):
        assert text in page, text
    assert '<ul class="tags"><li>Voeding</li><li>Sport en cultuur</li></ul>' in page
    assert audit_entries(app, object_type="signal", action="create")


def test_a_signals_domains_stand_in_the_lists_order(app, client, nurse):
    """Ticked in any order, a signal's need domains show as the list of domains has them:
    money before food, as on the form."""
    family_url = _create(client).headers["Location"]
    assert post_form(client, f"{family_url}/signals/new", {
        "domains": ["food", "money"], "observations": "Geen geld voor boodschappen.",
        "urgency": "normal", "source": "conversation"}).status_code == 303
    page = client.get(family_url).text
    assert '<ul class="tags"><li>Geld en schulden</li><li>Voeding</li></ul>' in page


def test_signal_needs_domains_and_observations(app, client, nurse):
    family_url = _create(client).headers["Location"]
    response = post_form(client, f"{family_url}/signals/new", {
        "observations": "", "urgency": "normal", "source": "observation"})
    assert "Kies minstens één leefgebied" in response.text
    assert "Beschrijf wat je zag of hoorde" in response.text
    assert _count(app, Signal) == 0


def test_untrained_professional_is_told_why(app, client, make_user, login):
    person = make_user("professional", trained_on=None, organisation="School")
    login(person)
    family_url = _create(client).headers["Location"]  # may record a family, not a signal
    page = client.get(f"{family_url}/signals/new")
    assert page.status_code == 403 and "Signaleringstraining nodig" in page.text
    refused = client.post(f"{family_url}/signals/new", data={"observations": "x"})
    assert refused.status_code in (400, 403)
    assert _count(app, Signal) == 0


@pytest.mark.parametrize("role", ["professional", "partner", "bridge", "coordinator",
                                  "privacy_officer"])
def test_only_the_professional_who_works_on_it_sees_the_family(app, make_app, make_user, nurse,
                                                               client, role):
    family_url = _create(client).headers["Location"]
    other = make_app().test_client()
    person = make_user(role, organisation="JGZ Noord", email=f"ander-{role}@example.org")
    post_form(other, "/login", {"email": person.email, "password": person.password})
    for path in (family_url, f"{family_url}/signals/new"):
        response = other.get(path)
        assert response.status_code == 404, path
        assert MARKERS[0] not in response.text
    denied = audit_entries(app, outcome="denied", user_id=person.id)
    assert len(denied) == 2 and all(e.family_id is not None for e in denied)
    assert other.get("/families/00000000-0000-0000-0000-000000000000").status_code == 404


def test_logged_out_visitor_is_sent_to_login(client):
    response = client.get("/families/00000000-0000-0000-0000-000000000000")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_my_families_lists_only_mine(app, make_app, make_user, nurse, client):
    _create(client)
    colleague = make_app().test_client()
    person = make_user("professional", organisation="JGZ Noord", email="collega@example.org")
    post_form(colleague, "/login", {"email": person.email, "password": person.password})
    assert MARKERS[0] in client.get("/families/").text
    assert MARKERS[0] not in colleague.get("/families/").text
