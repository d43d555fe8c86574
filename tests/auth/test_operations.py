"""The account operations called directly, without HTTP, by every kind of actor: the
refusals hold and leave nothing behind but the logged denial; the allowed calls work."""

import pyotp
import pytest
from sqlmodel import select

from referral import db, policy
from referral.audit.models import AuditEvent
from referral.auth import operations
from referral.auth.credentials import verify_password
from referral.auth.models import LoginAttempt, User
from referral.auth.queries import find_user
from referral.errors import Denied, Refused
from referral.mail import OutboxMessage
from tests.conftest import PASSWORD
from tests.matrix import ROLE_ACTORS as ACTORS
from tests.matrix import ROLE_PEOPLE as PEOPLE
from tests.matrix import nothing_written

NEW_PASSWORD = "een-heel-nieuw-wachtwoord"
SECRET = pyotp.random_base32()


def _last_audit(summary):
    return db.session().exec(select(AuditEvent).where(AuditEvent.summary == summary)
                             .order_by(AuditEvent.seq.desc())).first()


def _create(actor, _account):
    operations.create_user(actor, email="aanwinst@example.org", name="Nieuwe Collega",
                           role="professional", password=NEW_PASSWORD)


def _created(actor, _account):
    user = find_user("aanwinst@example.org")
    assert user.name == "Nieuwe Collega" and user.role == "professional"
    assert _last_audit("account created with role professional").user_id == actor.id


def _deactivate(actor, account):
    operations.deactivate(actor, account)


def _deactivated(actor, account):
    assert not account.active
    assert _last_audit("account deactivated").user_id == actor.id


def _change_password(actor, account):
    operations.change_password(actor, account, current=PASSWORD, new=NEW_PASSWORD)


def _password_changed(actor, account):
    assert verify_password(account.password_hash, NEW_PASSWORD)
    newest = db.session().exec(select(OutboxMessage).order_by(
        OutboxMessage.created_at.desc())).first()
    assert newest.recipient == account.email  # the owner is told, in case it was not them
    assert _last_audit("password changed").user_id == account.id


def _enrol(actor, account):
    operations.enrol_two_factor(actor, account, secret=SECRET, code=pyotp.TOTP(SECRET).now())


def _enrolled(actor, account):
    assert account.totp_secret == SECRET
    assert _last_audit("two-factor enrolled").user_id == account.id


def _log_out(actor, account):
    operations.log_out(actor, account)


def _logged_out(actor, account):
    assert _last_audit("logged out").user_id == account.id


def _set_language(actor, account):
    operations.set_language(actor, account, language="en")


def _language_set(actor, account):
    assert account.language == "en"


# operation: (call, proof that it happened, who may, whose account it is done to)
OPERATIONS = {
    "create_user": (_create, _created, {"command_line"}, None),
    "deactivate": (_deactivate, _deactivated, {"coordinator", "command_line"}, "colleague"),
    "change_password": (_change_password, _password_changed, PEOPLE, "own"),
    "enrol_two_factor": (_enrol, _enrolled, PEOPLE, "own"),
    "log_out": (_log_out, _logged_out, PEOPLE, "own"),
    "set_language": (_set_language, _language_set, PEOPLE, "own"),
}


def _account(actors, actor, whose):
    """The account an operation is done to: the actor's own (the command line has none: the
    professional's), or another's."""
    if whose == "own":
        return actor if actor is not policy.COMMAND_LINE else actors("owner")
    return actors(whose) if whose else None


@pytest.mark.parametrize("who", ACTORS)
@pytest.mark.parametrize("name", OPERATIONS)
def test_every_operation_as_every_actor(app, actors, name, who):
    call, proof, allowed, whose = OPERATIONS[name]
    with app.app_context():
        actor = actors(who)
        account = _account(actors, actor, whose)
        if who in allowed:
            call(actor, account)
            proof(actor, account)
        else:
            with nothing_written(Denied):
                call(actor, account)


@pytest.mark.parametrize("who", sorted(PEOPLE))
@pytest.mark.parametrize("name", [name for name, spec in OPERATIONS.items() if spec[3] == "own"])
def test_nobody_manages_another_persons_account(app, actors, name, who):
    call = OPERATIONS[name][0]
    with app.app_context(), nothing_written(Denied):
        call(actors(who), actors("colleague"))


