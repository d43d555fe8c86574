"""Every object URL of every kind, opened by everyone who has no business there.

Each rule of `app.url_map` with parameters in its path is either in OBJECT_URLS (how to fill
its parameters from the world, who the rule lets in, what everyone else gets) or in PUBLIC
(with the reason it is public by design): a new URL that is in neither fails the coverage test.
QUERY_URLS adds the pages without parameters in their path that are about a family (its
reference posted, never in the query string).

Every outsider (a professional of another organisation, partners of organisations that are not
involved or only by letter, a bridge worker nobody asked, the coordinator and the privacy
officer where the rule denies them) gets, for a GET and for a POST with a valid CSRF token and
valid fields: exactly the app's plain error page (404 where even existence is private, 403
where the app says so), none of the world's secrets, one "denied" entry in the access log for
that very request and of the kind of access attempted, and no change in the database. A
logged-out visitor is sent to the login page.

The control: the insider of each URL, with the same fields, gets the page and changes the
data. So the URLs and forms here are the real ones, and a denial above is not that of a
wrong address or a form that would have been refused anyway.
"""

import re
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from types import SimpleNamespace
from urllib.parse import urlsplit

import pyotp
import pytest
import sqlalchemy as sa
from flask import url_for
from sqlmodel import select

from referral import create_app, db
from referral.auth.models import User
from referral.cases.models import Child, Consent, Family
from referral.cases.operations import correct_family, create_family
from referral.directory.models import Organisation, Service
from referral.feedback import operations as feedback_operations
from referral.monitor.operations import save_pledge
from referral.privacy import operations as privacy_operations
from referral.referrals import operations as referral_operations
from referral.referrals import queries as referral_queries
from referral.referrals.models import Referral
from tests.conftest import audit_entries, csrf_token, post_form, raw_connection
from tests.world import SECRET_MESSAGE, World, refer_again

NOTE = "Vader belt donderdag terug over de schuldhulp."
HANDOVER_NOTE = "Let op: moeder werkt in de nachtdienst."
PLEDGE_WHAT = "Veertig voedselpakketten extra rond de feestdagen"
# What no outsider may ever read (the objects add the address of an account).
PRIVATE = ("Zeynep", "Yilmaz", "Elif", "06-12345678", "honger", SECRET_MESSAGE, NOTE,
           HANDOVER_NOTE, PLEDGE_WHAT)

# Everyone of another organisation than the family's, and the roles without case access:
# "privacy" logged in with a password only, "officer" (a privacy officer too) also with a
# two-factor code, as the privacy pages demand.
OUTSIDERS = ("stranger", "partner", "other_partner", "letter_partner", "bridge", "coordinator",
             "privacy", "officer")
TOTP_KEY = pyotp.random_base32()

# What a refused request may write: the access log itself.
LOG_TABLES = {"audit_event", "audit_head", "audit_checkpoint", "alembic_version"}
CHANGES = {"create", "update", "delete"}  # how a refused POST is logged

CSRF = object()  # stands for the client's CSRF token in a form



# --- the objects -------------------------------------------------------------------------

@dataclass
class Objects:
    """The world, and one object of each kind the URLs point at."""

    world: World
    officer: object  # a privacy officer who logs in with a two-factor code
    receipt: uuid.UUID  # of another family, erased on request
    consent: uuid.UUID  # the family's consent for the Voedselbank
    draft: uuid.UUID  # a referral the owner has not sent yet
    handover: uuid.UUID  # of the letter referral, proposed to the colleague
    invite_token: str  # the family's feedback link
    voedselbank: uuid.UUID  # the inbox service's organisation
    jeugdfonds: uuid.UUID  # an organisation the family was not referred to
    sport_service: uuid.UUID  # its service
    follow_up: date  # the default follow-up date of a new referral
    colleague_name: str
    versions: dict = field(default_factory=dict)  # referral id -> version
    asked: object = None  # a bridge worker asked to accompany on the letter referral
    children: dict = field(default_factory=dict)  # the family's children: first name -> id

    def __getattr__(self, name):  # the world's ids and people, directly
        return getattr(self.__dict__["world"], name)

    def person(self, role):
        if role in ("officer", "asked"):
            return getattr(self, role)
        return getattr(self.world, role)

    def secrets(self):
        return (*PRIVATE, self.world.colleague.email)


