"""What every response carries: headers, error pages, limits, health checks, language."""

import re
import uuid

import pytest
from flask import url_for
from sqlalchemy.exc import OperationalError

from tests.conftest import post_form


def test_security_headers(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert "script-src 'self'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert "Strict-Transport-Security" not in response.headers


def test_session_cookie_flags(client, make_user, login):
    login(make_user())
    cookie = client.get_cookie("referral_session")
    assert cookie.http_only and cookie.same_site == "Lax"
    assert not cookie.secure  # development and tests run on plain http


def test_production_cookies_and_hsts(make_app, make_user):
    app = make_app(ENV="production", SESSION_COOKIE_SECURE=True, ALLOW_SQLITE_IN_PRODUCTION=True)
    client = app.test_client()
    response = client.get("/login", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")


def test_no_external_assets(client):
    page = client.get("/login").text
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert url.startswith(("/", "#")), url


def test_menu_and_static_addresses_follow_the_script_root(client, make_user, login):
    """Addresses without values are built once per process, per script root: an app served
    under a path gets its own, and the root's stay as they were."""
    login(make_user())
    for root in ("", "/verwijzen", ""):
        page = client.get("/", base_url=f"http://localhost{root}/").text
        assert f'href="{root}/static/style.css"' in page
        assert f'<a href="{root}/families/">' in page
        other = "/verwijzen" if root == "" else ""
        assert f'href="{other}/static/style.css"' not in page


def test_static_assets_are_served_by_the_app(client):
    response = client.get("/static/style.css")
    response.close()
    assert response.status_code == 200
    assert response.headers.get("Cache-Control") != "no-store"


@pytest.mark.parametrize(("language", "title"), [("nl", "Pagina niet gevonden"),
                                                  ("en", "Page not found")])
def test_404_page_in_both_languages_with_request_id(client, language, title):
    post_form(client, "/language", {"language": language, "next": "/login"}, page="/login")
    response = client.get("/nothing-here")
    assert response.status_code == 404
    assert title in response.text
    assert response.headers["X-Request-Id"] in response.text


def test_403_page_and_denial_is_audited(app, client, make_user, login):
    from tests.conftest import audit_entries

    login(make_user("professional"))
    response = client.get("/users")
    assert response.status_code == 403
    assert "Geen toegang" in response.text or "toegang" in response.text
    denied = audit_entries(app, outcome="denied")
    assert [e.summary for e in denied] == ["denied: users.list"]


def test_500_page_shows_no_internals(make_app):
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    @app.get("/boom")
    def boom():
        raise RuntimeError("secret internals /etc/passwd")

    response = app.test_client().get("/boom")
    assert response.status_code == 500
    assert "secret internals" not in response.text and "Traceback" not in response.text
    assert response.headers["X-Request-Id"] in response.text


def test_database_outage_gives_a_friendly_503(make_app):
    app = make_app(PROPAGATE_EXCEPTIONS=False)

    @app.get("/db-down")
    def db_down():
        raise OperationalError("SELECT 1", {}, Exception("connection refused"))

    response = app.test_client().get("/db-down")
    assert response.status_code == 503
    assert "connection refused" not in response.text


def test_oversize_body_gets_413(client):
    response = client.post("/login", data={"email": "a@b.nl", "password": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413
    assert "Te veel" in response.text or "413" in response.text


def test_csrf_missing_or_stale_is_refused(client):
    assert client.post("/language", data={"language": "en"}).status_code == 400
    stale = client.post("/language", data={"language": "en", "csrf_token": "stale.token.value"})
    assert stale.status_code == 400
    assert '<html lang="nl">' in client.get("/login").text


def test_healthz_and_readyz(client):
    assert client.get("/healthz").json == {"status": "ok"}
    assert client.get("/readyz").json == {"status": "ok"}


@pytest.mark.own_database
def test_readyz_reports_an_unreachable_database(make_app, tmp_path):
    app = make_app(DATABASE_URL="postgresql+psycopg://nobody@127.0.0.1:1/none")
    response = app.test_client().get("/readyz")
    assert response.status_code == 503


def test_language_is_remembered_per_user(make_app, make_user):
    person = make_user()
    app = make_app()
    first = app.test_client()
    post_form(first, "/login", {"email": person.email, "password": person.password})
    post_form(first, "/language", {"language": "en", "next": "/"}, page="/")
    assert '<html lang="en">' in first.get("/").text
    # Another device, logging in fresh, gets the language the user chose.
    second = app.test_client()
    post_form(second, "/login", {"email": person.email, "password": person.password})
    assert '<html lang="en">' in second.get("/").text


def test_language_switch_refuses_unknown_language(client):
    response = post_form(client, "/language", {"language": "xx", "next": "/login"}, page="/login")
    assert response.status_code == 303
    assert '<html lang="nl">' in client.get("/login").text


def test_pages_need_login(client):
    for path in ("/", "/account", "/account/password", "/users"):
        response = client.get(path)
        assert response.status_code == 302 and response.headers["Location"].startswith("/login")


@pytest.mark.parametrize(("hops", "address"), [(0, "127.0.0.1"), (1, "203.0.113.9")])
def test_the_address_behind_a_reverse_proxy(make_app, hops, address):
    """Failed logins are throttled per address: behind nginx it must be the client's, and
    without a proxy nobody can claim another one with a header."""
    from sqlmodel import select

    from referral import db
    from referral.auth.models import LoginAttempt

    app = make_app(PROXY_HOPS=hops)
    client = app.test_client()
    post_form(client, "/login", {"email": "nobody@example.org", "password": "fout-fout-fout"},
              headers={"X-Forwarded-For": "203.0.113.9"},
              environ_base={"REMOTE_ADDR": "127.0.0.1"})
    with app.app_context():
        assert [a.address for a in db.session().exec(select(LoginAttempt))] == [address]


def test_template_strings_follow_the_locale_as_it_changes(app):
    """Templates look the catalog up once per request (issue 18), yet a mail in another
    language (force_locale) and the page around it each get their own."""
    from flask import render_template_string
    from flask_babel import force_locale

    page = "{{ _('Home') }}|{{ ngettext('%(num)d year', '%(num)d years', 2) }}"
    with app.test_request_context("/"):
        assert render_template_string(page) == "Start|2 jaar"
        with force_locale("en"):
            assert render_template_string(page) == "Home|2 years"
        assert render_template_string(page) == "Start|2 jaar"


def test_wtforms_own_messages_in_the_page_language(client, make_user, login):
    """WTForms' catalog is read once per process (issue 18), still in the visitor's language."""
    login(make_user("professional"))
    assert "Ongeldig getal." in client.get("/directory/?age=twaalf").text
    post_form(client, "/language", {"language": "en", "next": "/"}, page="/")
    assert "Not a valid integer value." in client.get("/directory/?age=twaalf").text


def test_addresses_of_ids_are_the_ones_flask_builds(app):
    """Templates write an address of ids from its parts, built once per endpoint (a list
    has one a row): for every route of ids alone, under the root and under a path, the
    same address as url_for, also with an id in the query string."""
    from referral.web import _url_for

    routes = [rule for rule in app.url_map.iter_rules() if rule.arguments and all(
        type(rule._converters[name]).__name__ == "UUIDConverter" for name in rule.arguments)]
    assert len(routes) > 10
    for root in ("", "/verwijzen"):
        with app.test_request_context("/", base_url=f"http://localhost{root}/"):
            for rule in routes:
                for _ in range(2):  # first building the parts, then from them
                    ids = {name: uuid.uuid4() for name in sorted(rule.arguments)}
                    assert _url_for(rule.endpoint, **ids) == url_for(rule.endpoint, **ids)
                    ids["next_id"] = uuid.uuid4()
                    assert _url_for(rule.endpoint, **ids) == url_for(rule.endpoint, **ids)
                    assert str(ids["next_id"]) in _url_for(rule.endpoint, **ids)
