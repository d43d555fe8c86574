"""Keeping the directory current: who may change what, confirmations, and bad input."""

from datetime import date, timedelta

import pytest
from sqlmodel import select

from referral import db
from referral.auth.models import User
from referral.directory.models import Organisation, Service, ServiceArea
from tests.conftest import audit_entries, post_form


def _service(app, service_id):
    with app.app_context():
        return db.session().get(Service, service_id)


def _organisation(app, name):
    with app.app_context():
        return db.session().exec(select(Organisation).where(Organisation.name == name)).first()


@pytest.fixture
def old_service(make_service):
    return make_service("Voedselpakket", organisation="Voedselbank",
                        checked=date.today() - timedelta(days=500))


def _partner_of(make_user, app, organisation):
    person = make_user("partner", organisation=organisation)
    return person


@pytest.mark.parametrize(("role", "organisation", "may"), [
    ("partner", "Voedselbank", True),
    ("partner", "Kledingbank", False),
    ("coordinator", None, True),
    ("professional", None, False),
    ("bridge", None, False),
    ("privacy_officer", None, False),
])
def test_who_may_confirm_still_correct(app, client, make_user, login, old_service, role,
                                       organisation, may):
    login(make_user(role, organisation=organisation))
    page = f"/directory/services/{old_service}"
    response = client.post(f"{page}/assure",
                           data={"csrf_token": _token(client, "/directory/")})
    if may:
        assert response.status_code == 303
        assert _service(app, old_service).assured_date == date.today()
        assert "Klopt nog" in client.get(page).text
    else:
        assert response.status_code == 403
        assert _service(app, old_service).assured_date < date.today()
        assert "Klopt nog" not in client.get(page).text
        assert audit_entries(app, outcome="denied")[-1].summary == "denied: service.edit"


def _token(client, path):
    from tests.conftest import csrf_token

    return csrf_token(client, path)


def test_partner_edits_own_service(app, client, make_user, login, old_service):
    login(make_user("partner", organisation="Voedselbank"))
    form = client.get(f"/directory/services/{old_service}/edit")
    assert form.status_code == 200 and "GM0363 Amsterdam" in form.text
    response = post_form(client, f"/directory/services/{old_service}/edit", {
        "name": "Voedselpakket plus", "description": "Elke week boodschappen.",
        "domains": ["food", "money"], "areas": "GM0363 Amsterdam\nGM0344 Utrecht",
        "minimum_age": "", "maximum_age": "", "referral_route": "inbox",
        "capacity": "waiting_list", "waiting_weeks": "3", "status": "active",
        "languages": "nl, en", "email": "info@voedselbank.example",
    })
    assert response.status_code == 303
    service = _service(app, old_service)
    assert (service.name, service.capacity, service.waiting_weeks) == \
        ("Voedselpakket plus", "waiting_list", 3)
    assert service.search_name == "voedselpakket plus"
    with app.app_context():
        areas = db.session().exec(select(ServiceArea.municipality_code).where(
            ServiceArea.service_id == old_service)).all()
    assert sorted(areas) == ["GM0344", "GM0363"]
    assert audit_entries(app, object_type="service", action="update")


@pytest.mark.parametrize(("changes", "message"), [
    ({"name": ""}, "Vul een naam in"),
    ({"domains": []}, "Kies minstens één leefgebied"),
    ({"areas": "Amsterdam"}, "Regel 1: schrijf de CBS-code"),
    ({"minimum_age": "12", "maximum_age": "4"}, "De hoogste leeftijd is lager"),
    ({"email": "geen-email"}, "Vul een geldig e-mailadres in"),
    ({"url": "javascript:alert(1)"}, "Vul een webadres in"),
    ({"languages": "nederlands"}, "Schrijf taalcodes"),
    ({"description": "x" * 4001}, "4000"),
    ({"capacity": "sometimes"}, "Ongeldige keuze"),
    ({"postal_code": "Amsterdam"}, "1234 AB"),
    ({"address_1": "Dorpsstraat 1"}, "leeg"),
    ({"address_1": "Dorpsstraat 1", "city": "Amsterdam"}, "Vul ook de provincie in"),
    ({"opening_hours": "x" * 501}, "500"),
])
def test_bad_service_input_saves_nothing(app, client, make_user, login, old_service, changes,
                                         message):
    login(make_user("coordinator"))
    data = {"name": "Nieuwe naam", "description": "Iets.", "domains": ["food"],
            "areas": "GM0363 Amsterdam", "referral_route": "phone", "capacity": "open",
            "status": "active", **changes}
    response = post_form(client, f"/directory/services/{old_service}/edit", data)
    assert response.status_code == 200 and 'role="alert"' in response.text
    assert message in response.text
    assert _service(app, old_service).name == "Voedselpakket"


def test_partner_cannot_edit_another_organisations_service(app, client, make_user, login,
                                                           old_service):
    login(make_user("partner", organisation="Kledingbank"))
    assert client.get(f"/directory/services/{old_service}/edit").status_code == 403
    response = client.post(f"/directory/services/{old_service}/edit",
                           data={"csrf_token": _token(client, "/directory/"), "name": "Hacked",
                                 "description": "x", "domains": ["food"],
                                 "referral_route": "phone", "capacity": "open",
                                 "status": "active"})
    assert response.status_code == 403
    assert _service(app, old_service).name == "Voedselpakket"


