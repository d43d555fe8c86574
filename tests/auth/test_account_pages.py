"""The account pages as a coordinator, a forgetful user and an attacker see them: the users
list with its filters and search, an account's page and its forms, a forgotten password,
and the mailed links, through a real SMTP server."""

import re
import time
from email import message_from_string
from email.policy import default as email_policy
from urllib.parse import urlsplit

import pytest
from sqlmodel import select

from referral import db
from referral.auth import operations
from referral.auth.models import AccountLink, User
from referral.auth.queries import find_user
from referral.mail import OutboxMessage, send_pending
from referral.policy import COMMAND_LINE
from tests.conftest import audit_entries, browser, csrf_token, post_form

NEW_PASSWORD = "een-heel-nieuw-wachtwoord"


def _outbox_link(app, address):
    """The account link of the newest message to this address in the outbox."""
    with app.app_context():
        messages = db.session().exec(select(OutboxMessage)
                                     .order_by(OutboxMessage.created_at)).all()
        bodies = [m.body for m in messages if m.recipient == address]
    return re.findall(r"https?://\S+/account/link/\S+", bodies[-1])[-1]


def _path(url):
    return urlsplit(url).path


# ---- the login page and a forgotten password -------------------------------------------

def test_the_login_page_offers_a_forgotten_password(client):
    page = client.get("/login").text
    assert 'href="/login/forgot"' in page and "coördinator" not in page.lower()


def test_forgot_answers_the_same_for_an_unknown_address(make_app, make_user):
    app = make_app(RESET_ANSWER_SECONDS=0.5)
    person = make_user()
    answers = []
    for email in (person.email, "niemand@example.org"):
        client = app.test_client()
        started = time.monotonic()
        response = post_form(client, "/login/forgot", {"email": email})
        answers.append((response.status_code, response.headers["Location"],
                        time.monotonic() - started))
        answers[-1] += (client.get(response.headers["Location"]).text,)
    (known_status, known_to, known_time, known_page), (status, to, seconds, page) = answers
    assert known_status == status == 303 and known_to == to == "/login/forgot/sent"
    def without_tokens(text):
        return re.sub(r'name="csrf_token"[^>]*>', "", text)

    assert without_tokens(known_page) == without_tokens(page) and "Kijk in je mail" in page
    # Nobody can tell by the clock: the work for a known address hides under the floor (the
    # margin is for a busy machine).
    assert known_time >= 0.5 and seconds >= 0.5 and abs(known_time - seconds) < 0.3
    assert person.email not in str([e.summary for e in audit_entries(app)])


@pytest.mark.parametrize(("email", "message"), [
    ("", "Vul je e-mailadres in."),
    ("geen-adres", "Vul een e-mailadres in zoals naam@voorbeeld.nl."),
    ("a" * 250 + "@example.org", "Een e-mailadres heeft hoogstens 254 tekens."),
])
def test_forgot_bad_input(client, email, message):
    response = post_form(client, "/login/forgot", {"email": email})
    assert response.status_code == 200 and message in response.text


def test_forgot_without_csrf_is_refused(client, app):
    response = client.post("/login/forgot", data={"email": "iemand@example.org"})
    assert response.status_code == 400
    with app.app_context():
        assert db.session().exec(select(OutboxMessage)).all() == []


def test_forgot_is_throttled_alike(make_app, make_user):
    app = make_app(RESET_MAX_ADDRESS=2, RESET_ANSWER_SECONDS=0)
    person = make_user()
    client = app.test_client()
    for email in (person.email, "niemand@example.org"):
        assert post_form(client, "/login/forgot", {"email": email}).status_code == 303
    for email in (person.email, "niemand@example.org"):
        throttled = post_form(client, "/login/forgot", {"email": email})
        assert throttled.status_code == 429 and "Wacht 15 minuten" in throttled.text


