"""A directory search is drawn once and kept until the directory changes: the same for every
reader (directory data alone), never out of date, still logged, in each reader's language."""

import re
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from referral import db
from referral.directory import views
from referral.directory.models import VERSIONED
from referral.kept import store_of
from tests.conftest import audit_entries, counted_queries, post_form
from tests.directory.conftest import service_ids


@pytest.fixture
def searcher(client, make_user, login):
    login(make_user("professional"))
    return client


def main_of(response):
    assert response.status_code == 200
    return re.search(r"<main[^>]*>(.*)</main>", response.text, re.S).group(1)


def test_a_search_read_again_is_not_run_again_but_still_logged(app, searcher, directory):
    path = "/directory/?q=kook"
    first = main_of(searcher.get(path))
    with counted_queries(app) as statements:
        again = main_of(searcher.get(path))
    assert again == first and "Kookcafé" in again
    assert not [s for s in statements if "FROM service" in s], statements
    entries = audit_entries(app, action="search")
    assert [e.summary for e in entries] == ["directory search, 1 results"] * 2


def test_a_refused_search_is_kept_too_and_logged_never(app, searcher, directory):
    for _ in range(2):
        assert "Vul een leeftijd in van 0 tot 27" in main_of(searcher.get("/directory/?age=40"))
    assert audit_entries(app, action="search") == []


def _rename(app, sql, **values):
    """A write straight to the database, as another process or a migration would make it."""
    with app.app_context():
        db.session().execute(sa.text(sql), values)
        db.commit()


def test_every_write_to_the_directory_shows_at_once(app, searcher, directory):
    assert "Kookcafé" in main_of(searcher.get("/directory/?q=samen"))
    _rename(app, "UPDATE service SET name = 'Kookclub' WHERE name = 'Kookcafé'")
    page = main_of(searcher.get("/directory/?q=samen"))
    assert "Kookclub" in page and "Kookcafé" not in page
    _rename(app, "UPDATE organisation SET name = 'Wijkhuis' WHERE name = 'Buurthuis Noël'")
    assert "Wijkhuis" in main_of(searcher.get("/directory/?q=samen"))
    _rename(app, "DELETE FROM service_area WHERE municipality_code = 'GM0363'")
    assert "geen gebied opgegeven" in main_of(searcher.get("/directory/?q=samen"))


def test_every_directory_table_has_the_triggers_that_replace_its_token(app):
    """A later migration that rebuilds a table on SQLite (batch_alter_table) drops its
    triggers: it must make them again (see the migration "directory version")."""
    with app.app_context():
        session = db.session()
        if session.get_bind().dialect.name == "sqlite":
            rows = session.execute(sa.text(
                "SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' "
                "AND name LIKE '%_version_%'")).scalars().all()
            found = {table: rows.count(table) for table in set(rows)}
            assert found == dict.fromkeys(VERSIONED, 3)
        else:
            rows = session.execute(sa.text(
                "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE t.tgname LIKE '%_version' AND NOT t.tgisinternal")).scalars().all()
            assert sorted(rows) == sorted(VERSIONED)


def test_each_language_gets_its_own_search(app, searcher, make_user, directory):
    english = app.test_client()
    person = make_user("professional")
    post_form(english, "/login", {"email": person.email, "password": person.password})
    post_form(english, "/language", {"language": "en", "next": "/"}, page="/")
    for _round in range(2):
        assert "Hulp zoeken in de sociale kaart" in main_of(searcher.get("/directory/?q=kook"))
        page = main_of(english.get("/directory/?q=kook"))
        assert "Find help in the directory" in page and "Hulp zoeken" not in page


def test_a_new_day_draws_the_search_again(app, searcher, make_service, monkeypatch):
    """A check a year old gets stale overnight: the kept page is of yesterday."""
    make_service("Speelgoedbank", checked=date.today() - timedelta(days=365))
    assert "meer dan een jaar geleden" not in main_of(searcher.get("/directory/?q=speelgoed"))

    class Tomorrow(date):
        @classmethod
        def today(cls):
            return date.today() + timedelta(days=1)

    monkeypatch.setattr(views, "date", Tomorrow)
    monkeypatch.setattr("referral.directory.queries.date", Tomorrow)
    assert "meer dan een jaar geleden" in main_of(searcher.get("/directory/?q=speelgoed"))


def test_the_kept_searches_are_few(app, searcher, directory, monkeypatch):
    monkeypatch.setattr(views, "KEPT_SEARCHES", 3)
    for word in ("kook", "sport", "ontbijt", "kleding", "zomer"):
        assert searcher.get(f"/directory/?q={word}").status_code == 200
        assert len(store_of(app, "searches")) <= 3


def test_without_its_token_the_search_is_drawn_every_time(app, searcher, directory):
    _rename(app, "DELETE FROM directory_version")
    store_of(app, "searches").clear()
    for _ in range(2):
        assert service_ids(searcher.get("/directory/?q=kook").text) == {directory["cafe"]}
    assert store_of(app, "searches") == {}


def test_a_service_page_is_kept_but_its_actions_are_each_readers_own(
        app, searcher, make_user, directory):
    """What the service is, is the same for everyone; whether you may edit it is not."""
    path = f"/directory/services/{directory['cafe']}"
    first = main_of(searcher.get(path))
    with counted_queries(app) as statements:
        again = main_of(searcher.get(path))
    assert again == first and "Kookcafé" in again and "Bewerken" not in again
    assert not [s for s in statements if "FROM service" in s], statements
    partner = app.test_client()
    person = make_user("partner", organisation="Buurthuis Noël")
    post_form(partner, "/login", {"email": person.email, "password": person.password})
    for _round in range(2):
        assert "Bewerken" in main_of(partner.get(path))
        assert "Bewerken" not in main_of(searcher.get(path))
    _rename(app, "UPDATE service SET description = 'Elke dinsdag samen eten.'")
    assert "Elke dinsdag samen eten." in main_of(searcher.get(path))
    assert "<title>Kookcafé" in searcher.get(path).text
    assert searcher.get(f"/directory/services/{directory['cafe'].hex[::-1]}").status_code == 404


def test_a_kept_page_links_under_its_own_script_root(searcher, directory):
    """One process may serve the tool at / and under a prefix: each page links its own."""
    for _round in range(2):
        for root in ("", "/kaart"):
            page = searcher.get("/directory/?q=kook", base_url=f"http://localhost{root}/").text
            [link] = re.findall(r'href="([^"]*/directory/services/[^"]+)"', page)
            assert link.startswith(f"{root}/directory/services/"), (root, link)
