"""The world of tests/referrals (a family referred to an inbox and a letter service), for
calling the case operations directly."""

from tests.referrals.conftest import world  # noqa: F401  (shared fixture)
