"""Script, SQL, template and spreadsheet-formula payloads typed into every text field of
every form come back escaped on every page that shows them, never appear in mail, are
neutralised in the CSV exports, and leave the database intact.

Each value carries a tag (#f01# …), so a test can tell which field shows up where. The
payload starts with a formula, so a CSV cell made of it starts with "=".
"""

import csv
import io
import re
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from urllib.parse import quote

import pytest
import sqlalchemy as sa
from markupsafe import escape
from sqlmodel import SQLModel, func, select

from referral import db, policy
from referral.auth.models import User
from referral.auth.operations import create_user
from referral.cases.models import Child, Consent, Family, Signal
from referral.directory.models import Organisation, Service
from referral.feedback.models import FeedbackResponse
from referral.mail import send_pending
from referral.monitor.models import Pledge, PledgeActivity, PledgeReport
from referral.referrals.models import Handover, Referral, ReferralEvent
from tests.conftest import PASSWORD, Person, csrf_token, post_form, raw_connection
from tests.security.forms import (
    make_ctx,
)

SCRIPT = "<script>alert(1)</script>"
IMG = '"><img src=x onerror=alert(1)>'
SQL = "'; DROP TABLE family; --"
TEMPLATE = "{{7*7}}"
FORMULA = '=HYPERLINK("http://x")'
# Raw, any of these is markup the browser would run or render; 49# is {{7*7}} evaluated.
RAW = ["<script>alert(1)", "<img src=x", "onerror=alert(1)>", "<i>7</i>", "49#"]
# In mail, not even the escaped form may appear: mail carries no personal data.
FRAGMENTS = ["alert(1)", "DROP TABLE", "HYPERLINK", "{{7*7}}", "&lt;script", "<i>7</i>"]


def payload(tag):
    return f"{FORMULA}{SCRIPT}{IMG}{SQL}{TEMPLATE}#{tag}#"  # 113 characters


def short(tag):  # for fields of 40 characters
    return f"{SCRIPT}#{tag}#"


def email(tag):  # an address the form accepts: no spaces, quotes or brackets, one @
    return f"=1+{{{{7*7}}}}'--@x.nl#{tag}#"


def url(tag):  # the form accepts any path after an http(s) host
    return f"https://x.nl/{IMG.replace(' ', '/')}{SCRIPT}#{tag}#"


@pytest.fixture
def mail_app(make_app, smtp):
    """Another process of the same app (same database) that sends mail to the test server."""
    return make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, MAIL_FROM="tool@example.org")


@dataclass
class Flow:
    """Everything the payloads were typed into, and where to look for them."""

    app: object
    town: object
    values: dict = field(default_factory=dict)  # tag -> the value as typed
    ids: dict = field(default_factory=dict)
    clients: dict = field(default_factory=dict)
    pages: dict = field(default_factory=dict)  # pages seen only as the answer to a post

    def value(self, tag, make=payload):
        self.values[tag] = make(tag)
        return self.values[tag]

    def post(self, who, path, data, *, page=None, token_field="csrf_token", expect=(302, 303)):
        client = self.clients[who]
        token = csrf_token(client, page or path)
        response = client.post(path, data={token_field: token, **data})
        assert response.status_code in expect, (
            f"{who} POST {path}: {response.status_code}\n{response.text[:3000]}")
        return response

    def query(self, query):
        with self.app.app_context():
            return db.session().exec(query).all()


def _id(response):
    """The id at the end of the address a form redirected to."""
    return uuid.UUID(response.headers["Location"].rsplit("/", 1)[1])


def _login(client, person):
    response = post_form(client, "/login", {"email": person.email, "password": person.password})
    assert response.status_code == 303


def _user(app, name, role, organisation_id, email_address):
    """Names are set by the coordinator's command line (`flask users create`): the same
    service function, so a payload name is as it would be."""
    with app.app_context():
        user = create_user(policy.COMMAND_LINE, email=email_address, name=name, role=role,
                           password=PASSWORD, organisation_id=organisation_id,
                           trained_on=date.today() if role == "professional" else None)
        db.commit()
        return Person(user.id, email_address, PASSWORD, role)


