"""The monitor is counted once every few minutes and shared by every app process: a second
view shows the same figures without counting, and an erased family leaves them at once."""

from sqlmodel import select

from referral import db
from referral.auth.models import User
from referral.cases.models import Family
from referral.privacy.operations import erase
from tests.conftest import count_queries, counted_queries, post_form
from tests.monitor.conftest import YEAR, build, table_of


def _coordinator(app, alliance):
    client = app.test_client()
    person = alliance["coordinator"]
    post_form(client, "/login", {"email": person.email, "password": person.password})
    return client


def _signals_by_source(client):
    return table_of(client.get(f"/monitor/?year={YEAR}").text, "signals_source")


def test_figures_are_counted_once_per_period_for_every_process(make_app, alliance):
    app = make_app(MONITOR_CACHE_SECONDS=600)
    client = _coordinator(app, alliance)
    path = f"/monitor/?year={YEAR}"
    first = count_queries(app, client, path)
    before = _signals_by_source(client)
    assert count_queries(app, client, path) < first / 2  # read from the cache
    assert "elke 10 minuten opnieuw geteld" in client.get(path).text

    # More signals: the page keeps the counted figures, in this process and in another one.
    build(app, alliance["owner"].id, {}, {}, [("observation", ["food"], None, None)] * 6)
    other = _coordinator(make_app(MONITOR_CACHE_SECONDS=600), alliance)
    assert _signals_by_source(client) == before == _signals_by_source(other)

    # A process that counts every time sees them; so does everyone after the period.
    after = _signals_by_source(_coordinator(make_app(MONITOR_CACHE_SECONDS=0), alliance))
    assert after != before
    assert _signals_by_source(client) == after  # the fresh count was shared


def test_a_counted_view_reads_its_years_and_its_count_in_one_statement(make_app, alliance):
    """A view of counted figures asks the database which years there are and for the
    year's stored count in one statement; the rest is the account and the access log."""
    app = make_app(MONITOR_CACHE_SECONDS=600)
    client = _coordinator(app, alliance)
    client.get(f"/monitor/?year={YEAR}")  # counted and stored
    with counted_queries(app) as statements:
        assert client.get(f"/monitor/?year={YEAR}").status_code == 200
    reads = [s for s in statements if "monitor_cache" in s or "min(referral.created_at)" in s]
    assert len(reads) == 1 and "monitor_cache" in reads[0] and "min(" in reads[0], reads


def test_an_erased_family_leaves_the_cached_figures(make_app, alliance, make_user):
    officer = make_user("privacy_officer")  # erasure is the privacy officer's
    app = make_app(MONITOR_CACHE_SECONDS=600)
    client = _coordinator(app, alliance)
    before = _signals_by_source(client)
    with app.app_context():
        session = db.session()
        family = session.exec(select(Family)).first()
        erase(session.get(User, officer.id), family)
        db.commit()
    assert _signals_by_source(client) != before


def test_cron_counts_the_monitor_ahead_of_its_viewers(make_app, alliance):
    app = make_app(MONITOR_CACHE_SECONDS=600)
    client = _coordinator(app, alliance)
    before = _signals_by_source(client)
    build(app, alliance["owner"].id, {}, {}, [("observation", ["food"], None, None)] * 6)
    assert _signals_by_source(client) == before
    result = app.test_cli_runner().invoke(args=["monitor", "refresh", "--year", str(YEAR)])
    assert result.exit_code == 0, result.output
    assert f"Counted the {YEAR} monitor in nl, en" in result.output
    assert _signals_by_source(client) != before


def test_each_language_sees_its_own_figures_drawn_once_per_count(make_app, alliance,
                                                                 make_user):
    """The charts and tables are drawn once per count, year and language in each process:
    readers in turns each get their language, and a renewed count is drawn anew."""
    app = make_app(MONITOR_CACHE_SECONDS=600)
    dutch = _coordinator(app, alliance)
    english = _coordinator(app, {"coordinator": make_user("coordinator")})  # their own account
    post_form(english, "/language", {"language": "en", "next": "/"}, page="/")
    path = f"/monitor/?year={YEAR}"
    for _round in range(2):
        assert "Signalen per bron" in dutch.get(path).text
        page = english.get(path).text
        assert "Signals per source" in page
        assert "Signalen per bron" not in page
    before = _signals_by_source(dutch)
    assert table_of(dutch.get(f"/monitor/report?year={YEAR}").text, "signals_source") == before

    build(app, alliance["owner"].id, {}, {}, [("observation", ["food"], None, None)] * 6)
    result = app.test_cli_runner().invoke(args=["monitor", "refresh", "--year", str(YEAR)])
    assert result.exit_code == 0, result.output
    assert _signals_by_source(dutch) != before
    assert "Signals per source" in english.get(path).text