def fake_objects():
    """Objects that are not in any database: enough to build and match the URLs."""
    people = [SimpleNamespace(id=uuid.uuid4(), email=f"{n}@example.org") for n in range(10)]
    world = World(*people[:9], *(uuid.uuid4() for _ in range(6)))
    return Objects(world, people[9], *(uuid.uuid4() for _ in range(3)), uuid.uuid4(), "token",
                   *(uuid.uuid4() for _ in range(3)), date.today(), "Test Persoon",
                   defaultdict(lambda: 1))


def current_versions(app, objects):
    """The referrals' versions now: a step's form carries the version it was shown with."""
    with app.app_context():
        objects.versions = dict(db.session().exec(select(Referral.id, Referral.version)).all())


def make_objects(app, world, make_user):
    officer = make_user("privacy_officer", organisation="Alliantie", totp_secret=TOTP_KEY)
    asked = make_user("bridge", organisation="Ervaringsdeskundigen")
    draft = refer_again(app, world, world.inbox_service, send=False)
    with app.app_context():
        session = db.session()
        other = create_family(session.get(User, world.stranger.id), parent_names="Anna de Vries",
                              children=[("Noor", date(2015, 5, 1))])
        receipt = privacy_operations.erase(session.get(User, officer.id), other).id
        owner = session.get(User, world.owner.id)
        family = session.get(Family, world.family_id)
        inbox, letter = (session.get(Referral, world.inbox_referral),
                         session.get(Referral, world.letter_referral))
        referral_operations.add_note(owner, inbox, NOTE)
        handover = referral_operations.propose_handover(
            owner, letter, session.get(User, world.colleague.id), HANDOVER_NOTE)
        referral_operations.assign_bridge(owner, letter, session.get(User, asked.id),
                                          family_agreed=True)
        _invitation, token = feedback_operations.invite(owner, family, referral=inbox,
                                                       language="nl")
        [elif_] = session.exec(select(Child).where(Child.family_id == family.id)).all()
        correct_family(owner, family, parent_names=family.parent_names, phone=family.phone,
                       email=None, street=None, house_number=None, postcode=None,
                       municipality_code=family.municipality_code, language="nl",
                       children=[(elif_.id, "Elif", elif_.birth_date),
                                 (None, "Daan", date(2020, 6, 1))])
        children = {c.first_name: c.id for c in session.exec(
            select(Child).where(Child.family_id == family.id))}
        service = session.get(Service, world.inbox_service)
        service.assured_date = date(2020, 1, 1)  # so that checking it again is a change
        session.add(service)
        save_pledge(session.get(User, world.partner.id),
                    activities=[{"what": PLEDGE_WHAT, "for_whom": "gezinnen", "target": "40",
                                 "due": date(date.today().year, 12, 31)}])
        jeugdfonds = session.exec(select(Organisation.id).where(
            Organisation.name == "Jeugdfonds")).one()
        sport = session.exec(select(Service.id).where(Service.name == "Sportfonds")).one()
        consent = session.exec(select(Consent.id).where(
            Consent.family_id == world.family_id,
            Consent.organisation_id == service.organisation_id)).one()
        db.commit()
        objects = Objects(
            world, officer, receipt, consent, draft, handover.id, token,
            service.organisation_id, jeugdfonds, sport, referral_queries.default_follow_up(),
            session.get(User, world.colleague.id).name,
            {r.id: r.version for r in session.exec(select(Referral)).all()}, asked, children)
    return objects