def test_partner_adds_a_service_to_own_organisation_only(app, client, make_user, login,
                                                         old_service):
    login(make_user("partner", organisation="Voedselbank"))
    own = _organisation(app, "Voedselbank").id
    response = post_form(client, f"/directory/organisations/{own}/services/new", {
        "name": "Kerstpakket", "description": "Een pakket in december.", "domains": ["food"],
        "areas": "GM0363 Amsterdam", "referral_route": "inbox", "capacity": "open",
        "status": "active"})
    assert response.status_code == 303
    with app.app_context():
        assert db.session().exec(select(Service).where(Service.name == "Kerstpakket")).first()
    post_form(client, "/logout", {}, page="/")
    login(make_user("partner", organisation="Kledingbank", email="ander@example.org"))
    assert client.get(f"/directory/organisations/{own}/services/new").status_code == 403


def test_coordinator_creates_an_organisation_and_a_duplicate_name_is_refused(app, client,
                                                                             make_user, login):
    login(make_user("coordinator"))
    data = {"name": "Stichting Leergeld", "website": "https://leergeld.example",
            "description": "Schoolspullen en meedoen."}
    missing = post_form(client, "/directory/organisations/new", {**data, "description": ""})
    assert missing.status_code == 200 and "Beschrijf in een zin" in missing.text
    assert post_form(client, "/directory/organisations/new", data).status_code == 303
    again = post_form(client, "/directory/organisations/new", data)
    assert again.status_code == 200 and "Er is al een organisatie met deze naam" in again.text
    with app.app_context():
        assert len(db.session().exec(select(Organisation).where(
            Organisation.name == "Stichting Leergeld")).all()) == 1


@pytest.mark.parametrize("role", ["partner", "professional", "bridge", "privacy_officer"])
def test_only_coordinators_manage_organisations(app, client, make_user, login, old_service,
                                                role):
    login(make_user(role, organisation="Voedselbank"))
    own = _organisation(app, "Voedselbank").id
    for path in ("/directory/organisations/new", f"/directory/organisations/{own}/edit",
                 f"/directory/organisations/{own}/deactivate",
                 f"/directory/organisations/{own}/merge", "/directory/attention"):
        assert client.get(path).status_code == 403, path


def test_deactivation_asks_for_confirmation(app, client, make_user, login, old_service):
    login(make_user("coordinator"))
    org = _organisation(app, "Voedselbank").id
    path = f"/directory/organisations/{org}/deactivate"
    question = client.get(path)
    assert "Voedselbank deactiveren?" in question.text
    unconfirmed = post_form(client, path, {})
    assert unconfirmed.status_code == 200 and "Vink het vakje aan" in unconfirmed.text
    assert _organisation(app, "Voedselbank").active
    assert post_form(client, path, {"confirm": "y"}).status_code == 303
    assert not _organisation(app, "Voedselbank").active
    assert _service(app, old_service).status == "inactive"


def test_merge_moves_services_and_accounts(app, client, make_user, login, make_service,
                                           old_service):
    duplicate_service = make_service("Pakketten", organisation="Voedselbank Zuid")
    partner = make_user("partner", organisation="Voedselbank Zuid")
    login(make_user("coordinator"))
    duplicate = _organisation(app, "Voedselbank Zuid").id
    into = _organisation(app, "Voedselbank").id
    path = f"/directory/organisations/{duplicate}/merge"
    assert post_form(client, path, {"into": str(into)}).status_code == 200  # not confirmed
    assert _organisation(app, "Voedselbank Zuid") is not None
    assert post_form(client, path, {"into": str(into), "confirm": "y"}).status_code == 303
    assert _organisation(app, "Voedselbank Zuid") is None
    assert _service(app, duplicate_service).organisation_id == into
    with app.app_context():
        assert db.session().get(User, partner.id).organisation_id == into


def test_attention_list(app, client, make_user, login, make_service):
    stale = make_service("Oud", checked=date.today() - timedelta(days=400), phone="010-1")
    no_area = make_service("Nergens", areas=[], phone="010-2")
    no_contact = make_service("Onbereikbaar")
    fine = make_service("Prima", phone="010-3")
    login(make_user("coordinator"))
    page = client.get("/directory/attention").text
    for service_id in (stale, no_area, no_contact):
        assert str(service_id) in page
    assert str(fine) not in page
    for reason in ("meer dan een jaar niet gecontroleerd", "geen gebied", "geen contactgegevens"):
        assert reason in page


def test_partner_gives_the_address_and_opening_hours_the_service_page_shows(
        app, client, make_user, login, old_service):
    login(make_user("partner", organisation="Voedselbank"))
    url = f"/directory/services/{old_service}/edit"
    response = post_form(client, url, {
        "name": "Voedselpakket", "description": "Elke week boodschappen.", "domains": ["food"],
        "areas": "GM0363 Amsterdam", "referral_route": "phone", "capacity": "open",
        "status": "active", "phone": "020-5550199", "address_1": "Kerkstraat 5",
        "postal_code": "1017 GB", "city": "Amsterdam", "state_province": "Noord-Holland",
        "opening_hours": "Dinsdag en donderdag 10:00 tot 12:00",
        "application_process": "Neem een brief van de verwijzer mee."})
    assert response.status_code == 303
    page = client.get(f"/directory/services/{old_service}").text
    for shown in ("Kerkstraat 5", "1017 GB Amsterdam", "Dinsdag en donderdag 10:00 tot 12:00",
                  "020-5550199", "Neem een brief van de verwijzer mee."):
        assert shown in page
    assert "Bel 020-5550199 om je aan te melden." in page
    form = client.get(url).text  # the form shows what is stored
    assert 'value="Kerkstraat 5"' in form and "Dinsdag en donderdag" in form