# operation, the rule's refusal, and the field of the form it is about
RULE_REFUSALS = [
    # The new-account form shows these beside their field.
    ("create_user", dict(email="geen-email"), "Enter a valid email address.", "email"),
    ("create_user", dict(name=" "), "Enter a name of at most 120 characters.", "name"),
    ("create_user", dict(role="admin"), "Unknown role.", "role"),
    ("create_user", dict(email="PROFESSIONAL1@example.org "),
     "There is already an account with this email address.", "email"),
    ("create_user", dict(password="kort"), "Use at least 12 characters.", None),
    ("change_password", dict(current="niet-het-wachtwoord"),
     "Your current password is not correct.", "current"),
    ("change_password", dict(new="wachtwoord1234"),
     "This password is too common. Try a sentence of a few words.", "new"),
    ("enrol_two_factor", dict(code="000000"),
     "This code is not correct. Scan the code again and enter the newest six digits.", "code"),
    ("set_language", dict(language="xx"), "Choose one of the languages offered.", None),
]


@pytest.mark.parametrize(("name", "data", "message", "field"), RULE_REFUSALS)
def test_the_rules_refuse_with_a_message_and_change_nothing(app, actors,
                                                            name, data, message, field):
    with app.app_context():
        owner = actors("owner")
        if name == "create_user":
            actor, call = policy.COMMAND_LINE, operations.create_user
            data = {"email": "aanwinst@example.org", "name": "Nieuwe Collega",
                    "role": "professional", "password": NEW_PASSWORD, **data}
        elif name == "change_password":
            actor, call = owner, operations.change_password
            data = {"current": PASSWORD, "new": NEW_PASSWORD, **data}
        elif name == "enrol_two_factor":
            actor, call = owner, operations.enrol_two_factor
            data = {"secret": SECRET, **data}
        else:
            actor, call = owner, getattr(operations, name)
        args = (actor,) if name == "create_user" else (actor, owner)
        if name == "enrol_two_factor":
            # A wrong code is in the access log, like a wrong code at login; nothing else.
            with pytest.raises(Refused) as refused:
                call(*args, **data)
            assert db.session().get(User, owner.id).totp_secret_enc is None
            assert _last_audit("two-factor code refused").outcome == "failure"
        else:
            with nothing_written(Refused) as refused:
                call(*args, **data)
        assert str(refused.value) == message and refused.value.field == field


@pytest.mark.parametrize("who", ["coordinator", "command_line"])
def test_an_account_with_open_referrals_is_not_deactivated(app, actors, who):
    with app.app_context(), nothing_written(Refused) as refused:
        operations.deactivate(actors(who), actors("owner"))
    assert "still owns 2 open referrals" in str(refused.value)


# ---- logging in: nobody acts yet, the credentials are the check ---------------------------

def _attempts(succeeded):
    return len(db.session().exec(select(LoginAttempt).where(
        LoginAttempt.succeeded.is_(succeeded))).all())


def test_the_right_password_logs_in(app, world):
    with app.app_context():
        user = operations.authenticate(email=world.owner.email, password=PASSWORD,
                                       address="192.0.2.1")
        assert user.id == world.owner.id and _attempts(True) == 1
        assert _last_audit("password accepted").user_id == user.id


@pytest.mark.parametrize(("email", "password"), [
    ("owner", "niet-het-wachtwoord"),  # a wrong password
    ("nobody@example.org", PASSWORD),  # an unknown account
    ("inactive_coordinator", PASSWORD),  # the right password of a deactivated account
])
def test_a_wrong_login_is_refused_and_counted(app, actors, email, password):
    with app.app_context():
        if "@" not in email:
            email = actors(email).email
        with pytest.raises(Refused) as refused:
            operations.authenticate(email=email, password=password, address="192.0.2.1")
        assert str(refused.value) == "Email address or password is not correct."
        # Refused, yet recorded: the attempts throttle the next ones.
        assert _attempts(False) == 1
        assert _last_audit("wrong password or unknown account").outcome == "failure"


def test_too_many_failures_throttle_even_the_right_password(make_app, world):
    app = make_app(LOGIN_MAX_FAILURES_ACCOUNT=2)
    with app.app_context():
        for _ in range(2):
            with pytest.raises(Refused):
                operations.authenticate(email=world.owner.email, password="fout-fout-fout",
                                        address="192.0.2.1")
        with pytest.raises(operations.Throttled):
            operations.authenticate(email=world.owner.email, password=PASSWORD,
                                    address="192.0.2.1")
        assert _last_audit("login throttled").outcome == "denied"


def test_the_code_of_a_login_once_and_only_once(app, world):
    with app.app_context():
        user = db.session().get(User, world.owner.id)
        user.totp_secret = SECRET
        code = pyotp.TOTP(SECRET).now()
        operations.second_step(user, code=code, address="192.0.2.1")
        assert _last_audit("two-factor code accepted").user_id == user.id
        with pytest.raises(Refused) as replayed:  # the same code over a shoulder
            operations.second_step(user, code=code, address="192.0.2.2")
        assert replayed.value.field == "code"
        assert _attempts(False) == 1  # a wrong code counts like a wrong password
