"""The world of tests/referrals: a family referred to an inbox and a letter service."""

from tests.referrals.conftest import cheap_password_hashing, world  # noqa: F401  (shared fixtures)