# --- the table ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Case:
    """One URL of an endpoint: its parameters, who the rule lets in, what everyone else
    gets."""

    params: Callable[[Objects], dict]
    insider: str  # a role the rule lets in: the control opens the URL as them
    may: frozenset = frozenset()  # the OUTSIDERS the rule lets in all the same
    denied: int = 404  # 404: even existence is private; 403: the app says "not for you"
    two_factor: bool = False  # the privacy officer without a two-factor code gets a 403 page
    about_family: bool = True  # a denial names the world's family in the access log
    form: Callable[[Objects], dict] | None = None  # valid fields for a POST
    query: Callable[[Objects], dict] = lambda o: {}
    label: str = ""
    shows: Callable[[Objects], tuple] = lambda o: ()  # what the insider's GET shows
    # A search sent as a POST (what is typed is personal): it changes nothing but the access
    # log, and its answer shows these.
    finds: Callable[[Objects], tuple] | None = None


def _family(o):
    return {"family_id": o.family_id}


def _referral(name):
    return lambda o: {"referral_id": getattr(o, name)}


def _status(name, target):
    return lambda o: {"referral_id": getattr(o, name), "target": target}


def _status_form(name, target, **fields):
    """The fields of one step's form on the referral page (each step has a prefix)."""
    return lambda o: {f"{target}-csrf_token": CSRF,
                      f"{target}-version": str(o.versions[getattr(o, name)]),
                      **{f"{target}-{k}": v for k, v in fields.items()}}


def _service_form(name):
    return lambda o: {
        "name": name, "description": "Voedselpakketten voor gezinnen met een krap budget.",
        "domains": "food", "areas": "GM0363 Amsterdam", "referral_route": "inbox",
        "capacity": "open", "status": "active", "languages": "nl"}


PARTNER = frozenset({"partner"})  # staff of the Voedselbank, which has the inbox referral
COORDINATOR = frozenset({"coordinator"})
OFFICER = frozenset({"officer"})
EDITS_SERVICE = PARTNER | COORDINATOR  # the Voedselbank's own directory entries
DIRECTORY = {"denied": 403, "about_family": False}

