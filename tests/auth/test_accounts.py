"""Accounts without the command line, called directly as every actor: invitations, role and
organisation, training, reactivation, password links and a forgotten password. Refusals
leave nothing behind but the logged denial; a link works once and not after it expired."""

import re
from datetime import date, timedelta

import pytest
from sqlmodel import select

from referral import db, policy
from referral.audit.models import AuditEvent
from referral.auth import operations
from referral.auth.credentials import verify_password
from referral.auth.models import AccountLink, LinkPurpose, LoginAttempt, User
from referral.auth.queries import find_user, link_by_token, token_hash
from referral.errors import Denied, Refused
from referral.mail import OutboxMessage
from tests.matrix import ROLE_ACTORS as ACTORS
from tests.matrix import nothing_written

NEW_PASSWORD = "een-heel-nieuw-wachtwoord"
ADDRESS = "192.0.2.7"


def _last_audit(summary):
    return db.session().exec(select(AuditEvent).where(AuditEvent.summary == summary)
                             .order_by(AuditEvent.seq.desc())).first()


def _mails_to(address):
    return [m for m in db.session().exec(select(OutboxMessage)).all() if m.recipient == address]


def _token_in(message):
    [token] = re.findall(r"/account/link/(\S+)", message.body)
    return token


def _invite(actor, _account):
    operations.invite(actor, email="aanwinst@example.org", name="Nieuwe Collega",
                      role="professional")


def _invited(actor, _account):
    user = find_user("aanwinst@example.org")
    assert user.role == "professional" and user.status == "invited"
    [message] = _mails_to("aanwinst@example.org")
    assert "Nieuwe Collega" not in message.body  # a link, no personal data
    assert _last_audit("account invited with role professional").user_id == actor.id


def _change_role(actor, account):
    operations.change_role(actor, account, role="bridge", organisation_id=account.organisation_id)


def _role_changed(actor, account):
    assert account.role == "bridge"
    assert _last_audit("account changed: role professional -> bridge").user_id == actor.id


def _train(actor, account):
    operations.record_training(actor, account, trained_on=date(2026, 3, 1), kind="refresher")


def _trained(actor, account):
    assert (account.trained_on, account.training_kind) == (date(2026, 3, 1), "refresher")
    assert _last_audit("training recorded (refresher, 2026-03-01)").user_id == actor.id


def _reactivate(actor, account):
    operations.reactivate(actor, account)


def _reactivated(actor, account):
    assert account.active
    assert _last_audit("account reactivated").user_id == actor.id


def _reset(actor, account):
    operations.start_reset(actor, account)


def _reset_started(actor, account):
    [message] = _mails_to(account.email)
    assert link_by_token(_token_in(message)).purpose == LinkPurpose.reset
    assert _last_audit("password reset started").user_id == actor.id


COORDINATION = {"coordinator", "command_line"}
# operation: (call, proof that it happened, whose account it is done to)
OPERATIONS = {
    "invite": (_invite, _invited, None),
    "change_role": (_change_role, _role_changed, "colleague"),
    "record_training": (_train, _trained, "colleague"),
    "reactivate": (_reactivate, _reactivated, "inactive_officer"),
    "start_reset": (_reset, _reset_started, "colleague"),
}


@pytest.mark.parametrize("who", ACTORS)
@pytest.mark.parametrize("name", OPERATIONS)
def test_only_coordinators_and_the_command_line_manage_accounts(app, actors, name, who):
    call, proof, whose = OPERATIONS[name]
    with app.app_context():
        actor, account = actors(who), actors(whose) if whose else None
        if who in COORDINATION:
            call(actor, account)
            proof(actor, account)
        else:
            with nothing_written(Denied):
                call(actor, account)


def test_only_the_command_line_gives_or_takes_the_privacy_officer_role(app, actors):
    with app.app_context():
        coordinator = actors("coordinator")
        with nothing_written(Denied):
            operations.invite(coordinator, email="nieuw@example.org", name="Nieuwe Functionaris",
                              role="privacy_officer")
        with nothing_written(Denied):
            operations.change_role(coordinator, actors("colleague"), role="privacy_officer",
                                   organisation_id=None)
        with nothing_written(Denied):
            operations.change_role(coordinator, actors("privacy"), role="coordinator",
                                   organisation_id=actors("privacy").organisation_id)
        operations.invite(policy.COMMAND_LINE, email="nieuw@example.org",
                          name="Nieuwe Functionaris", role="privacy_officer")
        assert find_user("nieuw@example.org").role == "privacy_officer"


def _partner_org(actors):
    return actors("partner").organisation_id


