"""Consent: who must agree by the child's age, recording it, and withdrawing it."""

import uuid
from datetime import date, timedelta

import pytest
from sqlmodel import select

from referral import db
from referral.cases.models import Child, Consent
from referral.cases.operations import consent_problem
from tests.conftest import audit_entries, post_form


def _born(years_ago, days=0):
    today = date.today()
    return today.replace(year=today.year - years_ago) - timedelta(days=days)


@pytest.mark.parametrize(("age", "parent", "child", "ok"), [
    (None, True, False, True),
    (None, False, True, False),
    (11, True, False, True),
    (11, False, True, False),
    (12, True, False, False),
    (12, False, True, False),
    (15, True, True, True),
    (16, False, True, True),
    (16, True, False, False),
    (17, True, True, True),
])
def test_who_must_agree(app, age, parent, child, ok):
    subject = None
    if age is not None:
        subject = Child(family_id=uuid.uuid4(), age_band="x", name_index="x")
        with app.app_context():
            subject.birth_date_text = _born(age, days=1).isoformat()
            problem = consent_problem(subject, parent_agreed=parent, child_agreed=child,
                                      given_on=date.today())
    else:
        with app.app_context():
            problem = consent_problem(None, parent_agreed=parent, child_agreed=child,
                                      given_on=date.today())
    assert (problem is None) is ok


@pytest.fixture
def family_url(client, make_user, login, make_service):
    make_service("Sportfonds", organisation="Jeugdfonds")
    login(make_user("professional", organisation="JGZ"))
    response = post_form(client, "/families/new", {
        "parent_names": "Ouder Een", "language": "nl",
        "children-0-first_name": "Tiener", "children-0-birth_date": _born(13).isoformat()})
    return response.headers["Location"]


def _organisation_id(app, name):
    from referral.directory.models import Organisation

    with app.app_context():
        return str(db.session().exec(select(Organisation).where(
            Organisation.name == name)).one().id)


def _child_id(app):
    with app.app_context():
        return str(db.session().exec(select(Child)).one().id)


def test_record_and_withdraw_consent(app, client, family_url):
    data = {"organisation": _organisation_id(app, "Jeugdfonds"), "scope": "Naam en sportwens",
            "child": _child_id(app), "parent_agreed": "y", "given_by": "Ouder Een en Tiener",
            "method": "spoken", "given_on": date.today().isoformat()}
    refused = post_form(client, f"{family_url}/consents/new", data)
    assert "het kind én een ouder" in refused.text
    saved = post_form(client, f"{family_url}/consents/new", {**data, "child_agreed": "y"})
    assert saved.status_code == 303
    page = client.get(family_url).text
    assert "Jeugdfonds" in page and "Naam en sportwens" in page and "gegeven" in page
    with app.app_context():
        consent = db.session().exec(select(Consent)).one()
    withdraw = f"{family_url}/consents/{consent.id}/withdraw"
    assert "Vink het vakje aan" in post_form(client, withdraw, {}).text
    with app.app_context():
        assert db.session().get(Consent, consent.id).active
    assert post_form(client, withdraw, {"confirm": "y"}).status_code == 303
    with app.app_context():
        assert not db.session().get(Consent, consent.id).active
    assert "ingetrokken op" in client.get(family_url).text
    assert client.get(withdraw).status_code == 404  # withdrawn once is enough
    assert [e.summary for e in audit_entries(app, object_type="consent")] == \
        ["consent recorded (spoken)", "consent withdrawn"]


@pytest.mark.parametrize(("changes", "message"), [
    ({"scope": ""}, "Schrijf op wat gedeeld mag worden"),
    ({"given_by": ""}, "Schrijf op wie toestemming gaf"),
    # Two days ahead: still the future when the suite, collected before midnight, runs after.
    ({"given_on": (date.today() + timedelta(days=2)).isoformat()}, "niet in de toekomst"),
    ({"method": "telepathy"}, "Ongeldige keuze"),
    ({"organisation": "00000000-0000-0000-0000-000000000000"}, "Ongeldige keuze"),
    ({"child": "", "parent_agreed": ""}, "Een ouder of verzorger moet toestemming geven"),
])
def test_bad_consent_input_saves_nothing(app, client, family_url, changes, message):
    data = {"organisation": _organisation_id(app, "Jeugdfonds"), "scope": "Naam",
            "child": "", "parent_agreed": "y", "given_by": "Ouder Een", "method": "written",
            "given_on": date.today().isoformat(), **changes}
    response = post_form(client, f"{family_url}/consents/new", data)
    assert response.status_code == 200 and message in response.text
    with app.app_context():
        assert db.session().exec(select(Consent)).all() == []


def test_others_cannot_record_or_withdraw(app, make_app, make_user, client, family_url):
    other = make_app().test_client()
    person = make_user("professional", organisation="JGZ", email="collega@example.org")
    post_form(other, "/login", {"email": person.email, "password": person.password})
    assert other.get(f"{family_url}/consents/new").status_code == 404


def test_a_consent_of_this_transaction_counts_before_it_is_written(app, world, make_service):
    """The consent check reads through the connection (not the ORM, which writes what the
    session holds first): a consent recorded or withdrawn in the same transaction, not yet
    written, must count as the ORM's read would count it."""
    from referral.policy.queries import active_consent

    make_service("Zwemles", organisation="Zwemclub")
    organisation = _organisation_id(app, "Zwemclub")
    with app.app_context():
        session = db.session()
        consent = Consent(family_id=world.family_id, organisation_id=uuid.UUID(organisation),
                          recorded_by=world.owner.id, given_on=date.today(), method="spoken",
                          parent_agreed=True)
        consent.given_by, consent.scope = "Zeynep Yilmaz", "naam"
        session.add(consent)
        assert active_consent(world.family_id, consent.organisation_id) == consent.id
        consent.withdrawn_at = db.utcnow()
        assert active_consent(world.family_id, consent.organisation_id) is None