OBJECT_URLS = {
    # --- a family and what hangs from it: only the professional who works on it ---------
    "cases.family": [Case(_family, "owner", shows=lambda o: ("Zeynep Yilmaz", "Elif"))],
    "cases.edit": [Case(_family, "owner", form=lambda o: {
        "parent_names": "Zeynep Yilmaz-Demir", "phone": "06-12345678", "language": "nl",
        "municipality": "GM0363", "children-0-ref": str(o.children["Daan"]),
        "children-0-first_name": "Daan", "children-0-birth_date": "2020-06-01",
        "children-1-ref": str(o.children["Elif"]), "children-1-first_name": "Elif",
        "children-1-birth_date": "2017-03-01"}, shows=lambda o: ("Zeynep Yilmaz", "Elif"))],
    "cases.remove_child": [Case(
        lambda o: {"family_id": o.family_id, "child_id": o.children.get("Daan", o.consent)},
        "owner", form=lambda o: {"confirm": "y"}, shows=lambda o: ("Daan",))],
    "cases.new_signal": [Case(_family, "owner", form=lambda o: {
        "domains": "food", "observations": "Geen winterjas.", "source": "observation",
        "urgency": "normal"})],
    "cases.new_consent": [Case(_family, "owner", form=lambda o: {
        "organisation": str(o.jeugdfonds), "scope": "naam en telefoon", "child": "",
        "parent_agreed": "y", "given_by": "Zeynep Yilmaz", "method": "spoken",
        "given_on": date.today().isoformat()})],
    "cases.withdraw_consent": [Case(
        lambda o: {"family_id": o.family_id, "consent_id": o.consent}, "owner",
        form=lambda o: {"confirm": "y"}, shows=lambda o: ("Voedselbank",))],
    "feedback.invite": [
        Case(_family, "owner", form=lambda o: {"whom": "parent", "language": "nl"}),
        Case(_family, "owner", label="about a referral",
             query=lambda o: {"referral": str(o.inbox_referral)},
             form=lambda o: {"whom": "parent", "language": "nl"}),
    ],
    "referrals.new": [Case(lambda o: {"signal_id": o.signal_id}, "owner", form=lambda o: {
        "services": str(o.sport_service), "message": "Graag contact over sport.",
        "follow_up_on": o.follow_up.isoformat(), "form_token": str(uuid.uuid4()),
        "send": "y"}, shows=lambda o: ("Zeynep Yilmaz",))],
    # --- referrals: the owner; the partner of an inbox referral; an asked bridge worker ---
    "referrals.show": [
        Case(_referral("inbox_referral"), "partner", may=PARTNER, label="inbox",
             shows=lambda o: (SECRET_MESSAGE, NOTE)),
        Case(_referral("letter_referral"), "owner", label="letter",
             shows=lambda o: (SECRET_MESSAGE,)),
        Case(_referral("draft"), "owner", label="draft", shows=lambda o: (SECRET_MESSAGE,)),
    ],
    "referrals.letter": [Case(_referral("letter_referral"), "owner",
                              shows=lambda o: ("Zeynep Yilmaz", SECRET_MESSAGE))],
    # Before the steps below, which cancel the inbox referral and send the draft.
    "referrals.follow_up": [Case(_referral("inbox_referral"), "owner", form=lambda o: {
        "follow_up_on": (o.follow_up + timedelta(days=7)).isoformat()})],
    "referrals.edit": [Case(_referral("draft"), "owner", form=lambda o: {
        "service": str(o.inbox_service), "message": "Graag bellen na drie uur.",
        "follow_up_on": o.follow_up.isoformat(), "version": "1"},
        shows=lambda o: (SECRET_MESSAGE,))],
    "referrals.add_note": [
        Case(_referral("inbox_referral"), "partner", may=PARTNER, label="inbox",
             form=lambda o: {"text": "Pakket staat klaar."}),
        Case(_referral("letter_referral"), "owner", label="letter",
             form=lambda o: {"text": "Leergeld belt terug."}),
    ],
    "referrals.change_status": [
        Case(_status("inbox_referral", "accepted"), "partner", may=PARTNER,
             label="inbox accepted", form=_status_form("inbox_referral", "accepted")),
        Case(_status("inbox_referral", "cancelled"), "owner", may=PARTNER,
             label="inbox cancelled",
             form=_status_form("inbox_referral", "cancelled", reason="Verhuisd.",
                               confirm="y")),
        Case(_status("letter_referral", "accepted"), "owner", label="letter accepted",
             form=_status_form("letter_referral", "accepted")),
        Case(_status("draft", "requested"), "owner", label="draft requested",
             form=_status_form("draft", "requested")),
    ],
    "referrals.handover": [Case(_referral("inbox_referral"), "owner", form=lambda o: {
        "colleague": str(o.colleague.id), "note": "Neem jij dit over?"})],
    "referrals.bridge": [Case(_referral("inbox_referral"), "owner", form=lambda o: {
        "bridge": str(o.bridge.id), "family_agreed": "y"})],
    "referrals.decide": [Case(lambda o: {"handover_id": o.handover}, "colleague",
                              form=lambda o: {"accept": "y"})],
    "referrals.answer_bridge": [Case(_referral("letter_referral"), "asked",
                                     form=lambda o: {"accept": "1"})],
    # --- the privacy officer's pages about a family: only after a two-factor login -------
    "privacy.family": [Case(_family, "officer", may=OFFICER, two_factor=True,
                            shows=lambda o: ("Zeynep Yilmaz", SECRET_MESSAGE))],
    "privacy.family_json": [Case(_family, "officer", may=OFFICER, two_factor=True,
                                 shows=lambda o: ("Zeynep Yilmaz", SECRET_MESSAGE))],
    "privacy.erase": [Case(_family, "officer", may=OFFICER, two_factor=True,
                           form=lambda o: {"confirm": "y"})],
    "privacy.receipt": [Case(lambda o: {"receipt_id": o.receipt}, "officer", may=OFFICER,
                             two_factor=True, about_family=False)],
    # --- the directory: its pages are for every user, its edit pages are not -------------
    "directory.assure": [Case(lambda o: {"service_id": o.inbox_service}, "partner",
                              may=EDITS_SERVICE, form=lambda o: {}, **DIRECTORY)],
    "directory.edit_service": [Case(lambda o: {"service_id": o.inbox_service}, "partner",
                                    may=EDITS_SERVICE, form=_service_form("Voedselpakket+"),
                                    **DIRECTORY)],
    "directory.new_service": [Case(lambda o: {"organisation_id": o.voedselbank}, "partner",
                                   may=EDITS_SERVICE, form=_service_form("Kerstpakket"),
                                   **DIRECTORY)],
    "directory.edit_organisation": [Case(
        lambda o: {"organisation_id": o.voedselbank}, "coordinator", may=COORDINATOR,
        form=lambda o: {"name": "Voedselbank Oost", "description": "Voedselpakketten."},
        **DIRECTORY)],
    "directory.deactivate_organisation": [Case(
        lambda o: {"organisation_id": o.voedselbank}, "coordinator", may=COORDINATOR,
        form=lambda o: {"confirm": "y"}, **DIRECTORY)],
    "directory.merge_organisation": [Case(
        lambda o: {"organisation_id": o.voedselbank}, "coordinator", may=COORDINATOR,
        form=lambda o: {"into": str(o.jeugdfonds), "confirm": "y"}, **DIRECTORY)],
    # --- an organisation's pledge, an account ---------------------------------------------
    "monitor.pledge": [Case(lambda o: {"organisation_id": o.voedselbank}, "coordinator",
                            may=COORDINATOR, shows=lambda o: (PLEDGE_WHAT,), **DIRECTORY)],
    # An account's page and its forms, in the order the coordinator's posts run: training
    # while a professional, a reset while active, then another role, deactivated, back.
    "auth.user": [Case(lambda o: {"user_id": o.colleague.id}, "coordinator", may=COORDINATOR,
                       shows=lambda o: (o.colleague_name,), **DIRECTORY)],
    "auth.training": [Case(lambda o: {"user_id": o.colleague.id}, "coordinator",
                           may=COORDINATOR, form=lambda o: {
                               "training-trained_on": "2026-01-05",
                               "training-kind": "refresher"}, **DIRECTORY)],
    "auth.start_reset": [Case(lambda o: {"user_id": o.colleague.id}, "coordinator",
                              may=COORDINATOR, form=lambda o: {}, **DIRECTORY)],
    "auth.change_role": [Case(lambda o: {"user_id": o.colleague.id}, "coordinator",
                              may=COORDINATOR, form=lambda o: {
                                  "change-role": "bridge", "change-organisation": ""},
                              **DIRECTORY)],
    "auth.deactivate": [Case(lambda o: {"user_id": o.colleague.id}, "coordinator",
                             may=COORDINATOR, form=lambda o: {"confirm": "y"},
                             shows=lambda o: (o.colleague_name,), **DIRECTORY)],
    "auth.reactivate": [Case(lambda o: {"user_id": o.colleague.id}, "coordinator",
                             may=COORDINATOR, form=lambda o: {}, **DIRECTORY)],
}

