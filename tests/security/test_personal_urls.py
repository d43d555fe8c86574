"""No personal data in any address.

An address ends up where nobody decides who reads it: the web server's request log, a proxy's
log, the browser's history, a Referer header. The outsider found the privacy officer's
access-log filter (an employee's email, a family reference) in the query string. So:

- every page, opened as every role, has no GET form with a field that can carry personal
  data, and no link whose query string has a parameter outside a short list of harmless
  ones (status, sort, page …; an object's reference only where the path would carry it too);
- the outsider again: the privacy officer searches by postcode and house number, by name, the
  access log by email; the coordinator searches the accounts; the professional their
  families. Every request's path and query string (what a proxy log keeps) holds none of
  what was typed, and the searches still find what was asked for.
"""

import re
from html.parser import HTMLParser
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

import pyotp
from flask import request

from referral import db
from referral.auth.models import User
from referral.cases.operations import create_family
from tests.conftest import post_form
from tests.test_query_budget import BUDGETS, KEY, _client, every_client, page_names

# Parameters a GET form or a link may carry: choices from a list, numbers, on/off.
HARMLESS = {"status", "overdue", "service", "organisation", "days", "sort", "order", "page",
            "waiting", "role", "expired", "search", "language", "municipality", "age",
            "domains", "everything", "year", "filter"}
# The reference of an object the page is about, as its path would carry it anyway (a family's
# own reference never: the privacy officer's log filter posts it).
REFERENCES = {"referral", "signal", "next"}
# Words to find a service in the directory: the directory holds no personal data.
SERVICE_SEARCH = {"q"}
SERVICE_PAGES = ("/directory/", "/referrals/new/", "/referrals/")
# What can carry personal data (for the control below: none of these may ever be harmless).
PERSONAL = {"name", "text", "q", "postcode", "house_number", "email", "reference", "family",
            "user", "phone", "street", "parent_names", "child"}


