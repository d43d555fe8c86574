"""Two app processes behind one database: a logout, the login throttle and the feedback
link limit hold across both, since each keeps its state in the database, not in memory."""

import copy
import urllib.request
import uuid

from tests.reliability.conftest import Browser

WRONG = "E-mailadres of wachtwoord klopt niet."
THROTTLED = "Te veel mislukte pogingen."


def jar(browser):
    [handler] = [h for h in browser.opener.handlers
                 if isinstance(h, urllib.request.HTTPCookieProcessor)]
    return handler.cookiejar


def copy_cookies(source, target):
    """What an attacker who copied the session cookie holds."""
    for cookie in jar(source):
        jar(target).set_cookie(copy.copy(cookie))


def test_a_logout_on_one_process_ends_the_session_on_the_other(app_config, make_user,
                                                               gunicorn):
    one, other = gunicorn(app_config, workers=1), gunicorn(app_config, workers=1)
    person = make_user("professional")
    browser = Browser(one.base)
    browser.login(person)
    copied = Browser(other.base)
    copy_cookies(browser, copied)
    account = copied.get("/account")
    assert account.url.endswith("/account") and person.email in account.text

    out = browser.post_form("/logout", {}, page="/account")
    assert "Je bent uitgelogd." in out.text
    refused = copied.get("/account")
    assert "/login" in refused.url and person.email not in refused.text
    assert "/login" in Browser(one.base).get("/account").url  # a fresh visitor, to compare
    copy_cookies(copied, browser)  # and the old cookie back on the first process
    assert "/login" in browser.get("/account").url


def attempt(server, email, password):
    browser = Browser(server.base)
    return browser.post_form("/login", {"email": email, "password": password})


def test_failed_logins_and_guessed_links_are_counted_across_processes(app_config, make_user,
                                                                      gunicorn):
    limits = {"REFERRAL_LOGIN_MAX_FAILURES_ACCOUNT": "5",
              "REFERRAL_LOGIN_MAX_FAILURES_ADDRESS": "8", "REFERRAL_FEEDBACK_MAX_FAILURES": "4"}
    servers = [gunicorn(app_config, workers=1, env=limits) for _ in range(2)]
    guessed, bystander = make_user("professional"), make_user("partner")

    # Five wrong passwords for one account, spread over both: the account waits on both.
    for number in range(5):
        response = attempt(servers[number % 2], guessed.email, "niet-het-wachtwoord")
        assert response.status == 200 and WRONG in response.text
    for server in servers:
        response = attempt(server, guessed.email, guessed.password)  # even the right one
        assert response.status == 429 and THROTTLED in response.text
    response = attempt(servers[0], bystander.email, bystander.password)
    assert response.status == 200 and "/login" not in response.url  # others may go on

    # Three more from this address, at unknown accounts: eight in all, so it waits too.
    for number in range(3):
        response = attempt(servers[number % 2], f"onbekend{number}@example.org",
                           "niet-het-wachtwoord")
        assert response.status == 200 and WRONG in response.text
    for server in servers:
        response = attempt(server, bystander.email, bystander.password)
        assert response.status == 429 and THROTTLED in response.text

    # Guessing feedback links: four wrong ones over both processes, then neither answers.
    for number in range(4):
        response = Browser(servers[number % 2].base).get(f"/f/{uuid.uuid4().hex}")
        assert response.status == 404
    for server in servers:
        assert Browser(server.base).get(f"/f/{uuid.uuid4().hex}").status == 429