# Pages without parameters in the path that take a family in a posted form.
QUERY_URLS = {
    "privacy.log": [Case(lambda o: {}, "officer", may=OFFICER, two_factor=True,
                         about_family=False, label="of the family",
                         form=lambda o: {"family": str(o.family_id)},
                         finds=lambda o: (f"{str(o.family_id)[:8]}…",))],
    "privacy.find": [Case(lambda o: {}, "officer", may=OFFICER, two_factor=True,
                          about_family=False, label="the family",
                          form=lambda o: {"reference": str(o.family_id)},
                          finds=lambda o: ("Zeynep Yilmaz",))],
}

PUBLIC = {
    "static": "style sheets: the same files for everyone, no data",
    **{f"hsds_api.{name}": "the HSDS API: the public directory, active services only, no "
                           "contacts or change notes (tests/directory/test_hsds_api.py)"
       for name in ("service", "organization", "taxonomy", "taxonomy_term",
                    "service_at_location")},
    "directory.service": "the directory holds no personal data: every user reads every service",
    "directory.organisation": "the directory holds no personal data: every user reads every "
                              "organisation and its services",
    "auth.open_link": "a mailed link to choose a password: the random token is the key, no "
                      "login by design (an unknown token gets the 'does not work' page)",
    "feedback.open_link": "the family's one-time feedback link: the random token is the key, "
                          "no login by design (checked for leaks below all the same)",
}

