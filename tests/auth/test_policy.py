"""Access rules as a matrix of roles × actions, and the pages that ask them."""

from datetime import date

import pytest

from referral import policy
from referral.auth.models import Role, User
from tests.conftest import audit_entries

ROLES = [role.value for role in Role]

# The rule table as people expect it; a change to policy.RULES must change this too.
EXPECTED = {
    "account.manage": set(ROLES),
    "directory.search": set(ROLES),
    "directory.manage": {"coordinator"},
    "service.edit": {"coordinator"},  # partners: only their own services, tested below
    "users.list": {"coordinator"},
    "signal.create": {"professional"},
    "family.create": {"professional"},
    "family.view": set(),  # only the professional who works on it: tests/cases
    "monitor.view": {"coordinator", "partner"},
    "audit.read": {"privacy_officer"},
    "privacy.request": {"privacy_officer"},
    "privacy.register": set(ROLES),
    "family.edit": set(),  # only the professional who works on it: tests/privacy
    "users.deactivate": {"coordinator"},
    "users.invite": {"coordinator"},
    "users.manage": {"coordinator"},
    "users.train": {"coordinator"},
    "users.privacy_role": set(),  # the command line only: never a coordinator
    # Rules about one object: without it nobody may; tests/referrals/test_access.py has the
    # matrix of roles × referrals, events and notes.
    "referral.create": set(),
    "referral.view": set(),
    "referral.content": set(),
    "referral.as_referrer": set(),
    "referral.as_partner": set(),
    "referral.letter": set(),
    "referral.note": set(),
    "referral.follow_up": set(),
    "referral.edit": set(),
    "referral.handover": set(),
    "referral.bridge": set(),
    "handover.decide": set(),
    "bridge.decide": set(),  # the bridge worker asked: tests/referrals
    "referrals.mine": {"professional"},
    "referrals.inbox": set(),  # a partner with an organisation: tests/referrals
    "referrals.accompany": {"bridge"},
    "referrals.stuck": {"coordinator"},
    "pledge.edit": set(),  # a partner with an organisation: tests/monitor
    "pledge.list": {"coordinator"},
    "feedback.invite": set(),  # the families one works on: tests/feedback
    "feedback.own": {"professional"},
    "feedback.scores": set(),  # a partner with an organisation: tests/feedback
    "users.create": set(),  # the command line only
    "consent.record": set(),  # only the professional who works on the family: tests/cases
    "referrals.remind": set(),  # the command line (cron) only
    "mail.outbox": {"coordinator"},
    "monitor.export": {"coordinator", "partner"},
    "privacy.retention": {"privacy_officer"},
    "keys.rotate": set(),  # the command line only
}

# What the operator at the command line may run: administration, never a case.
COMMAND_LINE = {"directory.manage", "users.create", "users.list", "users.deactivate",
                "users.invite", "users.manage", "users.train", "users.privacy_role",
                "referrals.remind", "monitor.export", "privacy.retention", "keys.rotate",
                "directory.search", "service.edit"}


def _user(role, **fields):
    return User(email_index="x", password_hash="x", role=role, trained_on=date(2026, 1, 1),
                **fields)


def test_every_rule_is_in_the_matrix():
    assert set(policy.RULES) == set(EXPECTED)


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_matrix(bare_app, role, action):
    with bare_app.app_context():
        assert policy.allowed(_user(role), action) == (role in EXPECTED[action])


@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_the_command_line_runs_administration_only(bare_app, action):
    with bare_app.app_context():
        assert policy.allowed(policy.COMMAND_LINE, action) == (action in COMMAND_LINE)


@pytest.mark.parametrize("action", sorted(EXPECTED))
def test_inactive_or_anonymous_may_do_nothing(bare_app, action):
    with bare_app.app_context():
        assert not policy.allowed(_user("coordinator", active=False), action)
        assert not policy.allowed(None, action)


@pytest.mark.parametrize(("trained_on", "today", "may"), [
    (None, date(2026, 6, 1), False),
    (date(2026, 1, 15), date(2026, 6, 1), True),
    (date(2023, 6, 1), date(2026, 5, 31), True),
    (date(2023, 6, 1), date(2026, 6, 1), False),  # three years later it has expired
    (date(2024, 2, 29), date(2027, 2, 28), False),
])
def test_training_validity(bare_app, trained_on, today, may):
    user = User(email_index="x", password_hash="x", role="professional", trained_on=trained_on)
    with bare_app.app_context():
        assert policy.training_valid(user, today=today) is may


@pytest.mark.parametrize("role", ROLES)
def test_users_page_by_role(app, client, make_user, login, role):
    login(make_user(role))
    response = client.get("/users")
    if role == "coordinator":
        assert response.status_code == 200 and "Test Persoon" in response.text
    else:
        assert response.status_code == 403 and "Test Persoon 1" not in response.text
        assert [e.outcome for e in audit_entries(app, summary="denied: users.list")] == ["denied"]


@pytest.mark.parametrize(("trained_on", "can_signal"), [(date(2026, 1, 1), True), (None, False)])
def test_home_page_tells_a_professional_about_training(client, make_user, login, trained_on,
                                                        can_signal):
    login(make_user("professional", trained_on=trained_on))
    home = client.get("/").text
    assert ('class="notice"' in home) is not can_signal
