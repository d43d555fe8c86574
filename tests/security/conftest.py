"""The referral tests' small alliance, for the security tests too."""

from tests.referrals.conftest import world  # noqa: F401  (the same small alliance)