ALL_URLS = {**OBJECT_URLS, **QUERY_URLS}
INSIDERS = sorted({case.insider for cases in ALL_URLS.values() for case in cases})
# The insider's POSTs that change the world most go last, in this order.
LAST = ("cases.remove_child", "cases.withdraw_consent", "directory.deactivate_organisation",
        "directory.merge_organisation", "privacy.erase")


def _rules(app, *, with_arguments=True):
    rules = {}
    for rule in app.url_map.iter_rules():
        if rule.arguments or not with_arguments:
            rules.setdefault(rule.endpoint, []).append(rule)
    return rules


def _methods(app, endpoint):
    return set().union(*(r.methods for r in _rules(app, with_arguments=False)[endpoint])) \
        & {"GET", "POST"}


def _requests(app):
    """(endpoint, case, method) for every case and every method its rule takes."""
    for endpoint, cases in ALL_URLS.items():
        methods = _methods(app, endpoint)
        for case in cases:
            for method in ("GET", "POST"):
                if method in methods:
                    yield endpoint, case, method


def _name(endpoint, case, method):
    return f"{method} {endpoint}{f' ({case.label})' if case.label else ''}"


def _url(app, endpoint, case, objects):
    with app.test_request_context():
        return url_for(endpoint, **case.params(objects), **case.query(objects))


def _form(case, objects, token):
    fields = case.form(objects) if case.form else {}
    return {"csrf_token": token, **{k: token if v is CSRF else v for k, v in fields.items()}}


def browser(app, person):
    """A client of its own, logged in as this person (with a code where they have one)."""
    client = app.test_client()
    response = post_form(client, "/login", {"email": person.email,
                                            "password": person.password})
    if response.headers.get("Location") == "/login/code":
        response = post_form(client, "/login/code", {"code": pyotp.TOTP(TOTP_KEY).now()})
    assert response.headers.get("Location") == "/", f"{person.email} cannot log in"
    return client


def _tables(app):
    with raw_connection(app) as conn:
        return sorted(set(sa.inspect(conn).get_table_names()) - LOG_TABLES)


def snapshot(app, tables):
    """Every row of every table but the access log."""
    with raw_connection(app) as conn:
        return {name: sorted(repr(tuple(row)) for row in conn.execute(
            sa.text(f'SELECT * FROM "{name}"'))) for name in tables}


def _changed(before, after):
    return sorted(name for name in before if before[name] != after[name])


def _normalised(response, url):
    """A page without what differs by request: its address, number and CSRF tokens."""
    text = response.get_data(as_text=True).replace(url, "<path>")
    text = text.replace(response.headers.get("X-Request-Id") or "<none>", "<number>")
    return re.sub(r'(name="csrf_token"[^>]*value=")[^"]+', r"\1<token>", text)


def _leaks(objects, response):
    text = response.get_data(as_text=True)
    return [secret for secret in objects.secrets() if secret in text]


# --- coverage ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def routes(tmp_path_factory):
    """The app only for its URL map: no database, no world."""
    instance = tmp_path_factory.mktemp("routes")
    app = create_app({"TESTING": True, "INSTANCE_PATH": str(instance), "ENV": "testing",
                      "DATABASE_URL": f"sqlite:///{instance / 'unused.sqlite'}",
                      "SECRET_KEY": "test-secret"})
    yield app
    app.extensions["referral.engine"].dispose()


def test_every_url_with_parameters_is_checked_or_public_by_design(routes):
    app = routes
    rules = _rules(app)
    unlisted = sorted(set(rules) - OBJECT_URLS.keys() - PUBLIC.keys())
    assert not unlisted, (
        f"URLs with parameters that this file does not check: {unlisted}. Add each to "
        "OBJECT_URLS (who may, what everyone else gets) or, with a reason, to PUBLIC.")
    gone = sorted((OBJECT_URLS.keys() | PUBLIC.keys()) - set(rules))
    assert not gone, f"listed here but no longer an endpoint with parameters: {gone}"
    missing = sorted(QUERY_URLS.keys() - _rules(app, with_arguments=False).keys())
    assert not missing, f"listed here but no longer in the app: {missing}"
    assert not OBJECT_URLS.keys() & PUBLIC.keys()
    assert all(reason.strip() for reason in PUBLIC.values())


