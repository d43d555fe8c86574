"""My families: found in seconds by a parent's name, a child's first name or the postcode,
only among the professional's own families, with the search text never in an address."""

import re
from datetime import date

import pytest

from referral import db
from referral.auth.models import User
from referral.cases import queries
from referral.cases.operations import create_family
from tests.conftest import counted_queries, post_form


def text_of(response):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text))


def add_family(app, person, parent_names, *children, postcode=None):
    with app.app_context():
        family = create_family(db.session().get(User, person.id), parent_names=parent_names,
                               postcode=postcode, house_number="1" if postcode else None,
                               street="Dorpsstraat" if postcode else None,
                               children=[(name, date(2016, 4, 1 + n))
                                         for n, name in enumerate(children)])
        db.commit()
        return family.id


def search(client, text):
    return post_form(client, "/families/", {"text": text, "search": "Zoeken"})


@pytest.fixture
def caseload(app, world):
    """Three more families of the owner, and one of a professional of another organisation
    with the same names."""
    add_family(app, world.owner, "Pieter Jansen", "Daan", postcode="1011 AB")
    add_family(app, world.owner, "Fatima El Amrani", "Yara", "Adam", postcode="3512 JK")
    add_family(app, world.owner, "Mirjam de Boer", "Sem")
    add_family(app, world.stranger, "Kees Jansen", "Daan", "Elif", postcode="1011 AB")


@pytest.mark.parametrize(("text", "found", "not_found"), [
    ("jansen", ["Pieter Jansen"], ["Fatima", "Zeynep", "Kees"]),
    ("JANS", ["Pieter Jansen"], ["Kees"]),  # part of a name, any case
    ("el amrani", ["Fatima El Amrani"], ["Pieter"]),
    ("yara", ["Fatima El Amrani"], ["Pieter"]),  # a child's first name
    ("Elif", ["Zeynep Yilmaz"], ["Kees"]),  # another's family with an Elif is not found
    ("1011AB", ["Pieter Jansen"], ["Kees", "Fatima"]),  # postcode, with or without space
    ("1011 ab", ["Pieter Jansen"], ["Kees", "Fatima"]),
    ("Yılmaz", [], ["Zeynep"]),  # a dotless ı is another letter
    ("Bakker", [], ["Pieter", "Fatima", "Zeynep"]),
])
def test_search_my_families_by_name_child_or_postcode(client, login, world, caseload, text,
                                                     found, not_found):
    login(world.owner)
    response = search(client, text)
    assert response.status_code == 303
    assert response.headers["Location"] == "/families/"  # nothing of the text in it
    page = text_of(client.get("/families/"))
    for name in found:
        assert name in page
    for name in not_found:
        assert name not in page
    if not found:
        assert "Geen van je gezinnen past bij deze zoekopdracht." in page


def test_another_professionals_families_are_never_found(client, login, world, caseload):
    login(world.stranger)
    for text in ("Zeynep", "Pieter", "Fatima", "Yara", "3512"):
        search(client, text)
        html = client.get("/families/").text
        assert "Geen van je gezinnen" in text_of(client.get("/families/"))
        assert not re.search(r'href="/families/[0-9a-f-]{36}"', html)  # no family at all
    search(client, "jansen")
    assert "Kees Jansen" in text_of(client.get("/families/"))


def test_the_search_stays_across_pages_and_sorting_until_cleared(app, client, login, world,
                                                                 monkeypatch):
    for n in range(5):
        add_family(app, world.owner, f"Gezin Visser {n}", f"Kind {n}")
    monkeypatch.setattr(queries, "FAMILY_PAGE_SIZE", 2)
    login(world.owner)
    search(client, "visser")
    first = text_of(client.get("/families/?sort=name"))
    assert "5 gezinnen passen bij “visser”." in first
    assert "Pagina 1 van 3" in first and "Zeynep" not in first
    assert "Gezin Visser 0" in first and "Gezin Visser 1" in first
    third = text_of(client.get("/families/?sort=name&page=3"))
    assert "Gezin Visser 4" in third and "Gezin Visser 0" not in third
    # The search text is nowhere in the page's addresses, nor readable in the cookie.
    html = client.get("/families/?sort=name&page=2").text
    assert all("visser" not in href.casefold() for href in re.findall(r'href="([^"]*)"', html))
    cookie = client.get_cookie("referral_session").value
    assert "visser" not in cookie.casefold()
    cleared = post_form(client, "/families/", {"clear": "Alle gezinnen tonen"})
    assert cleared.status_code == 303
    page = text_of(client.get("/families/?page=3"))
    assert "Zeynep Yilmaz" in page and "passen bij" not in page and "Pagina 3 van 3" in page


def test_another_user_in_the_same_browser_does_not_get_the_search(client, login, world,
                                                                 caseload):
    login(world.owner)
    search(client, "Pieter")
    sealed = client.get_cookie("referral_session")
    login(world.colleague)
    page = text_of(client.get("/families/"))
    assert "Pieter" not in page and "passen bij" not in page
    assert sealed is not None


def test_too_long_a_search_says_so(client, login, world):
    login(world.owner)
    response = search(client, "x" * 101)
    assert response.status_code == 400
    assert "Zoek met hoogstens 100 tekens." in response.text
    assert "Zeynep Yilmaz" in response.text  # the list is still there


def test_an_empty_search_shows_every_family(client, login, world, caseload):
    login(world.owner)
    search(client, "jansen")
    assert search(client, "   ").status_code == 303
    page = text_of(client.get("/families/"))
    assert "Zeynep Yilmaz" in page and "Pieter Jansen" in page


def test_a_bad_page_or_sort_is_ignored(client, login, world):
    login(world.owner)
    for query in ("?page=abc", "?page=-1", "?page=99999999999", "?sort=%27;drop",
                  "?page=1e9"):
        response = client.get(f"/families/{query}")
        assert response.status_code == 200, query
        assert "Zeynep Yilmaz" in response.text


def test_searching_reads_the_same_statements_for_any_caseload(app, client, login, world):
    login(world.owner)
    search(client, "jansen")

    def count():
        with counted_queries(app) as statements:
            assert client.get("/families/").status_code == 200
        return len(statements)

    few = count()
    for n in range(6):
        add_family(app, world.owner, f"Pieter Jansen {n}", f"Kind {n}", "Broer")
    assert count() == few


def test_newest_first_the_database_pages_the_caseload(app, client, login, world, monkeypatch):
    """Without a search, newest first, no name needs decrypting: one page of families is
    read, not the whole caseload, with the same statements for any caseload."""
    for n in range(5):
        add_family(app, world.owner, f"Gezin Bakker {n}", f"Kind {n}")
    monkeypatch.setattr(queries, "FAMILY_PAGE_SIZE", 2)
    login(world.owner)
    with counted_queries(app) as statements:
        first = text_of(client.get("/families/"))
    assert "Gezin Bakker 4" in first and "Gezin Bakker 3" in first
    assert "Gezin Bakker 2" not in first and "Pagina 1 van 3" in first
    [families] = [s for s in statements if "FROM family" in s and "count(*) OVER" in s]
    assert "LIMIT" in families
    third = text_of(client.get("/families/?page=3"))
    assert "Gezin Bakker 0" in third and "Zeynep Yilmaz" in third  # the oldest
    assert "Gezin Bakker 1" not in third and "Pagina 3 van 3" in third
    past = text_of(client.get("/families/?page=9"))  # past the end: the last page
    assert "Zeynep Yilmaz" in past and "Pagina 3 van 3" in past