# (operation, whose account, data, message, field)
RULE_REFUSALS = [
    ("invite", None, dict(email="geen-email"), "Enter a valid email address.", "email"),
    ("invite", None, dict(role="partner"), "A partner needs an organisation: choose one.",
     "organisation"),
    ("invite", None, dict(language="fr"), "Choose one of the languages offered.", "language"),
    ("change_role", "coordinator", dict(role="professional"),
     "You cannot change the role of your own account. Ask another coordinator.", "role"),
    ("change_role", "owner", dict(role="bridge"), "still owns 2 open referrals", "role"),
    ("change_role", "colleague", dict(role="partner", organisation_id=None),
     "A partner needs an organisation: choose one.", "organisation"),
    ("change_role", "colleague", dict(role="admin"), "Unknown role.", "role"),
    ("change_role", "colleague", dict(role="professional"),
     "Nothing changed: choose another role or organisation.", "role"),
    ("record_training", "partner", {},
     "Only professionals log signals, so only their training is recorded.", None),
    ("record_training", "colleague", dict(trained_on=date.today() + timedelta(days=1)),
     "Enter the date of the training: today or earlier.", "trained_on"),
    ("record_training", "colleague", dict(trained_on=None),
     "Enter the date of the training: today or earlier.", "trained_on"),
    ("record_training", "colleague", dict(kind="webinar"), "Choose the kind of training.", "kind"),
    ("reactivate", "colleague", {}, "This account is active already.", None),
    ("start_reset", "inactive_officer", {}, "This account is deactivated. Reactivate it first.",
     None),
]


@pytest.mark.parametrize(("name", "whose", "data", "message", "field"), RULE_REFUSALS)
def test_the_rules_refuse_with_a_message_and_change_nothing(app, actors, name, whose, data,
                                                            message, field):
    with app.app_context():
        coordinator = actors("coordinator")
        account = actors(whose) if whose else None
        defaults = {
            "invite": dict(email="aanwinst@example.org", name="Nieuwe Collega",
                           role="professional"),
            "change_role": dict(organisation_id=account.organisation_id if account else None),
            "record_training": dict(trained_on=date(2026, 3, 1), kind="course"),
        }.get(name, {})
        call = getattr(operations, name)
        args = (coordinator,) if account is None else (coordinator, account)
        with nothing_written(Refused) as refused:
            call(*args, **{**defaults, **data})
        assert message in str(refused.value) and refused.value.field == field


def test_an_expired_training_can_be_recorded_again(app, actors):
    with app.app_context():
        colleague = actors("colleague")
        colleague.trained_on = date(2020, 1, 1)
        assert not policy.training_valid(colleague)
        operations.record_training(actors("coordinator"), colleague, trained_on=date.today(),
                                   kind="course")
        assert policy.training_valid(colleague) and policy.allowed(colleague, "signal.create")
        assert policy.training_expires(colleague) == date.today().replace(
            year=date.today().year + 3)


# ---- the links: only a hash kept, once, not after they expired ---------------------------

def test_an_invitation_sets_the_password_once(app, actors):
    with app.app_context():
        user, token = operations.invite(actors("coordinator"), email="aanwinst@example.org",
                                        name="Nieuwe Collega", role="professional")
        [message] = _mails_to("aanwinst@example.org")
        assert _token_in(message) == token
        stored = db.session().exec(select(AccountLink)).all()
        assert [link.token_hash for link in stored] == [token_hash(token)]
        assert token not in str([tuple(row) for row in db.session().exec(
            select(AccountLink.token_hash, AccountLink.purpose))])
        # Nobody logs in with an empty password or a guess before the invitation is used.
        with pytest.raises(Refused):
            operations.authenticate(email="aanwinst@example.org", password="", address=ADDRESS)
        link = link_by_token(token)
        operations.set_password_by_link(link, password=NEW_PASSWORD)
        assert verify_password(user.password_hash, NEW_PASSWORD) and user.status == "active"
        assert _last_audit("password chosen after invitation").user_id == user.id
        with nothing_written(Refused) as refused:
            operations.set_password_by_link(link_by_token(token), password="nog-een-ander-wachtwoord")
        assert str(refused.value) == "This link does not work any more. Ask for a new one."
        assert operations.authenticate(email="aanwinst@example.org", password=NEW_PASSWORD,
                                       address=ADDRESS).id == user.id


def test_an_expired_link_sets_nothing(make_app, actors):
    app = make_app(RESET_VALID_MINUTES=0)
    with app.app_context():
        colleague = actors("colleague")
        token = operations.start_reset(actors("coordinator"), colleague)
        with nothing_written(Refused) as refused:
            operations.set_password_by_link(link_by_token(token), password=NEW_PASSWORD)
        assert "does not work any more" in str(refused.value)


def test_a_weak_password_leaves_the_link_unused(app, actors):
    with app.app_context():
        token = operations.start_reset(actors("coordinator"), actors("colleague"))
        with nothing_written(Refused) as refused:
            operations.set_password_by_link(link_by_token(token), password="wachtwoord1234")
        assert refused.value.field == "new"
        assert link_by_token(token).used_at is None