def test_every_rule_and_method_of_a_listed_endpoint_is_exercised(routes):
    app, objects = routes, fake_objects()
    adapter = app.url_map.bind("localhost")
    problems = []
    for endpoint, cases in OBJECT_URLS.items():
        for rule in _rules(app)[endpoint]:
            if not any(set(c.params(objects)) == rule.arguments for c in cases):
                problems.append(f"{endpoint}: no case fills {rule.rule}")
    for endpoint, cases in ALL_URLS.items():
        methods = _methods(app, endpoint)
        if not methods:
            problems.append(f"{endpoint} takes neither GET nor POST")
        for case in cases:
            if "POST" in methods and case.form is None:
                problems.append(f"{endpoint}: no fields for its POST")
            if case.insider in OUTSIDERS and case.insider not in case.may:
                problems.append(f"{endpoint}: the insider {case.insider} is not in `may`")
            path = urlsplit(_url(app, endpoint, case, objects)).path
            for method in methods:
                matched, _arguments = adapter.match(path, method=method)
                if matched != endpoint:
                    problems.append(f"{_name(endpoint, case, method)}: {path} is {matched}")
    assert not problems, "\n".join(problems)


# --- the control: the insider gets the page, and their POST changes something ------------

@pytest.mark.parametrize("insider", INSIDERS)
def test_the_insider_gets_the_page_and_their_post_changes_something(app, world, make_user,
                                                                    insider):
    objects = make_objects(app, world, make_user)
    client = browser(app, objects.person(insider))
    token = csrf_token(client, "/account")
    tables = _tables(app)
    mine = [(endpoint, case) for endpoint, cases in ALL_URLS.items() for case in cases
            if case.insider == insider]
    failures = []
    for endpoint, case in mine:  # first every page, while the world is as it was made
        if "GET" in _methods(app, endpoint):
            name = _name(endpoint, case, "GET")
            response = client.get(_url(app, endpoint, case, objects))
            if response.status_code != 200:
                failures.append(f"{name}: {response.status_code}, not 200")
            missing = [shown for shown in case.shows(objects) if shown not in response.text]
            if missing:
                failures.append(f"{name}: does not show {missing}")
    posts = sorted(((e, c) for e, c in mine if "POST" in _methods(app, e)),
                   key=lambda item: LAST.index(item[0]) + 1 if item[0] in LAST else 0)
    for endpoint, case in posts:
        name = _name(endpoint, case, "POST")
        current_versions(app, objects)
        before = snapshot(app, tables)
        try:
            response = client.post(_url(app, endpoint, case, objects),
                                   data=_form(case, objects, token))
        except Exception as exc:  # the test client hands on what would be a 500
            failures.append(f"{name}: {type(exc).__name__}: {exc}".splitlines()[0])
            continue
        if response.status_code >= 400:
            failures.append(f"{name}: {response.status_code}")
        elif case.finds is not None:
            missing = [found for found in case.finds(objects) if found not in response.text]
            if missing or _changed(before, snapshot(app, tables)):
                failures.append(f"{name}: does not find {missing}, or changed something")
        elif not _changed(before, snapshot(app, tables)):
            failures.append(f"{name}: changed nothing")
    assert mine
    assert not failures, f"as {insider}:\n" + "\n".join(failures)


# --- the outsiders -----------------------------------------------------------------------

