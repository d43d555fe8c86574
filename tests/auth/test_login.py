"""Login, two-factor, sessions and throttling, as a user and an attacker see them."""

import time

import pyotp
import pytest

from referral.auth import credentials
from referral.auth.queries import find_user
from tests.conftest import audit_entries, post_form


def test_login_page_is_dutch_by_default(client):
    page = client.get("/login")
    assert page.status_code == 200
    assert '<html lang="nl">' in page.text
    assert "Inloggen" in page.text


def test_login_and_home_page(client, make_user, login):
    person = make_user("coordinator")
    response = login(person)
    assert response.status_code == 303 and response.headers["Location"] == "/"
    home = client.get("/")
    assert "Test Persoon" in home.text


def test_wrong_password_and_unknown_email_look_the_same(client, make_user):
    person = make_user()
    wrong = post_form(client, "/login", {"email": person.email, "password": "x" * 14})
    unknown = post_form(client, "/login", {"email": "nobody@example.org", "password": "x" * 14})
    assert wrong.status_code == unknown.status_code == 200
    for page in (wrong, unknown):
        assert "E-mailadres of wachtwoord klopt niet" in page.text
    assert client.get("/").status_code == 302


def test_unknown_email_still_verifies_a_hash(client, monkeypatch):
    """Timing-safe: the password is checked against a dummy hash when the email is unknown."""
    dummy, calls, real = credentials.dummy_hash(), [], credentials.hasher

    class Spy:
        def verify(self, stored_hash, password):
            calls.append(stored_hash)
            return real.verify(stored_hash, password)

    monkeypatch.setattr(credentials, "hasher", Spy())
    post_form(client, "/login", {"email": "nobody@example.org", "password": "y" * 14})
    assert calls == [dummy]


@pytest.mark.real_hasher
def test_passwords_are_stored_as_argon2id_at_the_production_cost(app, make_user):
    """The cheap hasher of the other tests must never be what the app itself uses."""
    person = make_user()
    with app.app_context():
        stored = find_user(person.email).password_hash
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$"), stored[:40]
    assert credentials.verify_password(stored, person.password)


def test_every_attempt_is_audited(app, client, make_user, login):
    person = make_user()
    post_form(client, "/login", {"email": person.email, "password": "wrong-wrong-wrong"})
    login(person)
    outcomes = [(e.action, e.outcome) for e in audit_entries(app, action="login")]
    assert outcomes == [("login", "failure"), ("login", "success")]
    assert all(person.email not in e.summary for e in audit_entries(app))


def test_inactive_user_cannot_log_in(client, make_user, login):
    person = make_user(active=False)
    assert login(person).status_code == 200
    assert client.get("/").status_code == 302


def test_throttled_per_account_across_processes(make_app, make_user):
    """Failures counted in the database hold for another app process on the same data."""
    person = make_user()
    first, second = make_app().test_client(), make_app().test_client()
    for attempt in range(5):
        client = first if attempt % 2 else second
        post_form(client, "/login", {"email": person.email, "password": "wrong-password-1"})
    blocked = post_form(second, "/login", {"email": person.email, "password": person.password})
    assert blocked.status_code == 429
    assert "Te veel mislukte pogingen" in blocked.text
    assert second.get("/").status_code == 302


def test_throttled_per_address(make_app, make_user):
    app = make_app(LOGIN_MAX_FAILURES_ADDRESS=3)
    person = make_user()
    client = app.test_client()
    for n in range(3):
        post_form(client, "/login", {"email": f"guess{n}@example.org", "password": "x" * 12})
    assert post_form(client, "/login", {"email": person.email,
                                        "password": person.password}).status_code == 429


@pytest.mark.parametrize("target", [
    "https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)",
    "http:/evil.example",
])
def test_next_only_goes_to_local_paths(client, make_user, target):
    person = make_user()
    response = post_form(client, "/login", {"email": person.email, "password": person.password,
                                            "next": target})
    assert response.headers["Location"] == "/"


def test_next_to_a_local_page(client, make_user):
    person = make_user()
    response = post_form(client, "/login", {"email": person.email, "password": person.password,
                                            "next": "/account"})
    assert response.headers["Location"] == "/account"


def test_login_form_without_csrf_is_refused(client, make_user):
    person = make_user()
    response = client.post("/login", data={"email": person.email, "password": person.password})
    assert response.status_code == 400
    assert client.get("/").status_code == 302


