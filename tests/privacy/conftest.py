"""A privacy officer who logs in with a two-factor code."""

import pyotp
import pytest

from tests.conftest import post_form

KEY = pyotp.random_base32()


@pytest.fixture
def officer(make_user, client, login):
    """Log in as a privacy officer with password and code; returns the person."""
    person = make_user("privacy_officer", organisation="Alliantie", totp_secret=KEY)
    response = login(person)
    assert response.headers["Location"].endswith("/login/code")
    response = post_form(client, "/login/code", {"code": pyotp.TOTP(KEY).now()})
    assert response.status_code == 303, response.text
    return person
