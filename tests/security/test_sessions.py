"""Login and sessions as an attacker sees them.

Guessing passwords (per account, per address), replaying a two-factor code (in one process and
in another), keeping a stolen cookie alive (after logout, a password change, a deactivation),
fixing a session cookie before the victim logs in, bending `next=` into an open redirect, and
the headers and cookie flags of every page the app serves, to everyone, in development and in
production.
"""

import html
import re
import time
import uuid
from datetime import date
from urllib.parse import urljoin, urlsplit

import flask
import pyotp
import pytest
from flask import url_for
from sqlmodel import select

from referral import db, sessions
from referral.auth.models import User
from referral.auth.queries import find_user
from referral.cases.models import Child, Consent, Family
from referral.cases.operations import create_family
from referral.directory.models import Service
from referral.feedback import operations as feedback_operations
from referral.privacy import operations as privacy_operations
from referral.referrals.models import Referral
from tests.conftest import audit_entries, csrf_token, post_form

COOKIE = "referral_session"
THROTTLED = "Te veel mislukte pogingen"
CODE_REFUSED = "Deze code klopt niet of is al gebruikt"



def _code(secret, step_offset=0):
    totp = pyotp.TOTP(secret)
    return totp.generate_otp(int(time.time() // totp.interval) + step_offset)


def _password(client, email, password, **kwargs):
    return post_form(client, "/login", {"email": email, "password": password}, **kwargs)


def _sign_in(client, person, *, secret=None):
    """Log in as a browser would, with a two-factor code where the account has one."""
    response = _password(client, person.email, person.password)
    if secret:
        assert response.headers.get("Location") == "/login/code", response.status_code
        response = post_form(client, "/login/code", {"code": _code(secret)})
    assert response.status_code == 303 and response.headers["Location"] == "/", \
        (person.role, response.status_code)
    return response


def _logged_in(client):
    """Whether this browser's cookie opens the home page (not a redirect to the login)."""
    response = client.get("/")
    if response.status_code == 302:
        assert response.headers["Location"].startswith("/login")
        return False
    assert response.status_code == 200
    return True


def _cookie(client):
    cookie = client.get_cookie(COOKIE)
    return cookie.value if cookie else None


def _thief(app, value):
    """Another browser, with a copy of a session cookie."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, value)
    return thief


def _same_page(response, *variable):
    """A page without what differs per request: tokens, request number, what was typed."""
    text = response.get_data(as_text=True)
    text = re.sub(r'(name="csrf_token"[^>]*value=")[^"]+', r"\1<token>", text)
    text = text.replace(response.headers["X-Request-Id"], "<number>")
    for value in variable:
        text = text.replace(html.escape(value), "<typed>").replace(value, "<typed>")
    return text


# --- guessing passwords ------------------------------------------------------------------

def test_guessing_one_account_is_stopped_from_any_address_and_unknown_accounts_look_alike(
        app, make_user):
    """Five wrong passwords, each from another address: the account is locked for everyone,
    even with the right password, and an unknown account locks and reads exactly the same."""
    person = make_user("coordinator")
    unknown = "niemand.hier@example.org"
    blocked = {}
    for email, password in ((person.email, person.password), (unknown, person.password)):
        attacker = app.test_client()
        for n in range(app.config["LOGIN_MAX_FAILURES_ACCOUNT"]):
            wrong = _password(attacker, email, f"geraden-wachtwoord-{n}",
                              environ_base={"REMOTE_ADDR": f"203.0.113.{n + 1}"})
            assert wrong.status_code == 200 and THROTTLED not in wrong.text
        blocked[email] = _password(attacker, email, password,
                                   environ_base={"REMOTE_ADDR": "203.0.113.99"})
        assert not _logged_in(attacker)
    real, fake = blocked[person.email], blocked[unknown]
    assert real.status_code == fake.status_code == 429
    assert THROTTLED in real.text
    assert _same_page(real, person.email) == _same_page(fake, unknown)
    # The owner, from their own address, is locked out too until the period has passed.
    owner = app.test_client()
    assert _password(owner, person.email, person.password).status_code == 429
    assert not _logged_in(owner)
    assert len(audit_entries(app, summary="login throttled")) == 3


def test_spraying_many_accounts_from_one_address_is_stopped(make_app, make_user):
    app = make_app(LOGIN_MAX_FAILURES_ADDRESS=3)
    victim, other = make_user(), make_user()
    attacker, here = app.test_client(), {"REMOTE_ADDR": "198.51.100.7"}
    for email in (victim.email, other.email, "geen.account@example.org"):
        assert _password(attacker, email, "zomer-2024-wachtwoord",
                         environ_base=here).status_code == 200
    # Each account saw one failure only; the address is what is blocked, right password or not.
    right = _password(attacker, victim.email, victim.password, environ_base=here)
    fresh = _password(attacker, "nog.een.gok@example.org", "zomer-2024-wachtwoord",
                      environ_base=here)
    assert right.status_code == fresh.status_code == 429
    assert THROTTLED in right.text
    assert _same_page(right, victim.email) == _same_page(fresh, "nog.een.gok@example.org")
    assert not _logged_in(attacker)
    # The owner, from another address, is not punished for the attacker's address.
    owner = app.test_client()
    assert _password(owner, victim.email, victim.password,
                     environ_base={"REMOTE_ADDR": "192.0.2.10"}).headers["Location"] == "/"


# --- two-factor codes --------------------------------------------------------------------

def test_a_two_factor_code_opens_one_session_in_any_process(make_app, make_user):
    """A code seen over a shoulder, with the password known: refused in the same process and
    in another one (the used step is kept in the database), as is any older code."""
    secret = pyotp.random_base32()
    person = make_user(totp_secret=secret)
    first, second = make_app(), make_app()
    victim = first.test_client()
    _password(victim, person.email, person.password)
    code, older = _code(secret), _code(secret, -1)
    assert post_form(victim, "/login/code", {"code": code}).headers["Location"] == "/"
    assert _logged_in(victim)
    # Two processes, two codes each: four refusals (a fifth failure would lock the account,
    # as wrong codes count like wrong passwords; see the next test).
    for app in (first, second):
        for attempt in (code, older):
            attacker = app.test_client()
            assert _password(attacker, person.email, person.password
                             ).headers["Location"] == "/login/code"
            refused = post_form(attacker, "/login/code", {"code": attempt})
            assert refused.status_code == 200 and CODE_REFUSED in refused.text
            assert not _logged_in(attacker)
    with first.app_context():
        assert find_user(person.email).totp_last_step is not None
    assert len(audit_entries(first, summary="two-factor code refused")) == 4


def test_guessing_two_factor_codes_is_limited(app, make_user):
    """With the password known, the six digits are all that is left: guessing them must stop
    long before the right code comes up (NIST SP 800-63B: at most 100 failed attempts)."""
    secret = pyotp.random_base32()
    person = make_user(totp_secret=secret)
    attacker = app.test_client()
    assert _password(attacker, person.email, person.password
                     ).headers["Location"] == "/login/code"
    token, guess = csrf_token(attacker, "/login/code"), 0
    for _attempt in range(100):
        while f"{guess:06d}" in {_code(secret, offset) for offset in (-1, 0, 1)}:
            guess += 1
        wrong = attacker.post("/login/code", data={"csrf_token": token, "code": f"{guess:06d}"})
        # 200: wrong code; 429: throttled, the half-done login ends; 400: its form with it.
        assert wrong.status_code in (200, 400, 429)
        guess += 1
    assert wrong.status_code in (400, 429)  # long since stopped
    # The 101st guess happens to be right: it must not open a session any more.
    attacker.post("/login/code", data={"csrf_token": token, "code": _code(secret)})
    assert not _logged_in(attacker), (
        "100 wrong two-factor codes in a row, then the right one logs in: code guessing is "
        "not limited")


# --- stolen cookies ----------------------------------------------------------------------

PRIVATE_PAGES = ("/", "/account", "/families/", "/referrals/")


def _dead(app, cookie):
    thief = _thief(app, cookie)
    for path in PRIVATE_PAGES:
        response = thief.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/login"), path
    return True


def test_a_copied_cookie_dies_at_logout_and_stays_dead(app, make_user):
    person = make_user(organisation="JGZ Noord")
    victim = app.test_client()
    _sign_in(victim, person)
    cookie = _cookie(victim)
    assert _logged_in(_thief(app, cookie))  # a copy works as long as the session lasts
    assert post_form(victim, "/logout", {}, page="/account").headers["Location"] == "/login"
    assert _dead(app, cookie)
    _sign_in(victim, person)  # logging in again does not bring the copy back
    assert _dead(app, cookie)
    assert _logged_in(victim)


def test_a_copied_cookie_dies_when_the_password_changes(app, make_user):
    person = make_user(organisation="JGZ Noord")
    laptop, phone = app.test_client(), app.test_client()
    _sign_in(laptop, person)
    _sign_in(phone, person)
    stolen = _cookie(laptop)
    new = "een-nieuw-en-lang-wachtwoord"
    changed = post_form(phone, "/account/password",
                        {"current": person.password, "new": new, "confirm": new})
    assert changed.headers["Location"] == "/login"
    assert _dead(app, stolen)
    assert not _logged_in(phone)  # the device that changed it logs in again as well
    assert _password(phone, person.email, new).headers["Location"] == "/"
    assert _dead(app, stolen)


def test_a_copied_cookie_dies_when_the_account_is_deactivated(app, make_user):
    person = make_user(organisation="JGZ Noord")
    coordinator = make_user("coordinator")
    victim, admin = app.test_client(), app.test_client()
    _sign_in(victim, person)
    stolen = _cookie(victim)
    assert _logged_in(_thief(app, stolen))
    _sign_in(admin, coordinator)
    done = post_form(admin, f"/users/{person.id}/deactivate", {"confirm": "y"})
    assert done.status_code == 303
    assert _dead(app, stolen)
    assert not _logged_in(victim)
    again = _password(victim, person.email, person.password)
    assert again.status_code == 200 and not _logged_in(victim)


def test_a_cookie_planted_before_login_is_not_the_session_after_it(app, make_user):
    """Session fixation: the attacker gives the victim a cookie (and knows its CSRF token);
    the victim logs in; the attacker's copy is still a stranger's."""
    person = make_user(organisation="JGZ Noord")
    victim = app.test_client()
    victim.get("/login")
    planted = _cookie(victim)
    assert planted
    with victim.session_transaction() as before:
        planted_token = before["csrf_token"]
    _sign_in(victim, person)
    assert _cookie(victim) != planted
    assert _logged_in(victim)
    assert _dead(app, planted)
    csrf_token(victim, "/account")
    with victim.session_transaction() as after:
        assert after["csrf_token"] != planted_token  # the token the attacker knew is gone
        assert after["login_at"] > 0


def test_a_cookie_planted_before_a_two_factor_login_is_not_the_session_after_it(
        app, make_user):
    secret = pyotp.random_base32()
    person = make_user("privacy_officer", totp_secret=secret)
    victim = app.test_client()
    victim.get("/login")
    planted = _cookie(victim)
    _password(victim, person.email, person.password)
    halfway = _cookie(victim)  # password given, code still owed
    assert not _logged_in(_thief(app, halfway))
    assert post_form(victim, "/login/code", {"code": _code(secret)}).headers["Location"] == "/"
    assert _cookie(victim) not in (planted, halfway)
    assert _logged_in(victim)
    assert _dead(app, planted) and _dead(app, halfway)


# --- a cookie opened once per worker (referral.sessions) ----------------------------------

class _Later:
    """The kept cookies' clock, moved on; the signer's own clock stays as it is."""

    def __init__(self, seconds):
        self.seconds = seconds

    def time(self):
        return time.time() + self.seconds


def test_a_kept_cookie_expires_as_a_cookie_read_again_does(app, make_user, monkeypatch):
    """A worker keeps what a cookie held once its signature was checked; its age is checked
    on every request all the same: past the session's lifetime it opens nothing."""
    person = make_user(organisation="JGZ Noord")
    victim = app.test_client()
    _sign_in(victim, person)
    cookie = _cookie(victim)
    assert _logged_in(_thief(app, cookie))  # read, checked and kept
    lifetime = app.permanent_session_lifetime.total_seconds()
    monkeypatch.setattr(sessions, "time", _Later(lifetime - 60))
    assert _logged_in(_thief(app, cookie))
    monkeypatch.setattr(sessions, "time", _Later(lifetime + 60))
    assert not _logged_in(_thief(app, cookie))
    monkeypatch.setattr(sessions, "time", _Later(0))
    assert _logged_in(_thief(app, cookie))  # its signature is read again: still good
    forged = cookie[:-2] + ("AA" if not cookie.endswith("AA") else "BB")
    assert not _logged_in(_thief(app, forged))


def test_a_kept_cookie_opens_for_the_keys_that_signed_it_only(make_app, make_user):
    """Kept per app, and read again when the app's keys change: a cookie signed with a key
    no longer among them opens nothing, one signed with a kept fallback does."""
    first = make_app(SECRET_KEY="the-first-key")
    person = make_user(organisation="JGZ Noord")
    victim = first.test_client()
    _sign_in(victim, person)
    cookie = _cookie(victim)
    assert _logged_in(_thief(first, cookie))
    assert not _logged_in(_thief(make_app(SECRET_KEY="another-key"), cookie))
    first.secret_key = "a-new-key"
    assert not _logged_in(_thief(first, cookie))
    first.config["SECRET_KEY_FALLBACKS"] = ["the-first-key"]
    assert _logged_in(_thief(first, cookie))


def test_a_request_that_changes_its_session_changes_no_kept_cookie(app):
    """Each request gets its own copy of what a cookie held: a page that adds a message to
    those waiting or changes a value in place leaves the next request with the same cookie
    as it was."""
    held = {"_flashes": [["info", "het eerste bericht"]], "account_link": {"until": 1}}
    cookie = app.session_interface.get_signing_serializer(app).dumps(held)
    headers = {"Cookie": f"{COOKIE}={cookie}"}
    for _ in range(2):  # read and kept, then taken from what was kept
        with app.test_request_context("/", headers=headers):
            opened = app.session_interface.open_session(app, flask.request)
            assert opened == held
            opened["_flashes"].append(("info", "een tweede bericht"))
            opened["account_link"]["until"] = 2


# --- open redirects ----------------------------------------------------------------------

OFF_SITE = [
    "//evil.example", "//evil.example/login", "///evil.example", "////evil.example",
    "https://evil.example", "http://evil.example/", "HTTPS://EVIL.EXAMPLE", "http:evil.example",
    "http:/evil.example", "https:\\\\evil.example", "/\\evil.example", "\\\\evil.example",
    "/\\/evil.example", "\\/evil.example", "/\t/evil.example", "/\n/evil.example",
    " //evil.example", "\t//evil.example", "javascript:alert(1)", "JaVaScRiPt:alert(1)",
    "data:text/html,<script>alert(1)</script>", "%2F%2Fevil.example", "/%2F%2Fevil.example",
    "%2f%2fevil.example", "/%5Cevil.example", "%5C%5Cevil.example",
    "https://localhost@evil.example", "//localhost@evil.example", "//evil.example%2F@localhost",
    "/login?next=//evil.example", "//evil.example/../", "/.//evil.example",
]


def _where_a_browser_goes(location):
    """The site a browser lands on for this Location header, reading it as leniently as
    browsers do: tabs and newlines dropped, spaces trimmed, backslashes as slashes."""
    cleaned = re.sub(r"[\t\n\r]", "", location)
    cleaned = re.sub(r"^[\x00-\x20]+|[\x00-\x20]+$", "", cleaned).replace("\\", "/")
    target = urlsplit(urljoin("http://localhost/login", cleaned))
    return target.scheme, target.netloc


def _off_site(response, target):
    """What is wrong with this answer to a `next=target`, or None if it stays on the site."""
    if response.status_code not in (301, 302, 303, 307, 308):
        return f"{target!r}: {response.status_code}, not a redirect"
    location = response.headers["Location"]
    if _where_a_browser_goes(location) != ("http", "localhost"):
        return f"{target!r}: Location {location!r}"
    return None


def _from_a_link(browser, target):
    """Open the login page from a link carrying `next=target`; the hidden field the browser
    will post back."""
    page = browser.get("/login", query_string={"next": target})
    assert page.status_code == 200
    login_form = page.text.split('action="/login"', 1)[1]
    return html.unescape(re.search(r'name="next"[^>]*value="([^"]*)"', login_form).group(1))


def test_next_in_a_link_to_the_login_page_never_leaves_the_site(app, make_user):
    """The phishing mail: a real login page, whose `next` sends the victim elsewhere."""
    person, wrong = make_user(), []
    for target in OFF_SITE:
        browser = app.test_client()
        hidden = _from_a_link(browser, target)
        response = post_form(browser, "/login", {"email": person.email,
                                                 "password": person.password, "next": hidden})
        wrong += filter(None, [_off_site(response, target)])
        assert _logged_in(browser), target
    assert not wrong, "\n".join(wrong)


def test_next_posted_to_the_login_never_leaves_the_site(app, make_user):
    person, wrong = make_user(), []
    for target in OFF_SITE:
        browser = app.test_client()
        response = post_form(browser, "/login", {"email": person.email,
                                                 "password": person.password, "next": target})
        wrong += filter(None, [_off_site(response, target)])
        assert _logged_in(browser), target
    assert not wrong, "\n".join(wrong)


def test_next_of_the_language_switch_never_leaves_the_site(app, make_user):
    anonymous, member = app.test_client(), app.test_client()
    _sign_in(member, make_user())
    wrong = []
    for target in OFF_SITE:
        for browser, page in ((anonymous, "/login"), (member, "/account")):
            response = post_form(browser, "/language", {"language": "en", "next": target},
                                 page=page)
            wrong += filter(None, [_off_site(response, target)])
    assert not wrong, "\n".join(wrong)
    assert '<html lang="en">' in member.get("/account").text  # the switch itself worked


def test_next_survives_a_two_factor_login_without_leaving_the_site(app, make_user):
    secret = pyotp.random_base32()
    person = make_user(totp_secret=secret)
    browser = app.test_client()
    hidden = _from_a_link(browser, "https://evil.example/")
    posted = post_form(browser, "/login", {"email": person.email, "password": person.password,
                                           "next": hidden})
    assert posted.headers["Location"] == "/login/code"
    coded = post_form(browser, "/login/code", {"code": _code(secret)})
    assert _off_site(coded, hidden) is None, _off_site(coded, hidden)
    assert _logged_in(browser)


def test_a_local_next_is_kept(app, make_user):
    """The positive control of the redirect tests: a page of this site is where one goes,
    also through the link and the hidden field."""
    person = make_user()
    browser = app.test_client()
    hidden = _from_a_link(browser, "/referrals/?status=open")
    posted = post_form(browser, "/login", {"email": person.email, "password": person.password,
                                           "next": hidden})
    assert posted.headers["Location"] == "/referrals/?status=open"
    assert _where_a_browser_goes("//evil.example") == ("http", "evil.example")
    assert _where_a_browser_goes("/\\evil.example") == ("http", "evil.example")


# --- headers and cookie flags on every page ----------------------------------------------

TOTP_KEY = pyotp.random_base32()


@pytest.fixture
def tour(app, world, make_user):  # noqa: F811  (world: the fixture imported above)
    """The people of the world (and a privacy officer with a two-factor key), and values for
    every kind of URL parameter: real objects of theirs, and ids that do not exist."""
    officer = make_user("privacy_officer", organisation="Alliantie", totp_secret=TOTP_KEY)
    with app.app_context():
        session = db.session()
        owner = session.get(User, world.owner.id)
        family = session.get(Family, world.family_id)
        inbox = session.get(Referral, world.inbox_referral)
        _invitation, token = feedback_operations.invite(owner, family, referral=inbox,
                                                        language="nl")
        other = create_family(owner, parent_names="Anna de Vries",
                              children=[("Noor", date(2015, 5, 1))])
        receipt = privacy_operations.erase(session.get(User, officer.id), other).id
        consent = session.exec(select(Consent.id).where(
            Consent.family_id == world.family_id)).first()
        organisation = session.get(Service, world.inbox_service).organisation_id
        child = session.exec(select(Child.id).where(Child.family_id == world.family_id)).first()
        db.commit()
    values = {
        "family_id": [world.family_id], "consent_id": [consent], "child_id": [child],
        "organisation_id": [organisation], "service_id": [world.inbox_service],
        "referral_id": [world.inbox_referral, world.letter_referral],
        "signal_id": [world.signal_id], "user_id": [world.colleague.id],
        "receipt_id": [receipt], "token": [token, "geen-echte-link"],
        "filename": ["style.css", "bestaat-niet.css"],
        "ident": [str(world.inbox_service), "geen-id"],  # the HSDS API's objects
    }
    for listed in values.values():
        if isinstance(listed[0], uuid.UUID):
            listed.append(uuid.uuid4())  # not there: the 404 page
    people = {"professional": (world.owner, None), "partner": (world.partner, None),
              "bridge": (world.bridge, None), "coordinator": (world.coordinator, None),
              "privacy_officer": (officer, TOTP_KEY)}
    return people, values


def _urls(app, values):
    """Every GET rule: those without parameters once, the others with each combination of
    the values, and addresses the app does not know."""
    urls, missing = [], []
    with app.test_request_context():
        for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
            if "GET" not in rule.methods:
                continue
            combinations = [{}]
            for name in sorted(rule.arguments):
                if name not in values:
                    missing.append(f"{rule.rule}: no value for {name}")
                    continue
                combinations = [{**c, name: v} for c in combinations for v in values[name]]
            urls += [url_for(rule.endpoint, **c) for c in combinations]
    assert not missing, missing
    return sorted(set(urls)) + ["/bestaat-niet", "/families/geen-uuid", "/login/../../etc"]


CSP_REQUIRED = {"frame-ancestors": {"'none'"}, "object-src": {"'none'"},
                "form-action": {"'self'"}}


def _csp_problems(csp):
    directives = {}
    for part in (csp or "").split(";"):
        name, *sources = part.split()
        directives[name.lower()] = {s.lower() for s in sources} if name else set()
    problems = [f"CSP {k} is {directives.get(k)}" for k, v in CSP_REQUIRED.items()
                if directives.get(k) != v]
    script = directives.get("script-src", directives.get("default-src"))
    if not script:
        problems.append("CSP without script-src or default-src")
    elif script & {"'unsafe-inline'", "'unsafe-eval'", "*", "data:", "http:", "https:"}:
        problems.append(f"CSP script-src allows {script}")
    if directives.get("base-uri") not in ({"'none'"}, {"'self'"}):
        problems.append(f"CSP base-uri is {directives.get('base-uri')}")
    return problems


def _header_problems(response, path, *, production):
    headers, problems = response.headers, []
    problems += _csp_problems(headers.get("Content-Security-Policy"))
    expected = {"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
                "Referrer-Policy": "no-referrer", "Cross-Origin-Opener-Policy": "same-origin"}
    problems += [f"{name}: {headers.get(name)!r}" for name, value in expected.items()
                 if headers.get(name) != value]
    if not re.fullmatch(r"[0-9a-f]{16}", headers.get("X-Request-Id", "")):
        problems.append(f"X-Request-Id: {headers.get('X-Request-Id')!r}")
    # Pages may hold personal data: no cache keeps them. Style sheets may be cached, and the
    # public HSDS API's answers, checked with their ETag before each use.
    if path.startswith("/api/hsds/") and response.status_code == 200:
        if headers.get("Cache-Control") != "no-cache":
            problems.append(f"Cache-Control: {headers.get('Cache-Control')!r}")
    elif not path.startswith("/static/") and headers.get("Cache-Control") != "no-store":
        problems.append(f"Cache-Control: {headers.get('Cache-Control')!r}")
    hsts = headers.get("Strict-Transport-Security")
    if production:
        age = re.match(r"max-age=(\d+)", hsts or "")
        if not age or int(age.group(1)) < 365 * 24 * 3600:
            problems.append(f"Strict-Transport-Security: {hsts!r}")
    elif hsts:
        problems.append("Strict-Transport-Security on plain http")
    for cookie in headers.getlist("Set-Cookie"):
        flags = {part.strip().lower() for part in cookie.split(";")[1:]}
        wanted = {"httponly", "samesite=lax"} | ({"secure"} if production else set())
        if not wanted <= flags:
            problems.append(f"cookie {cookie.split('=')[0]} lacks {sorted(wanted - flags)}")
    return problems


def test_the_readiness_probe_answers_with_a_session_cookie(make_app, make_user):
    """A load balancer or a curious user with a cookie: the probe says the database is there,
    at once, rather than waiting on the request's own database lock and saying it is not."""
    app = make_app(SQLITE_BUSY_TIMEOUT_MS=1000)
    browser = app.test_client()
    assert browser.get("/readyz").json == {"status": "ok"}  # without a session: fine
    _sign_in(browser, make_user())
    started = time.monotonic()
    response = browser.get("/readyz")
    waited = time.monotonic() - started
    assert (response.status_code, response.json) == (200, {"status": "ok"}), \
        f"/readyz with a session cookie: {response.status_code} {response.json} after {waited:.1f}s"
    assert waited < 0.9


@pytest.mark.slow
@pytest.mark.parametrize("env", ["production", "development"])
def test_every_page_carries_the_security_headers_and_cookie_flags(make_app, tour, env):
    """Production, as deployed, with everyone; development (the same headers, no HSTS, no
    Secure flag) with a visitor and a professional."""
    people, values = tour
    production = env == "production"
    if not production:
        people = {"professional": people["professional"]}
    # Production on this test's database, as deployed (the Secure flag is the app's own
    # doing); REQUIRE_2FA off so that the world's people, who have no key, can log in.
    # A short SQLite lock wait: /readyz with a session cookie waits for the request's own lock
    # (see test_the_readiness_probe_answers_with_a_session_cookie); its page is checked anyway.
    fast = {"SQLITE_BUSY_TIMEOUT_MS": 500}
    app = (make_app(ENV="production", ALLOW_SQLITE_IN_PRODUCTION=True, REQUIRE_2FA=False, **fast)
           if production else make_app(**fast))
    assert app.config.get("SESSION_COOKIE_SECURE", False) is production
    urls = _urls(app, values)
    problems, statuses, cookies, ok = [], set(), 0, {}

    def check(who, method, url, response):
        nonlocal cookies
        statuses.add(response.status_code)
        cookies += len(response.headers.getlist("Set-Cookie"))
        if response.status_code == 200:
            ok[who] = ok.get(who, 0) + 1
        problems.extend(f"{who} {method} {url} ({response.status_code}): {p}"
                        for p in _header_problems(response, url, production=production))
        response.close()

    for who in ["anonymous", *people]:
        client = app.test_client()
        if who != "anonymous":
            person, secret = people[who]
            check(who, "GET", "/login", client.get("/login"))
            check(who, "POST", "/login", _password(client, person.email, person.password))
            if secret:
                check(who, "POST", "/login/code",
                      post_form(client, "/login/code", {"code": _code(secret)}))
            assert _logged_in(client), who
        for url in urls:
            check(who, "GET", url, client.get(url))
        if who != "anonymous":
            check(who, "POST", "/logout", post_form(client, "/logout", {}, page="/account"))
    # Wrong passwords, a throttled login and a bad CSRF token are pages too.
    client = app.test_client()
    for n in range(app.config["LOGIN_MAX_FAILURES_ACCOUNT"] + 1):
        check("anonymous", "POST", "/login",
              _password(client, "geraden@example.org", f"fout-wachtwoord-{n}"))
    check("anonymous", "POST", "/language", client.post("/language", data={"language": "en"}))

    assert not problems, f"{len(problems)} responses lack a header:\n" + "\n".join(problems[:40])
    # The tour saw what it should, so the check above had something to look at.
    assert {200, 302, 303, 400, 403, 404, 429} <= statuses, statuses
    assert set(ok) == {"anonymous", *people}, ok
    assert cookies >= len(people) * 2