def _code(secret, offset=0):
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(int(time.time() // totp.interval) + offset)


def test_two_factor_login_and_replay(make_app, make_user):
    secret = pyotp.random_base32()
    person = make_user(totp_secret=secret)
    client = make_app().test_client()
    response = post_form(client, "/login", {"email": person.email, "password": person.password})
    assert response.headers["Location"] == "/login/code"
    assert client.get("/").status_code == 302  # not logged in before the code
    wrong = post_form(client, "/login/code", {"code": "000000" if _code(secret) != "000000"
                                              else "111111"})
    assert "Deze code klopt niet of is al gebruikt" in wrong.text
    code = _code(secret)
    assert post_form(client, "/login/code", {"code": code}).headers["Location"] == "/"
    assert client.get("/").status_code == 200

    # The same code, seen over a shoulder, does not open a second session.
    other = make_app().test_client()
    post_form(other, "/login", {"email": person.email, "password": person.password})
    replay = post_form(other, "/login/code", {"code": code})
    assert replay.status_code == 200 and other.get("/").status_code == 302


def test_required_two_factor_makes_the_user_enrol(make_app, make_user):
    person = make_user()
    app = make_app(REQUIRE_2FA=True)
    client = app.test_client()
    response = post_form(client, "/login", {"email": person.email, "password": person.password})
    assert response.headers["Location"] == "/login/enrol"
    page = client.get("/login/enrol")
    assert "<svg" in page.text
    secret = page.text.split('class="secret">')[1].split("<")[0]
    assert client.get("/").status_code == 302
    done = post_form(client, "/login/enrol", {"code": _code(secret)})
    assert done.headers["Location"] == "/"
    with app.app_context():
        user = find_user(person.email)
        assert user.totp_secret == secret and user.totp_last_step is not None


def test_logout_ends_a_copied_cookie_too(client, make_user, login):
    person = make_user()
    login(person)
    cookie = client.get_cookie("referral_session").value
    post_form(client, "/logout", {}, page="/")
    thief = client.application.test_client()
    thief.set_cookie("referral_session", cookie)
    assert thief.get("/").status_code == 302


def test_password_change_ends_other_sessions(make_app, make_user):
    person = make_user()
    laptop, phone = make_app().test_client(), make_app().test_client()
    for client in (laptop, phone):
        post_form(client, "/login", {"email": person.email, "password": person.password})
    new = "een-heel-nieuw-wachtwoord"
    changed = post_form(phone, "/account/password",
                        {"current": person.password, "new": new, "confirm": new})
    assert changed.headers["Location"] == "/login"
    assert laptop.get("/").status_code == 302
    assert post_form(laptop, "/login", {"email": person.email,
                                        "password": new}).headers["Location"] == "/"


@pytest.mark.parametrize(("current", "new", "confirm", "message"), [
    ("wrong-current-pass", "een-heel-nieuw-wachtwoord", "een-heel-nieuw-wachtwoord",
     "Je huidige wachtwoord klopt niet"),
    (None, "kort", "kort", "minstens 12 tekens"),
    (None, "wachtwoord1234", "wachtwoord1234", "te vaak gebruikt"),
    (None, "een-heel-nieuw-wachtwoord", "iets-anders-dan-dat", "niet hetzelfde"),
    (None, "x" * 129, "x" * 129, "128"),
])
def test_password_change_bad_input(client, make_user, login, current, new, confirm, message):
    person = make_user()
    login(person)
    page = post_form(client, "/account/password",
                     {"current": current or person.password, "new": new, "confirm": confirm})
    assert page.status_code == 200
    assert 'role="alert"' in page.text
    assert message in page.text
    # Nothing changed: the old password still works.
    post_form(client, "/logout", {}, page="/")
    assert post_form(client, "/login", {"email": person.email, "password": person.password}
                     ).headers["Location"] == "/"


def test_deactivation_ends_every_session(app, client, make_user, login, runner):
    person = make_user()
    login(person)
    result = runner.invoke(args=["users", "deactivate", person.email])
    assert result.exit_code == 0, result.output
    assert client.get("/").status_code == 302


def test_idle_session_expires(client, make_user, login):
    person = make_user()
    login(person)
    with client.session_transaction() as session:
        session["seen_at"] = time.time() - 31 * 60
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")


def test_the_session_cookie_is_written_when_the_idle_clock_moves(client, make_user, login):
    """Pages do not sign a new cookie on every answer: the idle clock moves once a minute,
    and a session used within its idle period stays (29 minutes idle, then a page)."""
    person = make_user()
    login(person)
    assert client.get("/").status_code == 200
    assert "Set-Cookie" not in client.get("/").headers
    with client.session_transaction() as session:
        session["seen_at"] = time.time() - 29 * 60
    moved = client.get("/")
    assert moved.status_code == 200 and "referral_session=" in moved.headers["Set-Cookie"]
    with client.session_transaction() as session:
        assert time.time() - session["seen_at"] < 60
    assert "Set-Cookie" not in client.get("/").headers


def test_absolute_session_lifetime(client, make_user, login):
    person = make_user()
    login(person)
    with client.session_transaction() as session:
        session["login_at"] = time.time() - 13 * 3600
    assert client.get("/").status_code == 302
