"""The one table of every POST rule of the app (FORMS): how to get a session that may post
it, and a form that would otherwise be accepted; with helpers to read the whole database. The
CSRF, fuzzing and injection tests all use it, and a POST rule missing from it fails
test_csrf.py's `test_every_post_rule_is_in_the_table`."""

import itertools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta

import pyotp
from sqlmodel import SQLModel, select

from referral import db, policy
from referral.auth.models import User
from referral.cases.models import Family
from referral.cases.operations import create_family, log_signal, record_consent
from referral.cases.queries import children_of
from referral.directory.models import Organisation, Service
from referral.directory.operations import create_organisation
from referral.feedback import operations as feedback_operations
from referral.monitor.operations import save_pledge
from referral.referrals.models import Referral
from referral.referrals.operations import assign_bridge, propose_handover, refer
from tests.conftest import post_form, raw_connection
from tests.world import World

NUMBERS = itertools.count(1)  # unique names across every Ctx of a test



# --- the session a form is posted in ------------------------------------------------------

@dataclass
class Ctx:
    """One test's app, world and browser, with helpers to set up who is posting."""

    app: object
    world: World
    client: object
    make_user: Callable
    make_service: Callable
    last_step: dict = field(default_factory=dict)

    def unique(self):
        return next(NUMBERS)

    def login(self, person):
        self.client.delete_cookie("referral_session")
        response = post_form(self.client, "/login",
                             {"email": person.email, "password": person.password})
        assert response.status_code == 303, f"login of {person.email} failed"
        return response

    def code(self, secret):
        """A fresh two-factor code: the current one, or the next if that was used (a code
        is accepted one time step early or late)."""
        totp = pyotp.TOTP(secret)
        now = int(time.time() // totp.interval)
        step = max(now, self.last_step.get(secret, now - 1) + 1)
        assert step <= now + 1, "more than three two-factor logins in 30 seconds"
        self.last_step[secret] = step
        return totp.generate_otp(step)

    def login_two_factor(self, role="privacy_officer", **kwargs):
        """A new account with two-factor login, logged in with a code (a full session)."""
        secret = pyotp.random_base32()
        person = self.make_user(role, totp_secret=secret, **kwargs)
        self.login(person)
        done = post_form(self.client, "/login/code", {"code": self.code(secret)})
        assert done.status_code == 303 and done.headers["Location"] == "/", "2FA login failed"
        return person

    def run(self, function, *args, **kwargs):
        """Call a service function in an app context and commit; return its result."""
        with self.app.app_context():
            result = function(*args, **kwargs)
            db.commit()
            return result

    def get(self, model, key):
        with self.app.app_context():
            return db.session().get(model, key)

    def organisation_id(self, name):
        with self.app.app_context():
            return db.session().exec(select(Organisation.id).where(
                Organisation.name == name)).one()

    def new_organisation(self, name=None):
        name = name or f"Stichting Wegwerp {self.unique()}"

        def make():
            return create_organisation(policy.COMMAND_LINE, name=name).id
        return self.run(make)

    def new_family(self):
        def make():
            owner = db.session().get(User, self.world.owner.id)
            return create_family(owner, parent_names=f"Gezin {self.unique()}",
                                 children=[("Sam", date(2015, 6, 1))],
                                 municipality_code="GM0363").id
        return self.run(make)

    def invitation(self, child=False):
        """A feedback link for the world's family (the parent, or the child)."""
        def make():
            session = db.session()
            family = session.get(Family, self.world.family_id)
            kid = children_of([family.id])[family.id][0] if child else None
            _invitation, token = feedback_operations.invite(
                session.get(User, self.world.owner.id), family, child=kid,
                referral=session.get(Referral, self.world.inbox_referral))
            return token
        return f"/f/{self.run(make)}"


@dataclass
class Form:
    """A post that would be accepted: where to, what, and the page that shows the form."""

    url: str
    data: dict
    page: str
    token_field: str = "csrf_token"
    # Something outside the database the post changes (a session's language, say).
    probe: Callable | None = None


@dataclass
class Text:
    """A text field's length limit, and how to make a valid value of a given length (None:
    the field only takes one value, such as an existing email address)."""

    limit: int
    make: Callable | None = lambda n: "x" * n


def email_of(n):
    return "x" * (n - 5) + "@x.nl"


def account_email_of(n):
    """An account's address of n characters: at most 64 before the @, as mail servers take."""
    return "x" * 64 + "@" + "y" * (n - 68) + ".nl"


def url_of(n):
    return "https://x.nl/" + "x" * (n - 13)


def languages_of(n):
    return ("nl," * (n // 3)).ljust(n)  # spaces around the codes do not count


def areas_of(n):
    return ("GM0363 Amsterdam\n" * (n // 17)).ljust(n, "\n")  # empty lines are skipped


@dataclass
class Case:
    endpoint: str
    rule: str
    prepare: Callable  # Ctx -> Form, after logging in whoever posts it
    texts: dict = field(default_factory=dict)  # field name -> Text
    changes_database: bool = True
    shows_errors: bool = True  # a refused form comes back with its errors
    name: str = ""

    @property
    def id(self):
        return self.name or self.endpoint


# --- the forms ----------------------------------------------------------------------------

def _login(ctx):
    return Form("/login", {"email": ctx.world.owner.email, "password": ctx.world.owner.password,
                           "next": "/"}, page="/login")


def _two_factor(ctx):
    secret = pyotp.random_base32()
    person = ctx.make_user("professional", totp_secret=secret, organisation="JGZ Noord")
    ctx.login(person)  # the password: now a code is owed
    return Form("/login/code", {"code": ctx.code(secret)}, page="/login/code")


def _enrol_at_login(ctx):
    """Two-factor login is required and this account has none yet: it enrols on logging in."""
    person = ctx.make_user("professional", organisation="JGZ Noord")
    ctx.app.config["REQUIRE_2FA"] = True
    try:
        assert post_form(ctx.client, "/login", {"email": person.email,
                                                "password": person.password}
                         ).headers["Location"] == "/login/enrol"
    finally:
        ctx.app.config["REQUIRE_2FA"] = False  # only for this login
    return _enrol_form(ctx)


def _enrol(ctx):
    """From the account page, logged in already."""
    ctx.login(ctx.world.colleague)
    return _enrol_form(ctx)


def _enrol_form(ctx):
    page = ctx.client.get("/login/enrol").text
    secret = page.split('class="secret">')[1].split("<")[0]
    return Form("/login/enrol", {"code": ctx.code(secret)}, page="/login/enrol")


def _logout(ctx):
    ctx.login(ctx.make_user("professional", organisation="JGZ Noord"))
    return Form("/logout", {}, page="/")


def _password(ctx):
    ctx.login(ctx.make_user("professional", organisation="JGZ Noord"))
    new = "een heel andere zin als wachtwoord"
    return Form("/account/password", {"current": ctx.world.owner.password, "new": new,
                                      "confirm": new}, page="/account/password")


def _deactivate_user(ctx):
    ctx.login(ctx.world.coordinator)
    person = ctx.make_user("partner", organisation="Jeugdfonds")
    url = f"/users/{person.id}/deactivate"
    return Form(url, {"confirm": "y"}, page=url)


def _users_search(ctx):
    ctx.login(ctx.world.coordinator)

    def searching(client=ctx.client):  # the search is held by the session, not the address
        return 'value="Test Persoon"' in client.get("/users?search=y").text
    return Form("/users", {"text": "Test Persoon"}, page="/users", probe=searching)


def _invite_user(ctx):
    ctx.login(ctx.world.coordinator)
    n = ctx.unique()
    return Form("/users/new", {"name": f"Nieuwe Collega {n}", "email": f"nieuw{n}@example.org",
                               "role": "bridge", "organisation": "", "language": "nl"},
                page="/users/new")


def _account_form(ctx, action, data, role="bridge", **kwargs):
    ctx.login(ctx.world.coordinator)
    person = ctx.make_user(role, organisation="Jeugdfonds", **kwargs)
    return Form(f"/users/{person.id}/{action}", data, page=f"/users/{person.id}")


def _change_role(ctx):
    return _account_form(ctx, "role", {"change-role": "professional", "change-organisation": ""})


def _record_training(ctx):
    return _account_form(ctx, "training", {"training-trained_on": "2026-01-05",
                                           "training-kind": "course"},
                         role="professional", trained_on=None)


def _start_reset(ctx):
    return _account_form(ctx, "reset", {})


def _reactivate(ctx):
    return _account_form(ctx, "reactivate", {}, active=False)


def _forgot(ctx):
    ctx.client.delete_cookie("referral_session")
    ctx.app.config.update(RESET_ANSWER_SECONDS=0, RESET_MAX_ACCOUNT=1000,
                          RESET_MAX_ADDRESS=1000)
    return Form("/login/forgot", {"email": ctx.world.owner.email}, page="/login/forgot")


def _choose_password(ctx):
    from referral.auth.operations import start_reset

    person = ctx.make_user("professional", organisation="JGZ Noord")
    token = ctx.run(start_reset, policy.COMMAND_LINE, ctx.get(User, person.id))
    assert ctx.client.get(f"/account/link/{token}").status_code == 303
    new = "een heel andere zin als wachtwoord"
    return Form("/account/link", {"new": new, "confirm": new}, page="/account/link")


def _language(ctx):
    ctx.login(ctx.world.owner)
    return Form("/language", {"language": "en", "next": "/"}, page="/")


FAMILY = {"parent_names": "Ouder Jansen", "phone": "06-11112222", "email": "ouder@example.org",
          "street": "Dorpsstraat", "house_number": "7", "postcode": "1234 AB",
          "municipality": "GM0363", "language": "nl", "children-0-first_name": "Noor",
          "children-0-birth_date": "2016-05-05", "confirm_new": "y"}
FAMILY_TEXTS = {"parent_names": Text(200), "phone": Text(40), "email": Text(254, email_of),
                "street": Text(120), "house_number": Text(12),
                "children-0-first_name": Text(80)}


def _new_family(ctx):
    ctx.login(ctx.world.owner)
    return Form("/families/new", dict(FAMILY), page="/families/new")


def _search_families(ctx):
    ctx.login(ctx.world.owner)

    def searched(client=ctx.client):
        return "bij “Yilmaz”" in client.get("/families/").text
    return Form("/families/", {"text": "Yilmaz", "search": "Zoeken"}, page="/families/",
                probe=searched)


def _correct_family(ctx):
    ctx.login(ctx.world.owner)
    url = f"/families/{ctx.world.family_id}/edit"
    [child_id] = ctx.run(lambda: [child.id for child in children_of(
        [ctx.world.family_id])[ctx.world.family_id]])
    data = {**FAMILY, "children-0-ref": str(child_id), "children-0-first_name": "Elif Sara",
            "children-0-birth_date": "2017-03-01"}
    del data["confirm_new"]
    return Form(url, data, page=url)


def _remove_child(ctx):
    ctx.login(ctx.world.owner)

    def make():
        family = create_family(db.session().get(User, ctx.world.owner.id),
                               parent_names="Fam. Twee", children=[
                                   ("Sem", date(2015, 1, 1)), ("Lot", date(2016, 1, 1))])
        return family.id, children_of([family.id])[family.id][0].id
    family_id, child_id = ctx.run(make)
    url = f"/families/{family_id}/children/{child_id}/remove"
    return Form(url, {"confirm": "y"}, page=url)


SIGNAL = {"domains": ["food"], "observations": "Komt zonder ontbijt op school.",
          "source": "conversation", "urgency": "normal", "strengths": "Sterk gezin",
          "parent_wishes": "Rust", "child_wishes": "Sporten", "stress_factors": "Schulden"}
SIGNAL_TEXTS = {"observations": Text(4000), "strengths": Text(2000),
                "parent_wishes": Text(2000), "child_wishes": Text(2000),
                "stress_factors": Text(2000)}


def _new_signal(ctx):
    ctx.login(ctx.world.owner)
    url = f"/families/{ctx.world.family_id}/signals/new"
    return Form(url, dict(SIGNAL), page=url)


def _new_consent(ctx):
    ctx.login(ctx.world.owner)
    url = f"/families/{ctx.world.family_id}/consents/new"
    return Form(url, {"organisation": str(ctx.organisation_id("Jeugdfonds")), "child": "",
                      "given_by": "Zeynep Yilmaz", "scope": "naam en telefoon",
                      "method": "spoken", "given_on": date.today().isoformat(),
                      "parent_agreed": "y"}, page=url)


def _withdraw_consent(ctx):
    ctx.login(ctx.world.owner)
    organisation = ctx.organisation_id("Jeugdfonds")

    def make():
        session = db.session()
        return record_consent(session.get(User, ctx.world.owner.id),
                              session.get(Family, ctx.world.family_id),
                              organisation_id=organisation,
                              given_by="Zeynep", scope="naam", method="spoken",
                              given_on=date.today(), parent_agreed=True).id
    url = f"/families/{ctx.world.family_id}/consents/{ctx.run(make)}/withdraw"
    return Form(url, {"confirm": "y"}, page=url)


def _assure(ctx):
    ctx.login(ctx.world.partner)
    page = f"/directory/services/{ctx.world.inbox_service}"
    return Form(f"{page}/assure", {}, page=page)


SERVICE = {"name": "Huiswerkklas", "alternate_name": "Huiswerkhulp",
           "description": "Hulp bij huiswerk na school.", "domains": ["school_costs"],
           "areas": "GM0363 Amsterdam", "minimum_age": "6", "maximum_age": "12",
           "eligibility_description": "Kinderen uit gezinnen met een laag inkomen",
           "income_limit_percent": "120", "referral_route": "inbox", "capacity": "open",
           "waiting_weeks": "2", "status": "active", "application_process": "Bel ons",
           "fees_description": "Gratis", "phone": "020-5550101",
           "email": "huiswerk@example.org", "url": "https://huiswerk.example.org",
           "languages": "nl, en"}
SERVICE_TEXTS = {"name": Text(200), "alternate_name": Text(200), "description": Text(4000),
                 "eligibility_description": Text(2000), "application_process": Text(2000),
                 "fees_description": Text(1000), "phone": Text(100),
                 "email": Text(254, email_of), "url": Text(500, url_of),
                 "languages": Text(200, languages_of), "areas": Text(20000, areas_of)}


def _edit_service(ctx):
    ctx.login(ctx.world.coordinator)
    service = ctx.make_service(f"Wegwerpdienst {ctx.unique()}", organisation="Jeugdfonds")
    url = f"/directory/services/{service}/edit"
    return Form(url, dict(SERVICE), page=url)


def _new_service(ctx):
    ctx.login(ctx.world.coordinator)
    url = f"/directory/organisations/{ctx.organisation_id('Jeugdfonds')}/services/new"
    return Form(url, dict(SERVICE), page=url)


ORGANISATION = {"alternate_name": "De Stichting", "description": "Helpt gezinnen.",
                "phone": "020-5550199", "email": "info@example.org",
                "website": "https://stichting.example.org"}
def unique_of(n):
    return (f"{next(NUMBERS)}-" + "x" * n)[:n]


ORGANISATION_TEXTS = {"name": Text(200, unique_of), "alternate_name": Text(200),
                      "description": Text(4000), "phone": Text(100),
                      "email": Text(254, email_of), "website": Text(500, url_of)}


def _new_organisation(ctx):
    ctx.login(ctx.world.coordinator)
    return Form("/directory/organisations/new",
                {"name": f"Stichting Nieuw {ctx.unique()}", **ORGANISATION},
                page="/directory/organisations/new")


def _edit_organisation(ctx):
    ctx.login(ctx.world.coordinator)
    url = f"/directory/organisations/{ctx.new_organisation()}/edit"
    return Form(url, {"name": f"Stichting Anders {ctx.unique()}", **ORGANISATION}, page=url)


def _deactivate_organisation(ctx):
    ctx.login(ctx.world.coordinator)
    url = f"/directory/organisations/{ctx.new_organisation()}/deactivate"
    return Form(url, {"confirm": "y"}, page=url)


def _merge_organisations(ctx):
    ctx.login(ctx.world.coordinator)
    duplicate, into = ctx.new_organisation(), ctx.new_organisation()
    url = f"/directory/organisations/{duplicate}/merge"
    return Form(url, {"into": str(into), "confirm": "y"}, page=url)


def _feedback_language(ctx):
    ctx.client.get(ctx.invitation())

    def language(client=ctx.client):
        return 'lang="en"' in client.get("/f/form").text
    return Form("/f/", {"language": "en"}, page="/f/", probe=language)


def _feedback_answer(ctx):
    ctx.client.get(ctx.invitation())
    return Form("/f/form", {"heard": "5", "useful": "4", "easy": "3", "better": "4",
                            "went_well": "Snel geholpen", "do_better": "Vaker bellen"},
                page="/f/form")


def _feedback_answer_child(ctx):
    ctx.client.get(ctx.invitation(child=True))
    return Form("/f/form", {"heard": "5", "better": "4", "to_grown_ups": "Dank je"},
                page="/f/form")


def _feedback_invite(ctx):
    ctx.login(ctx.world.owner)
    url = f"/feedback/invite/{ctx.world.family_id}?referral={ctx.world.inbox_referral}"
    return Form(url, {"whom": ["parent"], "language": "nl"}, page=url)


PLEDGE = {"activities-0-what": "Voedselpakketten voor 50 gezinnen",
          "activities-0-for_whom": "Gezinnen in Noord", "activities-0-target": "50 gezinnen",
          "activities-0-due": f"{date.today().year}-12-31",
          "new_partner": "Stichting Nieuwe Partner"}
PLEDGE_TEXTS = {"activities-0-what": Text(300), "activities-0-for_whom": Text(200),
                "activities-0-target": Text(200), "new_partner": Text(200)}


def _edit_pledge(ctx):
    ctx.login(ctx.world.partner)
    return Form("/monitor/pledge/edit", dict(PLEDGE), page="/monitor/pledge/edit")


def _report_pledge(ctx):
    ctx.login(ctx.world.other_partner)

    def make():
        user = db.session().get(User, ctx.world.other_partner.id)
        save_pledge(user, activities=[
            {"what": "Sportcontributies", "for_whom": "", "target": "", "due": None}])
    ctx.run(make)
    return Form("/monitor/pledge/report", {"entries-0-progress": "done",
                                           "entries-0-text": "Alles gehaald"},
                page="/monitor/pledge/report")


def _remind_pledges(ctx):
    ctx.login(ctx.world.coordinator)
    return Form("/monitor/pledges", {}, page="/monitor/pledges")


def _erase(ctx):
    family = ctx.new_family()
    ctx.login_two_factor()
    url = f"/privacy/families/{family}/erase"
    return Form(url, {"confirm": "y"}, page=url)


def _find_family(ctx):
    ctx.login_two_factor()
    return Form("/privacy/families", {"name": "Zeynep"}, page="/privacy/families")


def _log_filter(ctx):
    ctx.login_two_factor()
    return Form("/privacy/log", {"user": ctx.world.owner.email, "action": "create"},
                page="/privacy/log")


def _refer(ctx):
    ctx.login(ctx.world.owner)
    url = f"/referrals/new/{ctx.world.signal_id}"
    # A service of its own: while one is open, a signal refers to a service once.
    service = ctx.make_service(f"Wegwerphulp {ctx.unique()}", organisation="Voedselbank",
                               referral_route="inbox")
    return Form(url, {"form_token": str(uuid.uuid4()), "services": [str(service)],
                      "message": "Graag een voedselpakket.", "send": "1",
                      "follow_up_on": (date.today() + timedelta(days=14)).isoformat()}, page=url)


def _note(ctx):
    ctx.login(ctx.world.owner)
    page = f"/referrals/{ctx.world.inbox_referral}"
    return Form(f"{page}/notes", {"text": "Moeder gebeld."}, page=page)


def _follow_up(ctx):
    ctx.login(ctx.world.owner)
    url = f"/referrals/{ctx.world.inbox_referral}/follow-up"
    # Another date each time, so that each accepted post changes something.
    day = date.today() + timedelta(days=20 + ctx.unique() % 300)
    return Form(url, {"follow_up_on": day.isoformat()}, page=url)


def _edit_draft(ctx):
    def make():
        session = db.session()
        owner = session.get(User, ctx.world.owner.id)
        family = session.get(Family, ctx.world.family_id)
        signal = log_signal(owner, family, domains=["food"], source="conversation",
                            observations="Weer geen ontbijt.")
        [draft] = refer(owner, family, signal, [session.get(Service, ctx.world.inbox_service)],
                        message="Eerste versie.", follow_up_on=date.today() + timedelta(days=14),
                        send=False, form_token=str(uuid.uuid4()))
        return draft.id
    draft = ctx.run(make)
    ctx.login(ctx.world.owner)
    url = f"/referrals/{draft}/edit"
    return Form(url, {"service": str(ctx.world.inbox_service), "message": "Tweede versie.",
                      "follow_up_on": (date.today() + timedelta(days=21)).isoformat(),
                      "version": str(ctx.get(Referral, draft).version)},
                page=url)


def _status(ctx):
    ctx.login(ctx.world.partner)
    page = f"/referrals/{ctx.world.inbox_referral}"
    version = ctx.get(Referral, ctx.world.inbox_referral).version
    return Form(f"{page}/status/rejected", {
        "rejected-version": str(version), "rejected-reason": "Geen plek deze maand",
        "rejected-reason_code": "", "rejected-confirm": "y"}, page=page,
        token_field="rejected-csrf_token")


def _decide(ctx):
    def make():
        session = db.session()
        referral = session.get(Referral, ctx.world.letter_referral)
        # Only the owner hands over: whoever owns it now (a handover accepted before moved
        # it) asks the other of the two.
        owner, other = ((ctx.world.owner, ctx.world.colleague)
                        if referral.owner_id == ctx.world.owner.id
                        else (ctx.world.colleague, ctx.world.owner))
        return propose_handover(session.get(User, owner.id), referral,
                                session.get(User, other.id), "Ik ga met verlof").id, other
    handover, other = ctx.run(make)
    ctx.login(other)
    return Form(f"/referrals/handovers/{handover}", {"accept": "Accepteren"},
                page=f"/referrals/{ctx.world.letter_referral}")


def _handover(ctx):
    ctx.login(ctx.world.owner)
    url = f"/referrals/{ctx.world.inbox_referral}/handover"
    return Form(url, {"colleague": str(ctx.world.colleague.id), "note": "Ik ga met verlof"},
                page=url)


def _bridge(ctx):
    ctx.login(ctx.world.owner)
    url = f"/referrals/{ctx.world.inbox_referral}/bridge"
    return Form(url, {"bridge": str(ctx.world.bridge.id), "family_agreed": "y"}, page=url)


def _answer_bridge(ctx):
    def make():
        session = db.session()
        referral = session.get(Referral, ctx.world.inbox_referral)
        if referral.bridge_id is None or referral.bridge_accepted_at is not None:
            referral.bridge_id, referral.bridge_accepted_at = None, None
            assign_bridge(session.get(User, referral.owner_id), referral,
                          session.get(User, ctx.world.bridge.id), family_agreed=True)
    ctx.run(make)
    ctx.login(ctx.world.bridge)
    page = f"/referrals/{ctx.world.inbox_referral}"
    return Form(f"{page}/bridge/answer", {"decline": "1", "reason": "Geen tijd"}, page=page)


FORMS = [
    Case("auth.login", "/login", _login, {
        "email": Text(254, None), "password": Text(128, None), "next": Text(500)}),
    Case("auth.two_factor", "/login/code", _two_factor, {"code": Text(10, None)}),
    Case("auth.enrol", "/login/enrol", _enrol_at_login, {"code": Text(10, None)},
         name="auth.enrol(login)"),
    Case("auth.enrol", "/login/enrol", _enrol, {"code": Text(10, None)},
         name="auth.enrol(account)"),
    Case("auth.logout", "/logout", _logout),
    Case("auth.password", "/account/password", _password, {
        "current": Text(128, None), "new": Text(128, None), "confirm": Text(128, None)}),
    Case("auth.deactivate", "/users/<uuid:user_id>/deactivate", _deactivate_user),
    Case("auth.users", "/users", _users_search, {"text": Text(100)}, changes_database=False),
    Case("auth.invite", "/users/new", _invite_user, {"name": Text(120),
                                                     "email": Text(254, account_email_of)}),
    Case("auth.change_role", "/users/<uuid:user_id>/role", _change_role),
    Case("auth.training", "/users/<uuid:user_id>/training", _record_training),
    Case("auth.start_reset", "/users/<uuid:user_id>/reset", _start_reset),
    Case("auth.reactivate", "/users/<uuid:user_id>/reactivate", _reactivate),
    Case("auth.forgot", "/login/forgot", _forgot, {"email": Text(254, None)}),
    Case("auth.choose_password", "/account/link", _choose_password, {
        "new": Text(128, None), "confirm": Text(128, None)}),
    Case("main.language", "/language", _language, {"next": Text(500)}, shows_errors=False),
    Case("cases.index", "/families/", _search_families, {"text": Text(100)},
         changes_database=False),
    Case("cases.new", "/families/new", _new_family, FAMILY_TEXTS),
    Case("cases.edit", "/families/<uuid:family_id>/edit", _correct_family, FAMILY_TEXTS),
    Case("cases.remove_child", "/families/<uuid:family_id>/children/<uuid:child_id>/remove",
         _remove_child),
    Case("cases.new_signal", "/families/<uuid:family_id>/signals/new", _new_signal,
         SIGNAL_TEXTS),
    Case("cases.new_consent", "/families/<uuid:family_id>/consents/new", _new_consent, {
        "given_by": Text(200), "scope": Text(1000)}),
    Case("cases.withdraw_consent",
         "/families/<uuid:family_id>/consents/<uuid:consent_id>/withdraw", _withdraw_consent),
    Case("directory.assure", "/directory/services/<uuid:service_id>/assure", _assure),
    Case("directory.edit_service", "/directory/services/<uuid:service_id>/edit", _edit_service,
         SERVICE_TEXTS),
    Case("directory.new_service", "/directory/organisations/<uuid:organisation_id>/services/new",
         _new_service, SERVICE_TEXTS),
    Case("directory.edit_organisation", "/directory/organisations/new", _new_organisation,
         ORGANISATION_TEXTS, name="directory.edit_organisation(new)"),
    Case("directory.edit_organisation", "/directory/organisations/<uuid:organisation_id>/edit",
         _edit_organisation, ORGANISATION_TEXTS),
    Case("directory.deactivate_organisation",
         "/directory/organisations/<uuid:organisation_id>/deactivate", _deactivate_organisation),
    Case("directory.merge_organisation", "/directory/organisations/<uuid:organisation_id>/merge",
         _merge_organisations),
    Case("feedback.start", "/f/", _feedback_language, changes_database=False),
    Case("feedback.answer", "/f/form", _feedback_answer, {
        "went_well": Text(2000), "do_better": Text(2000)}),
    Case("feedback.answer", "/f/form", _feedback_answer_child, {"to_grown_ups": Text(2000)},
         name="feedback.answer(child)"),
    Case("feedback.invite", "/feedback/invite/<uuid:family_id>", _feedback_invite),
    Case("monitor.edit_pledge", "/monitor/pledge/edit", _edit_pledge, PLEDGE_TEXTS),
    Case("monitor.report_pledge", "/monitor/pledge/report", _report_pledge, {
        "entries-0-text": Text(500)}),
    Case("monitor.pledge_list", "/monitor/pledges", _remind_pledges),
    Case("privacy.erase", "/privacy/families/<uuid:family_id>/erase", _erase),
    Case("privacy.find", "/privacy/families", _find_family, {
        "name": Text(100), "house_number": Text(12)}),
    Case("privacy.log", "/privacy/log", _log_filter, {"user": Text(254, email_of)}),
    Case("referrals.new", "/referrals/new/<uuid:signal_id>", _refer, {"message": Text(4000)}),
    Case("referrals.add_note", "/referrals/<uuid:referral_id>/notes", _note, {
        "text": Text(2000)}),
    Case("referrals.change_status", "/referrals/<uuid:referral_id>/status/<target>", _status, {
        "rejected-reason": Text(2000)}),
    Case("referrals.follow_up", "/referrals/<uuid:referral_id>/follow-up", _follow_up),
    Case("referrals.edit", "/referrals/<uuid:referral_id>/edit", _edit_draft, {
        "message": Text(4000)}),
    Case("referrals.decide", "/referrals/handovers/<uuid:handover_id>", _decide),
    Case("referrals.handover", "/referrals/<uuid:referral_id>/handover", _handover, {
        "note": Text(1000)}),
    Case("referrals.bridge", "/referrals/<uuid:referral_id>/bridge", _bridge),
    Case("referrals.answer_bridge", "/referrals/<uuid:referral_id>/bridge/answer",
         _answer_bridge, {"reason": Text(2000)}),
]


# --- reading the whole database -----------------------------------------------------------

AUDIT_TABLES = {"audit_event", "audit_head", "audit_checkpoint"}


def snapshot(app, *, skip=()):
    """Every row of every table (as text), read on a connection of its own."""
    with raw_connection(app) as connection:
        return {table.name: sorted(repr(tuple(row)) for row in
                                   connection.execute(table.select()))
                for table in SQLModel.metadata.sorted_tables if table.name not in skip}


def changed_tables(before, after):
    return sorted(name for name in before if before[name] != after[name])


def state(app, form):
    return snapshot(app), form.probe() if form.probe else None


def matched_rule(app, url):
    path = url.split("?", 1)[0]
    rule, _args = app.url_map.bind("localhost").match(path, method="POST", return_rule=True)
    return rule.rule


def make_ctx(app, town, make_user, make_service, client=None):
    return Ctx(app, town, client or app.test_client(), make_user, make_service)