def run_flow(app, town, make_user, make_service):
    """Type the payloads into every form, as each role would."""
    flow = Flow(app, town)
    v = flow.value
    for who in ("owner", "partner", "coordinator"):
        flow.clients[who] = app.test_client()
        _login(flow.clients[who], getattr(town, who))
    privacy = make_ctx(app, town, make_user, make_service)
    privacy.login_two_factor()
    flow.clients["privacy"] = privacy.client

    # The directory: a new organisation and service, and edits of the world's own.
    made = flow.post("coordinator", "/directory/organisations/new", {
        "name": v("o-name"), "alternate_name": v("o-alt"), "description": v("o-desc"),
        "phone": v("o-phone", short), "email": v("o-email", email),
        "website": v("o-web", url)})
    organisation = _id(made)
    flow.ids["organisation"] = organisation
    service_form = {
        "description": v("s-desc"), "domains": ["food"], "referral_route": "inbox",
        "capacity": "open", "status": "active", "minimum_age": "", "maximum_age": "",
        "eligibility_description": v("s-elig"), "application_process": v("s-apply"),
        "fees_description": v("s-fees"), "phone": v("s-phone", short),
        "email": v("s-email", email), "url": v("s-url", url), "languages": "nl, ar"}
    made = flow.post("coordinator", f"/directory/organisations/{organisation}/services/new", {
        **service_form, "name": v("s-name"), "alternate_name": v("s-alt"),
        "areas": f"GM0363 Amsterdam\nGM9999 {v('area')}"})
    flow.ids["service"] = _id(made)
    flow.post("coordinator", f"/directory/services/{town.inbox_service}/edit", {
        **service_form, "name": v("s2-name"), "alternate_name": v("s2-alt"),
        "description": v("s2-desc"), "areas": "GM0363 Amsterdam"})
    voedselbank = flow.query(select(Service.organisation_id).where(
        Service.id == town.inbox_service))[0]
    flow.ids["voedselbank"] = voedselbank
    flow.post("coordinator", f"/directory/organisations/{voedselbank}/edit", {
        "name": v("o2-name"), "alternate_name": v("o2-alt"), "description": v("o2-desc"),
        "phone": "", "email": "", "website": ""})

    # People with payload names: the partner of the new organisation, a colleague of the
    # owner (for the handover list) and a bridge worker.
    partner = _user(app, v("u-par"), "partner", organisation, "p-inj@example.org")
    colleague = _user(app, v("u-col"), "professional", town_owner_org(app, town),
                      "c-inj@example.org")
    bridge = _user(app, v("u-bri"), "bridge", None, "b-inj@example.org")
    flow.ids.update(partner=partner.id, bridge=bridge.id)
    for who, person in (("payload_partner", partner), ("payload_colleague", colleague)):
        flow.clients[who] = app.test_client()
        _login(flow.clients[who], person)

    # A family, its correction, a signal, consents, referrals.
    child_birth = date(date.today().year - 10, 1, 15).isoformat()
    made = flow.post("owner", "/families/new", {
        "parent_names": v("f-names"), "phone": v("f-phone", short),
        "email": v("f-email", email), "street": v("f-street"), "house_number": "<i>7</i>'--",
        "postcode": "1234 AB", "municipality": "GM9999", "language": "nl",
        "children-0-first_name": v("f-child", lambda t: f"{SCRIPT}{SQL}#{t}#"),
        "children-0-birth_date": child_birth, "confirm_new": "y"})
    family = _id(made)
    flow.ids["family"] = family
    with app.app_context():
        corrected_child = db.session().exec(select(Child.id).where(
            Child.family_id == town.family_id)).one()
    flow.post("owner", f"/families/{town.family_id}/edit", {
        "children-0-ref": str(corrected_child), "parent_names": v("e-names"), "phone": v("e-phone", short),
        "email": v("e-email", email), "street": v("e-street"), "house_number": "12",
        "postcode": "", "municipality": "GM0363", "language": "nl",
        "children-0-first_name": v("e-child", lambda t: f"{SCRIPT}#{t}#"),
        "children-0-birth_date": "2017-03-01"})
    flow.post("owner", f"/families/{family}/signals/new", {
        "domains": ["food"], "observations": v("g-obs"), "source": "conversation",
        "urgency": "urgent", "strengths": v("g-strong"), "parent_wishes": v("g-parent"),
        "child_wishes": v("g-child"), "stress_factors": v("g-stress")})
    for tag, organisation_id in (("k1", organisation), ("k2", voedselbank)):
        flow.post("owner", f"/families/{family}/consents/new", {
            "organisation": str(organisation_id), "child": "", "given_by": v(f"{tag}-by"),
            "scope": v(f"{tag}-scope"), "method": "spoken",
            "given_on": date.today().isoformat(), "parent_agreed": "y"})
    [signal] = flow.query(select(Signal.id).where(Signal.family_id == family))
    refer = f"/referrals/new/{signal}"
    form_token = re.search(r'name="form_token"[^>]*value="([^"]+)"',
                           flow.clients["owner"].get(refer).text).group(1)
    flow.post("owner", refer, {
        "form_token": form_token, "services": [str(flow.ids["service"]),
                                               str(town.inbox_service)],
        "message": v("r-msg"), "send": "1",
        "follow_up_on": (date.today() + timedelta(days=14)).isoformat()})
    referral = flow.query(select(Referral.id).where(
        Referral.service_id == flow.ids["service"]))[0]
    flow.ids["referral"] = referral
    flow.ids["other_referral"] = flow.query(select(Referral.id).where(
        Referral.family_id == family, Referral.service_id == town.inbox_service))[0]
    flow.post("owner", f"/referrals/{referral}/notes", {"text": v("n-owner")},
              page=f"/referrals/{referral}")
    handover_page = flow.clients["owner"].get(f"/referrals/{referral}/handover").text
    payload_colleague = re.search(r'<option value="([0-9a-f-]{36})">[^<]*#u-col#',
                                  handover_page).group(1)
    flow.post("owner", f"/referrals/{referral}/handover", {
        "colleague": payload_colleague, "note": v("h-note")})
    flow.post("owner", f"/referrals/{referral}/bridge", {
        "bridge": str(bridge.id), "family_agreed": "y"})

    # The partner of the new organisation takes the referral up, with words of its own.
    version = flow.query(select(Referral.version).where(Referral.id == referral))[0]
    flow.post("payload_partner", f"/referrals/{referral}/status/accepted", {
        "accepted-version": str(version)}, page=f"/referrals/{referral}",
        token_field="accepted-csrf_token")
    version = flow.query(select(Referral.version).where(Referral.id == referral))[0]
    flow.post("payload_partner", f"/referrals/{referral}/status/on-hold", {
        "on-hold-version": str(version), "on-hold-reason": v("st-reason"),
        "on-hold-reason_code": ""}, page=f"/referrals/{referral}",
        token_field="on-hold-csrf_token")
    flow.post("payload_partner", f"/referrals/{referral}/notes", {"text": v("n-partner")},
              page=f"/referrals/{referral}")

    # The pledge of the new organisation, and its report.
    flow.post("payload_partner", "/monitor/pledge/edit", {
        "activities-0-what": v("p-what"), "activities-0-for_whom": v("p-whom"),
        "activities-0-target": v("p-target"), "activities-0-due": "",
        "new_partner": v("p-new")})
    flow.post("payload_partner", "/monitor/pledge/report", {
        "entries-0-progress": "partly", "entries-0-text": v("p-report")})

    # Feedback: the owner invites the parent and the child; each answers.
    [child] = flow.query(select(Child.id).where(Child.family_id == family))
    cards = flow.post("owner", f"/feedback/invite/{family}?referral={referral}", {
        "whom": ["parent", str(child)], "language": "nl"}, expect=(200,))
    flow.pages["owner /feedback/invite (cards)"] = cards.text
    links = list(dict.fromkeys(re.findall(r"https?://[^\s<\"]+/f/[A-Za-z0-9_-]+", cards.text)))
    assert len(links) == 2
    answers = [{"heard": "4", "useful": "3", "went_well": v("fb-well"),
                "do_better": v("fb-better")},
               {"heard": "5", "better": "4", "to_grown_ups": v("fb-child")}]
    for link in links:
        family_browser = app.test_client()
        family_browser.get(link)
        is_child = "to_grown_ups" in family_browser.get("/f/form").text
        flow.clients["family"] = family_browser
        flow.post("family", "/f/form", answers[1 if is_child else 0])
    return flow


