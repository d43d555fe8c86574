"""Templates are compiled once per language with their fixed strings translated: each reader
still gets every page in their own language, whatever the process drew before."""

from decimal import Decimal

import pytest
from flask import render_template
from flask_babel import force_locale

from tests.conftest import post_form


def _english(app):
    client = app.test_client()
    post_form(client, "/language", {"language": "en", "next": "/login"}, page="/login")
    return client


def test_one_process_draws_each_page_in_its_readers_language(app):
    dutch, english = app.test_client(), _english(app)
    for _ in range(2):  # in turns: the second round reads the templates both compiled
        for client, words, not_words in (
                (dutch, ("Naar de inhoud", "Inloggen", "Wachtwoord"), ("Skip to content",)),
                (english, ("Skip to content", "Log in", "Password"), ("Naar de inhoud",))):
            page = client.get("/login").text  # base.html, login.html, a form's labels
            assert all(word in page for word in words), words
            assert not any(word in page for word in not_words)


def test_fixed_strings_are_translated_when_the_template_is_compiled(app):
    source = ('{{ _("Log in") }}|{{ gettext("Skip to content") }}|{{ _("100%% sure") }}|'
              '{{ _("%(n)s left", n=3) }}|{{ _("<b>bold</b>") }}|{{ _(name) }}')
    with app.test_request_context(), force_locale("nl"):
        compiled = app.jinja_env.compile(source, raw=True)
        page = app.jinja_env.from_string(source).render(name="Log in")
    assert page == "Inloggen|Naar de inhoud|100% sure|3 left|<b>bold</b>|Inloggen"
    # The fixed ones are text in the compiled template; those with values are looked up.
    assert "Inloggen" in compiled and "Naar de inhoud" in compiled
    assert "Log in" not in compiled and "Skip to content" not in compiled
    assert "%(n)s left" in compiled


def test_a_template_in_another_language_within_a_dutch_request(app):
    """As a mail in the family's language is drawn (force_locale) while serving a page."""
    with app.test_request_context():
        assert "Naar de inhoud" in render_template("base.html")
        with force_locale("en"):
            assert "Skip to content" in render_template("base.html")
        assert "Naar de inhoud" in render_template("base.html")


@pytest.mark.parametrize(("language", "expected"), [
    ("nl", "1 dag · 3 dagen · Verwijzing &lt;b&gt;x · 2 left|Verwijzing <b>x"),
    ("en", "1 day · 3 days · Referral &lt;b&gt;x · 2 left|Referral <b>x"),
])
def test_strings_with_values_are_translated_and_their_values_escaped(app, language, expected):
    """`_()` and `ngettext()` with values, drawn in a loop as a list draws them: the reader's
    translation and plural, the values escaped on a page and left as they are in a text
    (a mail's plain part); a number of any kind (PostgreSQL's numeric: Decimal) as `%d`."""
    page = ('{% for n in [1, 3] %}{{ ngettext("%(num)d day", "%(num)d days", n) }}'
            '{% if loop.first %} · {% endif %}{% endfor %} · '
            '{{ _("Referral %(reference)s", reference=ref) }} · {{ _("%(n)d left", n=n) }}')
    text = '{{ _("Referral %(reference)s", reference=ref) }}'
    with app.test_request_context(), force_locale(language):
        html = app.jinja_env.from_string(page).render(ref="<b>x", n=Decimal(2))
        app.jinja_env.autoescape = False
        try:
            plain = app.jinja_env.from_string(text).render(ref="<b>x")
        finally:
            app.jinja_env.autoescape = True
    assert f"{html}|{plain}" == expected


def test_templates_call_plain_functions_at_once_and_others_as_jinja_does(app):
    """A plain function (or a partial of one) is called as it is; a function that asks
    for the context gets it, with the loop's variables; one that raises StopIteration
    gives an undefined value, as in Jinja."""
    import functools

    from jinja2 import pass_context

    def stops():
        raise StopIteration

    @pass_context
    def seen(context, name):
        return context.get(name)

    source = ('{% for n in [1, 2] %}{% set doubled = n * 2 %}{{ plain(n) }}{{ half(n) }}'
              '{{ seen("doubled") }}{{ plain(n, extra=1) }};{% endfor %}[{{ stops() }}]')
    with app.test_request_context():
        page = app.jinja_env.from_string(source).render(
            plain=lambda n, extra=0: n + extra, half=functools.partial(divmod, 7),
            seen=seen, stops=stops)
    assert page == "1(7, 0)22;2(3, 1)43;[]"


def test_a_page_finds_its_catalog_once(client, make_user, login, monkeypatch):
    """The catalog Flask-Babel finds for the reader's language is kept for the rest of the
    request, also when the first look chose the language (a page looks it up a hundred
    times: labels, dates, messages)."""
    import flask_babel

    login(make_user())
    found = []
    look_up = flask_babel.Domain.get_translations
    monkeypatch.setattr(flask_babel.Domain, "get_translations",
                        lambda self: found.append(1) or look_up(self))
    page = client.get("/")
    assert page.status_code == 200 and "Welkom" in page.text
    assert len(found) == 1


def test_an_include_gets_the_globals_as_one_dict_and_its_own_over_them(app):
    """A template's globals are the environment's with its own over them, as one dict: every
    include copies them, and Jinja's ChainMap was copied key by key in Python. The
    environment's are still there, a template's own global only in that template."""
    from collections import ChainMap

    environment = app.jinja_env
    own = environment.from_string("{{ greeting }} {{ url_for('main.home') }}",
                                  globals={"greeting": "hallo"})
    assert type(own.globals) is dict and not isinstance(own.globals, ChainMap)
    assert own.globals["url_for"] is environment.globals["url_for"]
    with app.test_request_context():
        assert own.render() == "hallo /"
        assert environment.from_string("{{ greeting }}.").render() == "."
    assert "greeting" not in environment.globals