@pytest.mark.parametrize("role", OUTSIDERS)
def test_an_outsider_gets_the_error_page_nothing_else_and_is_logged(app, world, make_user,
                                                                   role):
    objects = make_objects(app, world, make_user)
    person = objects.person(role)
    client = browser(app, person)
    token = csrf_token(client, "/account")
    tables = _tables(app)

    def denial(case):
        """The expected status, and the reference page the answer must look like."""
        if case.two_factor and role == "privacy":
            return 403, "two-factor"
        return case.denied, case.denied

    # The app's own answer for an object that does not exist, for a page that is not for
    # you, and the privacy page that asks for a two-factor login first.
    references = {404: f"/referrals/{uuid.uuid4()}", 403: f"/users/{uuid.uuid4()}/deactivate",
                  "two-factor": f"/privacy/families/{uuid.uuid4()}"}
    expected = {}
    for reference in {denial(c)[1] for cases in ALL_URLS.values() for c in cases
                      if role not in c.may}:
        response = client.get(references[reference])
        assert response.status_code == (403 if reference == "two-factor" else reference)
        expected[reference] = _normalised(response, references[reference])

    failures, checked = [], 0
    denials = len(audit_entries(app, outcome="denied"))
    before = snapshot(app, tables)
    for endpoint, case, method in _requests(app):
        if role in case.may:
            continue
        checked += 1
        name = _name(endpoint, case, method)
        url = _url(app, endpoint, case, objects)
        if method == "POST":
            response = client.post(url, data=_form(case, objects, token))
            after = snapshot(app, tables)
            changed = _changed(before, after)
            if changed:  # (or a GET since the POST before it)
                failures.append(f"{name}: the POST changed {changed}")
            before = after
        else:
            response = client.get(url)
        code, reference = denial(case)
        if response.status_code != code:
            failures.append(f"{name}: {response.status_code}, not {code}")
        elif _normalised(response, url) != expected[reference]:
            failures.append(f"{name}: not the plain {reference} page")
        leaked = _leaks(objects, response)
        if leaked:
            failures.append(f"{name}: shows {leaked}")
        entries = audit_entries(app, outcome="denied")
        new, denials = entries[denials:], len(entries)
        if len(new) != 1:
            failures.append(f"{name}: {len(new)} denied entries in the access log, not 1")
            continue
        [entry] = new
        if (entry.user_id, entry.request_id) != (person.id, response.headers["X-Request-Id"]):
            failures.append(f"{name}: the denied entry is not of this request")
        if method == "GET" and entry.action != "read":
            failures.append(f"{name}: the denial is logged as {entry.action!r}, not 'read'")
        if method == "POST" and entry.action not in CHANGES:
            failures.append(f"{name}: the attempted change is logged as {entry.action!r}")
        if case.about_family and entry.family_id != objects.family_id:
            failures.append(f"{name}: the denied entry does not name the family")
    changed = _changed(before, snapshot(app, tables))
    if changed:
        failures.append(f"the GETs after the last POST changed {changed}")
    assert checked >= 10
    assert not failures, f"as {role}:\n" + "\n".join(failures)


def test_a_logged_out_visitor_is_sent_to_the_login_page(app, world, make_user):
    objects = make_objects(app, world, make_user)
    client = app.test_client()
    token = csrf_token(client, "/login")
    tables = _tables(app)
    before = snapshot(app, tables)
    failures, checked = [], 0
    for endpoint, case, method in _requests(app):
        checked += 1
        name = _name(endpoint, case, method)
        url = _url(app, endpoint, case, objects)
        if method == "POST":
            response = client.post(url, data=_form(case, objects, token))
        else:
            response = client.get(url)
        after = snapshot(app, tables)
        changed = _changed(before, after)
        if changed:
            failures.append(f"{name}: changed {changed}")
        before = after
        if response.status_code == 302:
            if urlsplit(response.headers["Location"]).path != "/login":
                failures.append(f"{name}: sent to {response.headers['Location']}")
        elif response.status_code != 404:
            failures.append(f"{name}: {response.status_code}, not the login page or 404")
        leaked = _leaks(objects, response)
        if leaked:
            failures.append(f"{name}: shows {leaked}")
    assert checked >= 20
    assert not failures, "logged out:\n" + "\n".join(failures)

    # Public by design, and still nothing private: the family's own feedback link.
    response = client.get(f"/f/{objects.invite_token}", follow_redirects=True)
    assert response.status_code == 200
    assert urlsplit(response.request.url).path == "/f/"
    assert not _leaks(objects, response)
