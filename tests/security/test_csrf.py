"""Every form that changes something refuses a post without a CSRF token, or with a token of
another session, and changes nothing then; the same post with the session's own token works.

FORMS (tests/security/forms.py) is the one table of every POST rule of the app; a POST rule
missing from it fails `test_every_post_rule_is_in_the_table`.
"""

import pytest

from tests.conftest import csrf_token, post_form
from tests.security.forms import (
    FORMS,
    _note,
    changed_tables,
    make_ctx,
    matched_rule,
    snapshot,
    state,
)

# --- the tests ----------------------------------------------------------------------------

def test_every_post_rule_is_in_the_table(app):
    """A new form (a rule that takes POST) must be added to FORMS, or this test fails."""
    posting = {(rule.endpoint, rule.rule) for rule in app.url_map.iter_rules()
               if "POST" in rule.methods}
    table = {(case.endpoint, case.rule) for case in FORMS}
    assert not posting - table, f"POST rules with no CSRF case in FORMS: {sorted(posting - table)}"
    assert not table - posting, f"cases for rules that no longer exist: {sorted(table - posting)}"


def test_csrf_protection_is_on_everywhere(app):
    from referral import csrf

    assert app.config.get("WTF_CSRF_ENABLED", True) is True
    assert app.config.get("WTF_CSRF_CHECK_DEFAULT", True) is True
    assert not csrf._exempt_views and not csrf._exempt_blueprints


@pytest.mark.parametrize("case", FORMS, ids=lambda case: case.id)
def test_form_without_or_with_a_stale_token_is_refused(app, town, make_user, make_service,
                                                       case):
    ctx = make_ctx(app, town, make_user, make_service)
    client = ctx.client
    # A token from an earlier session: someone else was logged in on this browser, then left.
    ctx.login(town.stranger)
    stale = csrf_token(client, "/account")
    assert post_form(client, "/logout", {}, page="/").status_code == 303
    form = case.prepare(ctx)
    assert matched_rule(app, form.url) == case.rule
    token = csrf_token(client, form.page)  # the form as this session shows it
    assert token != stale
    before = state(app, form)

    attempts = [("no token", form.data)]
    attempts += [(f"a stale token in {name}", {**form.data, name: stale})
                 for name in sorted({"csrf_token", form.token_field})]
    attempts.append(("a forged token", {**form.data, form.token_field: token[:-4] + "AAAA"}))
    for what, data in attempts:
        refused = client.post(form.url, data=data)
        assert refused.status_code == 400, f"{what}: {refused.status_code}"
        after = state(app, form)
        changed = changed_tables(before[0], after[0]) + (
            ["the session"] if after[1] != before[1] else [])
        assert not changed, f"a post with {what} changed {changed}"

    # The same post with the session's own token is accepted: the refusals above were about
    # the token, not about the form.
    try:
        accepted = client.post(form.url, data={**form.data, form.token_field: token})
    except Exception as exc:  # the app raised: a 500 for the user
        pytest.fail(f"the accepted post of {form.url} raised {type(exc).__name__}: {exc}")
    # Every redirect after a POST is a 303, so a browser follows it with a GET.
    assert accepted.status_code in (200, 303), accepted.status_code
    assert 'class="error-summary"' not in accepted.text, accepted.text[:3000]
    after = state(app, form)
    if case.changes_database:
        assert changed_tables(before[0], after[0]), "the accepted post changed nothing"
    else:
        assert after[1] != before[1], "the accepted post changed nothing"


def test_a_token_of_another_live_session_is_refused(app, town, make_user, make_service):
    """Two browsers of the same person: a token of one does not work in the other."""
    first = make_ctx(app, town, make_user, make_service)
    second = make_ctx(app, town, make_user, make_service)
    first.login(town.owner)
    second.login(town.owner)
    form = _note(second)
    other = csrf_token(first.client, "/account")
    before = snapshot(app)
    assert second.client.post(form.url, data={**form.data, "csrf_token": other}
                              ).status_code == 400
    assert not changed_tables(before, snapshot(app))