def test_a_reset_link_sets_a_new_password_once_and_ends_other_sessions(app, make_user):
    person = make_user()
    other_device = browser(app, person)
    assert other_device.get("/account").status_code == 200
    client = app.test_client()
    post_form(client, "/login/forgot", {"email": person.email})
    link = _outbox_link(app, person.email)
    opened = client.get(_path(link))
    # The token leaves the address at once.
    assert opened.status_code == 303 and opened.headers["Location"] == "/account/link"
    page = client.get("/account/link")
    assert page.status_code == 200 and "Kies een nieuw wachtwoord" in page.text
    weak = post_form(client, "/account/link", {"new": "kort", "confirm": "kort"})
    assert weak.status_code == 200 and "Gebruik minstens 12 tekens." in weak.text
    done = post_form(client, "/account/link", {"new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.status_code == 303 and done.headers["Location"] == "/login"
    assert other_device.get("/account").status_code == 302  # its session has ended
    again = client.get(_path(link))
    assert again.status_code == 410 and "Deze link is al gebruikt" in again.text
    login = post_form(app.test_client(), "/login", {"email": person.email,
                                                    "password": NEW_PASSWORD})
    assert login.status_code == 303 and login.headers["Location"] == "/"


def test_an_expired_or_unknown_link_shows_a_clear_page(make_app, make_user):
    app = make_app(RESET_VALID_MINUTES=0, RESET_ANSWER_SECONDS=0)
    person = make_user()
    client = app.test_client()
    post_form(client, "/login/forgot", {"email": person.email})
    expired = client.get(_path(_outbox_link(app, person.email)))
    assert expired.status_code == 410 and "Deze link is verlopen" in expired.text
    assert 'href="/login/forgot"' in expired.text
    unknown = client.get("/account/link/" + "x" * 43)
    assert unknown.status_code == 404 and "Deze link werkt niet" in unknown.text
    assert client.get("/account/link").status_code == 410  # nothing held: no form


def test_choose_password_without_csrf_is_refused(app, make_user):
    person = make_user()
    client = app.test_client()
    post_form(client, "/login/forgot", {"email": person.email})
    client.get(_path(_outbox_link(app, person.email)))
    response = client.post("/account/link", data={"new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert response.status_code == 400


# ---- the users list ------------------------------------------------------------------

@pytest.fixture
def coordinator(app, world):
    return browser(app, world.coordinator)


def test_the_users_list_filters_in_the_address(coordinator, world):
    partners = coordinator.get("/users?role=partner").text
    assert partners.count('data-label="Rol"') == 3  # the three partners of the world
    assert "partner" in partners and "Nieuwe" not in partners
    for bad in ("role=admin", "status=x", "organisation=nope", "sort=evil", "page=-3"):
        assert coordinator.get(f"/users?{bad}").status_code == 200
    inactive = coordinator.get("/users?status=deactivated").text
    assert "0 accounts" in inactive or "0 account" in inactive or "Geen" in inactive or \
        inactive.count('data-label="Rol"') == 0


def test_the_training_filter_lists_missing_and_expired_training(app, coordinator, world,
                                                               make_user):
    from datetime import date

    make_user("professional", trained_on=date(2020, 1, 1), email="verlopen@example.org")
    page = coordinator.get("/users?expired=y").text
    assert "verlopen@example.org" in page and world.owner.email not in page


def test_the_search_stays_out_of_the_address(app, coordinator, world):
    with app.app_context():
        name = db.session().get(User, world.partner.id).name
    response = post_form(coordinator, "/users?role=partner", {"text": name}, page="/users")
    location = response.headers["Location"]
    assert response.status_code == 303 and name.split()[0] not in location
    assert "role=partner" in location and "search=y" in location
    found = coordinator.get(location).text
    assert found.count('data-label="Rol"') == 1 and name in found
    # Without the search mark the list is whole again.
    assert coordinator.get("/users?role=partner").text.count('data-label="Rol"') == 3


def test_a_search_that_is_too_long_is_said_so(coordinator):
    response = post_form(coordinator, "/users", {"text": "x" * 101})
    assert response.status_code == 200 and "Zoek op hoogstens 100 tekens." in response.text


def test_the_users_list_is_paged_and_sorted(app, coordinator, make_user, monkeypatch):
    from referral.auth import queries

    monkeypatch.setattr(queries, "USERS_PAGE_SIZE", 4)
    first = coordinator.get("/users?sort=role").text
    assert "Pagina 1 van" in first and 'aria-sort="ascending"' in first
    second = coordinator.get("/users?sort=role&page=2").text
    assert "Pagina 2 van" in second
    names = re.findall(r'data-label="Naam"><a [^>]*>([^<]+)<', first)
    assert len(names) == 4


# ---- one account's page and its forms ---------------------------------------------------

def test_an_account_page_is_for_coordinators_only(app, world):
    for who in ("owner", "partner", "bridge", "privacy"):
        client = browser(app, getattr(world, who))
        assert client.get(f"/users/{world.colleague.id}").status_code == 403
        assert client.get("/users/new").status_code == 403
    coordinator = browser(app, world.coordinator)
    page = coordinator.get(f"/users/{world.colleague.id}")
    assert page.status_code == 200 and "Training vastleggen" in page.text
    assert coordinator.get("/users/00000000-0000-0000-0000-000000000000").status_code == 404


@pytest.mark.parametrize(("data", "message"), [
    ({"training-trained_on": "", "training-kind": "course"}, "Vul een datum in zoals"),
    ({"training-trained_on": "2999-01-01", "training-kind": "course"},
     "Vul de datum van de training in: vandaag of eerder."),
    ({"training-trained_on": "2026-01-01", "training-kind": "webinar"}, 'id="training-kind-error"'),
])
def test_record_training_bad_input(app, coordinator, world, data, message):
    path = f"/users/{world.colleague.id}"
    response = post_form(coordinator, f"{path}/training", data, page=path)
    assert response.status_code == 400 and 'aria-invalid="true"' in response.text
    assert message in response.text
    with app.app_context():
        assert db.session().get(User, world.colleague.id).training_kind is None


def test_record_training_and_change_role(app, coordinator, world):
    path = f"/users/{world.colleague.id}"
    trained = post_form(coordinator, f"{path}/training",
                        {"training-trained_on": "2026-02-01", "training-kind": "refresher"},
                        page=path)
    assert trained.status_code == 303 and trained.headers["Location"] == path
    page = coordinator.get(path).text
    assert "opfriscursus" in page and "geldig tot" in page
    with app.app_context():
        organisation = str(db.session().get(User, world.partner.id).organisation_id)
    changed = post_form(coordinator, f"{path}/role",
                        {"change-role": "partner", "change-organisation": organisation},
                        page=path)
    assert changed.status_code == 303
    with app.app_context():
        assert db.session().get(User, world.colleague.id).role == "partner"


def test_a_coordinator_is_not_offered_the_privacy_officer_role(app, coordinator, world):
    path = f"/users/{world.colleague.id}"
    assert 'value="privacy_officer"' not in coordinator.get("/users/new").text
    response = post_form(coordinator, f"{path}/role", {"change-role": "privacy_officer",
                                                       "change-organisation": ""}, page=path)
    assert response.status_code == 400
    with app.app_context():
        assert db.session().get(User, world.colleague.id).role == "professional"


def test_the_account_forms_need_csrf(app, coordinator, world):
    path = f"/users/{world.colleague.id}"
    for action, data in (("training", {"training-trained_on": "2026-02-01",
                                       "training-kind": "course"}),
                         ("role", {"change-role": "bridge"}), ("reset", {}),
                         ("reactivate", {})):
        assert coordinator.post(f"{path}/{action}", data=data).status_code == 400, action
    assert coordinator.post("/users/new", data={"name": "X Y", "email": "x@example.org",
                                                "role": "bridge"}).status_code == 400


@pytest.mark.parametrize(("data", "message"), [
    ({"name": "", "email": "a@example.org", "role": "bridge"}, "Vul de naam van de persoon in."),
    ({"name": "A B", "email": "geen-adres", "role": "bridge"},
     "Vul een e-mailadres in zoals naam@voorbeeld.nl."),
    ({"name": "A" * 121, "email": "a@example.org", "role": "bridge"},
     "Vul een naam in van hoogstens 120 tekens."),
    ({"name": "A B", "email": "a@example.org", "role": "partner"},
     "Een partner heeft een organisatie nodig: kies er een."),
])
def test_invite_bad_input(app, coordinator, data, message):
    response = post_form(coordinator, "/users/new", {"organisation": "", "language": "nl",
                                                     **data})
    assert response.status_code == 200 and message in response.text
    with app.app_context():
        assert find_user("a@example.org") is None


def test_deactivate_and_reactivate_from_the_account_page(app, coordinator, world):
    path = f"/users/{world.colleague.id}"
    post_form(coordinator, f"{path}/deactivate", {"confirm": "y"})
    page = coordinator.get(path).text
    assert "Account weer aanzetten" in page
    token = csrf_token(coordinator, path)
    response = coordinator.post(f"{path}/reactivate", data={"csrf_token": token})
    assert response.status_code == 303
    with app.app_context():
        assert db.session().get(User, world.colleague.id).active
    summaries = [e.summary for e in audit_entries(app, object_id=str(world.colleague.id))]
    assert "account deactivated" in summaries and "account reactivated" in summaries


# ---- through a real SMTP server: an invitation, followed like the new colleague would ------

@pytest.fixture
def mail_app(make_app, smtp):
    return make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, RESET_ANSWER_SECONDS=0)


def _delivered(app, smtp, address):
    with app.app_context():
        send_pending()
    return [message_from_string(content, policy=email_policy)
            for recipients, content in smtp.messages if recipients == [address]]


@pytest.mark.parametrize("required", [False, True])
def test_an_invitation_through_the_smtp_server(mail_app, smtp, world, required):
    app = mail_app
    if required:  # the privacy officer's role needs two-factor login: the command line invites
        with app.app_context():
            operations.invite(COMMAND_LINE, email="aanwinst@example.org", name="Nieuwe Collega",
                              role="privacy_officer")
            db.commit()
    else:
        coordinator = browser(app, world.coordinator)
        response = post_form(coordinator, "/users/new", {
            "name": "Nieuwe Collega", "email": "aanwinst@example.org", "role": "professional",
            "organisation": "", "language": "nl"})
        assert response.status_code == 303
    [mail] = _delivered(app, smtp, "aanwinst@example.org")
    body = mail.get_content()
    assert "Nieuwe Collega" not in body + str(mail["Subject"])  # no name in mail
    [link] = re.findall(r"https?://\S+/account/link/\S+", body)
    newcomer = app.test_client()
    opened = newcomer.get(_path(link))
    assert opened.status_code == 303, (link, opened.text[:2000])
    assert opened.headers["Location"] == "/account/link"
    assert "Welkom, Nieuwe Collega" in newcomer.get("/account/link").text
    done = post_form(newcomer, "/account/link", {"new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    if required:  # two-factor login is set up before the first page
        assert done.headers["Location"] == "/login/enrol"
        assert "QR" in newcomer.get("/login/enrol").text
    else:
        assert done.headers["Location"] == "/login"
        login = post_form(newcomer, "/login", {"email": "aanwinst@example.org",
                                               "password": NEW_PASSWORD})
        assert login.headers["Location"] == "/"
    with app.app_context():
        assert db.session().exec(select(AccountLink)).one().used_at is not None


def test_a_reset_started_by_the_coordinator_through_the_smtp_server(mail_app, smtp, world):
    coordinator = browser(mail_app, world.coordinator)
    path = f"/users/{world.colleague.id}"
    token = csrf_token(coordinator, path)
    assert coordinator.post(f"{path}/reset", data={"csrf_token": token}).status_code == 303
    [mail] = _delivered(mail_app, smtp, world.colleague.email)
    [link] = re.findall(r"https?://\S+/account/link/\S+", mail.get_content())
    client = mail_app.test_client()
    client.get(_path(link))
    done = post_form(client, "/account/link", {"new": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert done.headers["Location"] == "/login"


def test_the_untrained_professional_is_sent_to_what_works(app, world, make_user):
    """The page says the coordinator records the training, and once they do, it works."""
    from datetime import date

    from referral.cases.operations import create_family

    teacher = make_user("professional", organisation="JGZ Noord", trained_on=None)
    with app.app_context():
        family = create_family(db.session().get(User, teacher.id), parent_names="Ouder Test",
                               postcode="1011AB", street="Dam 1", municipality_code="GM0363",
                               children=[("Kind", date(2016, 1, 1))])
        db.commit()
        family_id = family.id
    client = browser(app, teacher)
    refused = client.get(f"/families/{family_id}/signals/new")
    assert refused.status_code == 403
    assert "Je coördinator legt die vast op de pagina Gebruikers" in refused.text
    assert 'href="/account"' in refused.text
    coordinator = browser(app, world.coordinator)
    path = f"/users/{teacher.id}"
    post_form(coordinator, f"{path}/training", {"training-trained_on": date.today().isoformat(),
                                                 "training-kind": "course"}, page=path)
    assert client.get(f"/families/{family_id}/signals/new").status_code == 200