def test_a_reset_ends_every_session_and_older_links(app, actors):
    with app.app_context():
        colleague, coordinator = actors("colleague"), actors("coordinator")
        version = colleague.session_version
        first = operations.start_reset(coordinator, colleague)
        second = operations.start_reset(coordinator, colleague)
        assert link_by_token(first).used_at is not None  # a new link voids the older one
        operations.set_password_by_link(link_by_token(second), password=NEW_PASSWORD)
        assert colleague.session_version == version + 1
        assert _last_audit("password reset by link").user_id == colleague.id
        # The owner is told, in case it was not them.
        assert any("gewijzigd" in m.subject or "changed" in m.subject
                   for m in _mails_to(colleague.email))


def test_a_deactivated_account_cannot_use_its_link(app, actors):
    with app.app_context():
        colleague = actors("colleague")
        token = operations.start_reset(actors("coordinator"), colleague)
        operations.deactivate(actors("coordinator"), colleague)
        assert link_by_token(token).used_at is not None


# ---- a forgotten password: the same for an unknown address, and throttled ---------------

def test_a_forgotten_password_mails_a_link_to_a_known_address_only(app, actors):
    with app.app_context():
        colleague = actors("colleague")
        token = operations.request_reset(email=colleague.email, address=ADDRESS)
        [message] = _mails_to(colleague.email)
        assert _token_in(message) == token and colleague.name not in message.body
        assert _last_audit("password reset asked by mail").object_id == str(colleague.id)
        assert operations.request_reset(email="niemand@example.org", address=ADDRESS) is None
        assert _mails_to("niemand@example.org") == []
        assert _last_audit("password reset asked for an unknown or deactivated account")
        # The request is no failed login: it never locks anyone out.
        assert db.session().exec(select(LoginAttempt).where(
            LoginAttempt.kind == "reset")).all() and not operations.is_throttled(
            colleague.email, ADDRESS)


def test_a_deactivated_account_gets_no_mail(app, actors):
    with app.app_context():
        officer = actors("inactive_officer")
        assert operations.request_reset(email=officer.email, address=ADDRESS) is None
        assert _mails_to(officer.email) == []


@pytest.mark.parametrize("known", [True, False])
def test_forgotten_password_requests_are_throttled_alike(make_app, actors, known):
    app = make_app(RESET_MAX_ACCOUNT=2)
    with app.app_context():
        email = actors("colleague").email if known else "niemand@example.org"
        for n in range(2):
            operations.request_reset(email=email, address=f"192.0.2.{n}")
        with pytest.raises(operations.Throttled):
            operations.request_reset(email=email, address="192.0.2.99")
        assert len(_mails_to(email)) == (2 if known else 0)
        assert _last_audit("password reset throttled").outcome == "denied"


def test_forgotten_password_requests_are_throttled_per_address(make_app, actors):
    app = make_app(RESET_MAX_ADDRESS=3)
    with app.app_context():
        for n in range(3):
            operations.request_reset(email=f"iemand{n}@example.org", address=ADDRESS)
        with pytest.raises(operations.Throttled):
            operations.request_reset(email=actors("colleague").email, address=ADDRESS)
        assert _mails_to(actors("colleague").email) == []


def test_the_command_line_can_reactivate_and_train(app, runner, actors):
    with app.app_context():
        officer, colleague = actors("inactive_officer"), actors("colleague")
        emails = officer.email, colleague.email
    assert runner.invoke(args=["users", "reactivate", emails[0]]).exit_code == 0
    result = runner.invoke(args=["users", "train", emails[1], "--on", "2026-02-01",
                                 "--kind", "e_learning"])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["users", "train", emails[1], "--on", "2999-01-01",
                                 "--kind", "course"])
    assert result.exit_code != 0 and "today or earlier" in result.output
    assert runner.invoke(args=["users", "reset-password", emails[1]]).exit_code == 0
    assert runner.invoke(args=["users", "reactivate", "niemand@example.org"]).exit_code != 0
    with app.app_context():
        assert db.session().get(User, actors("inactive_officer").id).active
        trained = db.session().get(User, actors("colleague").id)
        assert (trained.trained_on, trained.training_kind) == (date(2026, 2, 1), "e_learning")
        assert _last_audit("password reset started").object_id == str(trained.id)
        assert len(_mails_to(trained.email)) == 1


def test_links_leave_a_month_after_they_expired(app, actors):
    from referral.privacy.operations import purge

    with app.app_context():
        operations.start_reset(actors("coordinator"), actors("colleague"))
        assert purge(policy.COMMAND_LINE, now=db.utcnow() + timedelta(days=29))[
            "account_links"] == 0
        assert purge(policy.COMMAND_LINE, now=db.utcnow() + timedelta(days=31))[
            "account_links"] == 1
        assert db.session().exec(select(AccountLink)).all() == []
