"""Mail you can see: the outbox's state for coordinators (in production too, without who or
what), and in development a sink that keeps every message and a page that shows them."""

from pathlib import Path

import pytest
from sqlmodel import select

from referral import db
from referral.mail import MAX_ATTEMPTS, OutboxMessage, queue, send_pending
from tests.conftest import browser, free_port, post_form
from tests.world import PRIVATE

BODY_MARK = "http://x/login"


def _queue(app, n=1, **state):
    with app.app_context():
        for _ in range(n):
            queued = queue("medewerker@example.org", "password_changed", language="nl",
                           link=BODY_MARK)
            message = db.session().get(OutboxMessage, queued.id)
            for name, value in state.items():
                setattr(message, name, value)
        db.commit()


@pytest.mark.parametrize("role", ["professional", "partner", "bridge", "privacy_officer"])
def test_only_coordinators_see_the_outbox(app, make_user, role):
    client = browser(app, make_user(role, organisation="Voedselbank"))
    assert client.get("/outbox").status_code == 403


def test_the_outbox_shows_its_state_but_no_recipient_or_text(app, make_user):
    _queue(app, 2)
    _queue(app, attempts=3, last_error="ConnectionRefusedError")
    _queue(app, attempts=MAX_ATTEMPTS, last_error="SMTPRecipientsRefused")
    client = browser(app, make_user("coordinator", organisation="Alliantie"))
    page = client.get("/outbox").text
    summary = page[page.index('id="outbox-summary"'):page.index("</dl>")]
    assert "<dd>2</dd>" in summary  # waiting for a first try
    assert "<dd>1</dd>" in summary  # failing, and given up
    assert "ConnectionRefusedError" in page and "Je wachtwoord" in page  # the subject
    assert "medewerker@example.org" not in page and BODY_MARK not in page
    assert "Mail lukt niet" in page
    assert 'href="/outbox"' in client.get("/").text


def test_a_failing_server_shows_as_failing_on_the_coordinators_home(make_app, make_user):
    down = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())
    _queue(down)
    with down.app_context():
        assert send_pending() == (0, 1)
        db.commit()
    page = browser(down, make_user("coordinator", organisation="Alliantie")).get("/").text
    assert 'id="work-mail"' in page and 'href="/outbox"' in page


@pytest.mark.parametrize("env", ["testing", "production"])
def test_the_sink_page_exists_only_in_development(make_app, env):
    app = make_app(ENV=env, MAIL_SINK=True, ALLOW_SQLITE_IN_PRODUCTION=True)
    assert app.config["MAIL_SINK"] is (env != "production")
    assert app.test_client().get("/dev/mail", base_url="https://localhost").status_code == 404


def test_in_development_mail_goes_to_the_sink_after_the_request(make_app, make_user):
    app = make_app(ENV="development")
    assert app.config["MAIL_SINK"] is True
    client = app.test_client()
    assert "Er is nog geen mail verstuurd" in client.get("/dev/mail").text
    person = make_user("partner")
    post_form(client, "/login", {"email": person.email, "password": person.password})
    new = "een-heel-nieuw-wachtwoord"
    response = post_form(client, "/account/password", {"current": person.password, "new": new,
                                                       "confirm": new})
    assert response.status_code == 303
    response.close()  # the sink is filled once the response has gone out
    page = client.get("/dev/mail").text
    assert "Je wachtwoord" in page and person.email in page
    assert len(list((Path(app.instance_path) / "mail").glob("*.eml"))) == 1
    with app.app_context():
        assert db.session().exec(select(OutboxMessage.sent_at)).one() is not None


def test_development_with_a_mail_server_uses_it_not_the_sink(make_app):
    app = make_app(ENV="development", MAIL_SERVER="127.0.0.1")
    assert app.config["MAIL_SINK"] is False
    assert app.test_client().get("/dev/mail").status_code == 404


def test_the_outbox_names_no_family_after_real_work(app, world):
    """The world's referrals queued mail to the partner; the outbox page shows none of the
    family's data, nor the addresses."""
    page = browser(app, world.coordinator).get("/outbox").text
    assert "Een nieuwe verwijzing voor je organisatie" in page
    for private in PRIVATE + ("aanmelden@voedselbank.example",):
        assert private not in page