class Forms(HTMLParser):
    """The GET forms of a page (method missing means GET) with their field names, and the
    query parameters of every link."""

    def __init__(self):
        super().__init__()
        self.forms, self.links, self._open = [], [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            method = (attrs.get("method") or "get").lower()
            self._open = {"action": attrs.get("action") or "", "fields": set()} \
                if method == "get" else None
            if self._open is not None:
                self.forms.append(self._open)
        elif tag in ("input", "select", "textarea", "button") and self._open is not None:
            if attrs.get("name"):
                self._open["fields"].add(attrs["name"])
        elif tag == "a" and "?" in (attrs.get("href") or ""):
            self.links.append(attrs["href"])

    def handle_endtag(self, tag):
        if tag == "form":
            self._open = None


def _problems(who, path, text):
    parsed = Forms()
    parsed.feed(text)
    found = []
    service_page = any(urlsplit(path).path.startswith(p) for p in SERVICE_PAGES)
    for form in parsed.forms:
        allowed = HARMLESS | (SERVICE_SEARCH if service_page else set())
        wrong = sorted(form["fields"] - allowed)
        if wrong:
            found.append(f"{who} {path}: a GET form to {form['action'] or 'itself'} "
                         f"has {wrong}")
    for href in parsed.links:
        keys = {key for key, _value in parse_qsl(urlsplit(href).query,
                                                  keep_blank_values=True)}
        target = urlsplit(href).path
        service_link = any(target.startswith(p) for p in SERVICE_PAGES)
        allowed = HARMLESS | REFERENCES | (SERVICE_SEARCH if service_link else set())
        if keys - allowed:
            found.append(f"{who} {path}: a link {href} has {sorted(keys - allowed)}")
    return found


def test_the_lists_of_parameters_hold_nothing_personal():
    assert not PERSONAL & (HARMLESS | REFERENCES)
    assert SERVICE_SEARCH <= PERSONAL  # allowed only on the directory's own search


def test_no_page_has_a_get_form_or_link_that_carries_personal_data(app, world, make_user,
                                                                   make_service):
    """Every page of the budget list (every page of the app, test_query_budget makes sure),
    opened as every role: what each may see, and the error pages of what it may not."""
    make_service("Extra hulp", organisation="Voedselbank", referral_route="inbox")
    clients = every_client(app, world, make_user)
    names = page_names(app, world)
    paths = list(dict.fromkeys(path.format(**names) for _who, path, _budget in BUDGETS))
    paths.append(f"/privacy/families/{world.family_id}?language=ar")
    problems, pages = [], 0
    for who, client in clients.items():
        for path in paths:
            response = client.get(path)
            if response.mimetype != "text/html":
                continue
            pages += 1
            problems += _problems(who, path, response.text)
    assert pages > 300
    assert problems == [], "\n".join(problems)


def test_the_crawl_sees_a_get_form_with_a_personal_field():
    """The control: the check finds the form the outsider found."""
    page = ('<form method="get" action="/privacy/log"><input name="user">'
            '<input name="page"></form><a href="/privacy/log?family=1">x</a>')
    assert _problems("officer", "/privacy/log", page) == [
        "officer /privacy/log: a GET form to /privacy/log has ['user']",
        "officer /privacy/log: a link /privacy/log?family=1 has ['family']"]
    assert _problems("owner", "/directory/", '<form><input name="q"></form>') == []
    assert _problems("owner", "/families/", '<form><input name="q"></form>') != []


def _typed_variants(values):
    return {variant for value in values
            for variant in (value, quote(value), quote_plus(value), value.replace(" ", ""),
                            quote(value.replace(" ", "")))}


def test_searches_keep_what_was_typed_out_of_every_address(app, world, make_user):
    """The outsider again: each search with personal terms, followed through its redirects
    and a next page where it has one; every request's path and query string is recorded as
    a proxy would."""
    with app.app_context():
        nurse = db.session().get(User, world.owner.id)
        create_family(nurse, parent_names="Familie Postcodeproef", postcode="1234 AB",
                      house_number="77k", street="Dorpsstraat", children=[])
        db.commit()
    officer = make_user("privacy_officer", organisation="Alliantie", totp_secret=KEY)
    officer_client = _client(app, officer, pyotp.TOTP(KEY).now())
    coordinator, owner = _client(app, world.coordinator), _client(app, world.owner)

    addresses = []
    app.before_request_funcs.setdefault(None, []).append(
        lambda: addresses.append(request.full_path))
    typed = ["1234 AB", "77k",  # a house number no reference (hex) can hold
             "Postcodeproef", world.owner.email, world.colleague.email,
             "Zeynep", str(world.family_id)]

    found = post_form(officer_client, "/privacy/families",
                      {"postcode": "1234 AB", "house_number": "77k"}, follow_redirects=True)
    assert "Familie Postcodeproef" in found.text
    found = post_form(officer_client, "/privacy/families", {"name": "Postcodeproef"},
                      follow_redirects=True)
    assert "Familie Postcodeproef" in found.text
    log = post_form(officer_client, "/privacy/log",
                    {"user": world.owner.email, "family": str(world.family_id)},
                    follow_redirects=True)
    assert log.status_code == 200 and "<tr><td" in log.text
    users = post_form(coordinator, "/users", {"text": world.colleague.email},
                      follow_redirects=True)
    assert world.colleague.email in users.text and world.owner.email not in users.text
    for href in re.findall(r'href="(/users\?[^"]*)"', users.text):
        coordinator.get(href.replace("&amp;", "&"))  # its sort links keep the search
    families = post_form(owner, "/families/", {"text": "Postcodeproef"},
                         follow_redirects=True)
    assert "Familie Postcodeproef" in families.text and "Zeynep" not in families.text

    assert len(addresses) > 8
    leaked = sorted({path for path in addresses for value in _typed_variants(typed)
                     if value in path})
    assert leaked == []


def test_the_check_of_addresses_would_see_a_leak():
    """The control of the check above: what the old GET form put in the address."""
    old = "/privacy/log?user=professional1%40example.org&family=&action=create"
    assert any(value in old for value in _typed_variants(["professional1@example.org"]))
    assert any(value in "/privacy/families?postcode=1234+AB&house_number=77k"
               for value in _typed_variants(["1234 AB"]))


def test_kept_searches_are_not_readable_in_the_session_cookie(app, client, login, make_user):
    """The session is a signed cookie, not an encrypted one: whoever holds it can read it.
    A search kept between pages is sealed in it (and opens only for its user)."""
    coordinator, owner = make_user("coordinator"), make_user("professional")
    serializer = app.session_interface.get_signing_serializer(app)

    def cookie():
        return serializer.loads(client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value)

    login(coordinator)
    post_form(client, "/users", {"text": owner.email}, follow_redirects=True)
    assert "users_search" in cookie() and owner.email not in str(cookie())
    assert owner.email in client.get("/users?search=y").text  # kept for the next page
    login(owner)
    post_form(client, "/families/", {"text": "Postcodeproef"}, follow_redirects=True)
    assert "family_search" in cookie() and "Postcodeproef" not in str(cookie())
    assert "Postcodeproef" in client.get("/families/").text


def test_a_kept_search_opens_only_for_its_user(app, make_user):
    from referral.web import keep_search, kept_search

    alice, bob = make_user("coordinator"), make_user("coordinator")
    with app.test_request_context():
        keep_search("users_search", "Jansen", alice)
        assert kept_search("users_search", bob) == ""  # and forgotten
        keep_search("users_search", "Jansen", alice)
        assert kept_search("users_search", alice) == "Jansen"