def town_owner_org(app, town):
    with app.app_context():
        return db.session().get(User, town.owner.id).organisation_id


def _strings(value):
    """Every string in a JSON document."""
    if isinstance(value, dict):
        return [text for item in value.values() for text in _strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return [value] if isinstance(value, str) else []


def pages(flow):
    """Every page that could show a value typed above, for each role that sees it."""
    town, ids = flow.town, flow.ids
    family, referral = ids["family"], ids["referral"]
    wanted = {
        "owner": ["/", "/families/", f"/families/{family}", f"/families/{town.family_id}",
                  f"/families/{town.family_id}/edit", f"/families/{family}/edit",
                  f"/families/{family}/signals/new", f"/families/{family}/consents/new",
                  f"/referrals/{referral}", f"/referrals/{ids['other_referral']}",
                  f"/referrals/{referral}/letter", "/referrals/", "/feedback/",
                  f"/feedback/invite/{family}?referral={referral}", "/directory/",
                  f"/directory/?q={quote(payload('q'))}&municipality=GM9999",
                  f"/directory/services/{ids['service']}",
                  f"/directory/organisations/{ids['organisation']}",
                  "/directory/organisations", f"/referrals/new/{town.signal_id}",
                  f"/directory/organisations/{ids['voedselbank']}",
                  f"/referrals/new/{town.signal_id}?q={quote(payload('q2'))}",
                  f"/referrals/{referral}/handover", f"/referrals/{referral}/bridge"],
        "payload_partner": [f"/referrals/{referral}", "/referrals/", "/monitor/pledge",
                            "/monitor/pledge/edit", "/monitor/pledge/report", "/monitor/",
                            "/feedback/", f"/directory/services/{ids['service']}/edit",
                            "/account"],
        "partner": [f"/referrals/{ids['other_referral']}", "/referrals/", "/monitor/"],
        "payload_colleague": [f"/referrals/{referral}", "/referrals/"],
        "coordinator": ["/monitor/", "/monitor/report", "/monitor/pledges",
                        f"/monitor/pledges/{ids['organisation']}", "/referrals/stuck",
                        "/users", f"/users/{ids['partner']}/deactivate",
                        "/directory/attention", "/directory/organisations",
                        f"/directory/organisations/{ids['organisation']}/edit",
                        f"/directory/organisations/{ids['voedselbank']}/edit",
                        f"/directory/organisations/{ids['organisation']}/merge",
                        f"/directory/organisations/{ids['organisation']}/deactivate",
                        f"/directory/services/{town.inbox_service}/edit",
                        f"/directory/?municipality=GM9999&q={quote(payload('q3'))}"],
        "privacy": [f"/privacy/families/{family}", f"/privacy/families/{family}/erase",
                    "/privacy/"],
    }
    shown = dict(flow.pages)
    for who, paths in wanted.items():
        for path in paths:
            response = flow.clients[who].get(path)
            assert response.status_code == 200, f"{who} GET {path}: {response.status_code}"
            assert response.mimetype == "text/html", path
            shown[f"{who} {path}"] = response.text
    # Every page puts its own address into the language form: with a query string as a
    # client may send it, unencoded.
    response = flow.clients["owner"].get("/account", query_string="x=" + payload("reflected"))
    shown["owner /account?x=…"] = response.text
    # The family's record as a download: JSON, never read as a page by the browser.
    response = flow.clients["privacy"].get(f"/privacy/families/{family}.json")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Content-Disposition"].startswith("attachment")
    assert flow.values["f-names"] in _strings(response.json)
    # A login form sent back with its errors shows what was typed.
    anonymous = flow.app.test_client()
    response = post_form(anonymous, f"/login?next={quote(payload('next'))}",
                         {"email": payload("login"), "password": "x"}, page="/login")
    shown["anonymous POST /login"] = response.text
    # The privacy officer's search is posted (a name is personal): what was typed comes
    # back in the form.
    response = post_form(flow.clients["privacy"], "/privacy/families",
                         {"reference": str(family)})
    shown["privacy POST /privacy/families"] = response.text
    response = post_form(flow.clients["privacy"], "/privacy/families",
                         {"name": payload("q5")})
    shown["privacy POST /privacy/families (name)"] = response.text
    # So is the access log's filter (an employee's email address is personal).
    response = post_form(flow.clients["privacy"], "/privacy/log", {"user": payload("q4")})
    shown["privacy POST /privacy/log (user)"] = response.text
    return shown


# Where each value must show (escaped): proof that the check for raw markup is not empty.
FAMILY_TAGS = ["f-names", "f-phone", "f-email", "f-street", "f-child"]
SIGNAL_TAGS = ["g-obs", "g-strong", "g-parent", "g-child", "g-stress"]
CONSENT_TAGS = ["k1-by", "k1-scope", "k2-by", "k2-scope"]
REFERRAL_TAGS = ["r-msg", "n-owner", "h-note", "st-reason", "n-partner"]
SERVICE_TAGS = ["s-name", "s-alt", "s-desc", "s-elig", "s-apply", "s-fees", "s-phone",
                "s-email", "s-url"]
ORGANISATION_TAGS = ["o-name", "o-alt", "o-desc", "o-phone", "o-email", "o-web"]
PLEDGE_TAGS = ["p-what", "p-whom", "p-target", "p-new", "p-report"]
FEEDBACK_TAGS = ["fb-well", "fb-better", "fb-child"]
EXPECTED = {
    "owner /families/": ["f-names", "f-child", "e-names", "e-child"],
    "owner /families/{family}": [*FAMILY_TAGS, *SIGNAL_TAGS, *CONSENT_TAGS, "o-name",
                                 "s-name", "o2-name", "s2-name", "u-par"],
    "owner /families/{family}/edit": [*FAMILY_TAGS, "area"],
    "owner /families/{town.family_id}": ["e-names", "e-phone", "e-email", "e-street",
                                         "e-child"],
    "owner /families/{town.family_id}/edit": ["e-names", "e-phone", "e-email", "e-street",
                                              "e-child"],
    "owner /families/{family}/consents/new": ["o-name", "o2-name", "f-child"],
    "owner /referrals/{referral}": [*REFERRAL_TAGS, "f-names", "s-name", "o-name", "u-par",
                                    "u-bri"],
    "owner /referrals/{referral}/letter": ["f-names", "f-phone", "f-email", "f-street",
                                           "r-msg", "s-name", "s-phone", "s-email", "s-apply",
                                           "o-name"],
    "owner /referrals/": ["s-name", "s2-name", "f-names", "e-names"],
    "owner /referrals/{referral}/handover": ["u-col"],
    "owner /referrals/{referral}/bridge": ["u-bri"],
    "owner /feedback/": FEEDBACK_TAGS,
    "owner /feedback/invite (cards)": ["f-names", "f-child"],
    "owner /directory/": ["o-name", "s-name", "s-desc", "s2-name", "s2-desc", "o2-name",
                          "area"],
    "owner /directory/services/{service}": [*SERVICE_TAGS, "o-name", "area"],
    "owner /directory/organisations/{organisation}": ["o-name", "o-desc", "o-phone",
                                                      "o-email", "o-web", "s-name"],
    "owner /directory/organisations/{voedselbank}": ["o2-name", "o2-desc", "s2-name"],
    "owner /directory/?q=…": ["q", "area"],
    "owner /referrals/new/{town.signal_id}?q=…": ["q2", "area"],
    "owner /account?x=…": ["reflected"],
    "payload_colleague /referrals/{referral}": [*REFERRAL_TAGS, "s-name", "u-par"],
    "payload_partner /referrals/{referral}": ["r-msg", "n-owner", "st-reason", "n-partner",
                                              "s-name", "u-bri"],
    "payload_partner /monitor/pledge": PLEDGE_TAGS,
    "payload_partner /monitor/pledge/edit": ["p-what", "p-whom", "p-target", "p-new"],
    "payload_partner /monitor/pledge/report": ["p-what", "p-report"],
    "payload_partner /monitor/": ["o-name", "o2-name", "area"],
    "payload_partner /directory/services/{service}/edit": [*SERVICE_TAGS, "area"],
    "payload_partner /account": ["u-par"],
    "partner /referrals/{other_referral}": ["s2-name", "o2-name", "r-msg"],
    "coordinator /monitor/": ["o-name", "o2-name", "area"],
    "coordinator /monitor/report": ["o-name", "o2-name", "area"],
    "coordinator /monitor/pledges": ["o-name"],
    "coordinator /monitor/pledges/{organisation}": PLEDGE_TAGS,
    "coordinator /users": ["u-par", "u-col", "u-bri"],
    "coordinator /users/{partner}/deactivate": ["u-par"],
    "coordinator /directory/attention": ["o-name", "s-name"],
    "coordinator /directory/organisations": ["o-name", "o2-name"],
    "coordinator /directory/organisations/{organisation}/edit": ORGANISATION_TAGS,
    "coordinator /directory/organisations/{voedselbank}/edit": ["o2-name", "o2-alt",
                                                                "o2-desc"],
    "coordinator /directory/organisations/{organisation}/merge": ["o-name", "o2-name"],
    "coordinator /directory/services/{town.inbox_service}/edit": ["s2-name", "s2-alt",
                                                                  "s2-desc", "o2-name"],
    "coordinator /directory/?municipality=GM9999&q=…": ["q3", "area"],
    "privacy /privacy/families/{family}": [*FAMILY_TAGS, *SIGNAL_TAGS, *CONSENT_TAGS,
                                           *REFERRAL_TAGS, *FEEDBACK_TAGS, "u-par", "u-col",
                                           "u-bri", "o-name", "s-name"],
    "privacy POST /privacy/families": ["f-names"],
    "privacy POST /privacy/families (name)": ["q5"],
    "privacy POST /privacy/log (user)": ["q4"],
    "anonymous POST /login": ["login"],
}


def _key(flow, template):
    ids, town = flow.ids, flow.town
    names = {**ids, "town.family_id": town.family_id, "town.signal_id": town.signal_id,
             "town.inbox_service": town.inbox_service}
    return re.sub(r"\{([a-z_.]+)\}", lambda m: str(names[m.group(1)]), template)


def find_page(shown, key):
    if key.endswith("…"):
        prefix = key[:-1]
        matches = [name for name in shown if name.startswith(prefix)]
    else:
        matches = [name for name in shown if name == key]
    assert matches, f"no page {key}"
    return shown[matches[0]]


@pytest.mark.slow
def test_payloads_come_back_escaped_on_every_page(app, town, make_user, make_service):
    flow = run_flow(app, town, make_user, make_service)
    flow.values.update({tag: payload(tag) for tag in ("q", "q2", "q3", "q4", "q5", "reflected",
                                                      "login")})
    shown = pages(flow)
    for name, html in shown.items():
        for raw in RAW:
            at = html.find(raw)
            assert at < 0, f"{name}: raw {raw!r} in the page: …{html[max(0, at - 200):at + 100]}…"
    expected = {tag for tags in EXPECTED.values() for tag in tags}
    assert not set(flow.values) - expected, f"typed, never looked for: {set(flow.values) - expected}"
    missing = []
    for template, tags in EXPECTED.items():
        html = find_page(shown, _key(flow, template))
        for tag in tags:
            if str(escape(flow.values[tag])) not in html:
                missing.append(f"{template}: {tag}")
    assert not missing, "values not shown (escaped) where expected:\n" + "\n".join(missing)


def _send(mail_app):
    with mail_app.app_context():
        return send_pending()


def test_no_payload_in_any_mail(app, mail_app, smtp, town, make_user, make_service):
    """Mail says that something needs attention and links to it; what was typed into the
    forms never travels in it, escaped or not."""
    flow = run_flow(app, town, make_user, make_service)
    sent, failed = _send(mail_app)
    assert sent >= 5 and failed == 0, (sent, failed)  # new referrals, handover, bridge, …
    assert len(smtp.messages) == sent
    for recipients, content in smtp.messages:
        headers, body = re.split(r"\r?\n\r?\n", content, maxsplit=1)
        subject = re.search(r"^Subject: ([^\r\n]+)\r?$", headers, re.M)
        assert subject, headers
        for fragment in FRAGMENTS + [f"#{tag}#" for tag in flow.values]:
            assert fragment not in subject.group(1) + body, (
                f"{fragment!r} in mail to {recipients}")


def test_mail_goes_to_the_address_as_typed(app, mail_app, smtp, town, make_user,
                                           make_service):
    """A service's address, typed in its form, is where its mail goes: the envelope holds
    that address and no other."""
    flow = run_flow(app, town, make_user, make_service)
    _send(mail_app)
    typed = flow.values["s-email"]
    to_service = [recipients for recipients, content in smtp.messages
                  if "#s-email#" in re.split(r"\r?\n\r?\n", content, maxsplit=1)[0]]
    assert to_service, "no mail for the service's new referral"
    for recipients in to_service:
        assert recipients == [typed], f"typed {typed!r}, the mail went to {recipients}"


def _formula_cells(rows):
    return [cell for row in rows for cell in row
            if cell.startswith(("=", "+", "-", "@", "\t", "\r"))]


def test_csv_exports_neutralise_formulas(app, town, make_user, make_service):
    flow = run_flow(app, town, make_user, make_service)
    coordinator = flow.clients["coordinator"]
    # The payload organisation and municipality name rows of the monitor.
    response = coordinator.get("/monitor/export.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0] == ["table", "row", "column", "value"]
    assert not _formula_cells(rows), _formula_cells(rows)
    cells = [cell for row in rows for cell in row]
    for tag in ("o-name", "area"):
        assert "'" + flow.values[tag] in cells, f"{tag} not in the monitor export"

    response = coordinator.get("/directory/export.zip")
    assert response.status_code == 200
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        tables = {name: list(csv.reader(io.StringIO(archive.read(name).decode())))
                  for name in archive.namelist() if name.endswith(".csv")}
    cells = [cell for rows in tables.values() for row in rows for cell in row]
    for tag in ("o-name", "s-name", "s-desc"):  # there, and quoted into one cell each
        assert any(flow.values[tag] in cell for cell in cells), f"{tag} not in the export"
    # HSDS is an interchange format, not a spreadsheet: values go out as typed (the
    # monitor's CSV above is the one for spreadsheets).
    assert any(cell.startswith("=") for cell in cells)
    assert not [cell for cell in cells if cell.startswith("'=")]


def test_database_is_intact_and_holds_the_payloads_as_typed(app, town, make_user,
                                                            make_service):
    flow = run_flow(app, town, make_user, make_service)
    with raw_connection(app) as connection:
        assert set(sa.inspect(connection).get_table_names()) >= set(SQLModel.metadata.tables)

    def count(model, *where):
        return flow.query(select(func.count()).select_from(model).where(*where))[0]

    assert count(Family) == 2 and count(Child) == 2 and count(Signal) == 2
    assert count(Consent) == 4
    assert count(Referral) == 4 and count(Handover) == 1
    assert count(Organisation) == 8 and count(Service) == 4
    assert count(Pledge) == 1 and count(PledgeActivity) == 1 and count(PledgeReport) == 1
    assert count(FeedbackResponse) == 2
    assert count(ReferralEvent, ReferralEvent.referral_id == flow.ids["referral"]) >= 6
    with app.app_context():
        session = db.session()
        family = session.get(Family, flow.ids["family"])
        assert family.parent_names == flow.values["f-names"]
        assert session.get(Family, town.family_id).parent_names == flow.values["e-names"]
        assert session.get(Service, flow.ids["service"]).name == flow.values["s-name"]
        assert session.exec(select(Organisation.name).where(
            Organisation.id == flow.ids["organisation"])).one() == flow.values["o-name"]
        texts = {r.went_well or r.to_grown_ups for r in session.exec(select(FeedbackResponse))}
        assert texts == {flow.values["fb-well"], flow.values["fb-child"]}
    # Everything still works: the pages that read every table answer.
    for who, path in (("owner", f"/families/{flow.ids['family']}"),
                      ("coordinator", "/monitor/"), ("privacy", "/privacy/log")):
        assert flow.clients[who].get(path).status_code == 200


SCRIPT_LINKS = ["javascript:alert(1)", "javascript://x.nl/%0Aalert(1)",
                "data:text/html,<script>alert(1)</script>", "JaVaScRiPt://x.nl/%0aalert(1)",
                "vbscript://x.nl/", " javascript://x.nl/%0aalert(1)"]


def test_websites_are_only_http_links(app, town, make_user, make_service):
    """A website is shown as a link: a script address is refused, nothing is stored, and no
    page links to one."""
    ctx = make_ctx(app, town, make_user, make_service)
    ctx.login(town.coordinator)
    organisation = ctx.new_organisation()
    service = ctx.make_service(f"Dienst {ctx.unique()}", organisation="Jeugdfonds")
    for link in SCRIPT_LINKS:
        for path, data in (
                (f"/directory/organisations/{organisation}/edit",
                 {"name": f"Stichting {ctx.unique()}", "website": link}),
                (f"/directory/services/{service}/edit",
                 {"name": "Dienst", "description": "Hulp", "domains": ["food"],
                  "referral_route": "phone", "capacity": "open", "status": "active",
                  "url": link})):
            response = post_form(ctx.client, path, data)
            assert response.status_code == 200, (path, link, response.status_code)
            assert 'class="error-summary"' in response.text, (path, link)
    with app.app_context():
        session = db.session()
        assert session.get(Organisation, organisation).website is None
        assert session.get(Service, service).url is None
    for path in (f"/directory/organisations/{organisation}", f"/directory/services/{service}"):
        assert 'href="javascript' not in ctx.client.get(path).text.lower()
