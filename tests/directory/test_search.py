"""The directory search as a nurse on a phone uses it."""

import pytest

from tests.conftest import audit_entries, count_queries, counted_queries
from tests.directory.conftest import service_ids


@pytest.fixture
def searcher(client, make_user, login):
    login(make_user("professional"))
    return client


def _found(client, query):
    response = client.get(f"/directory/?{query}")
    assert response.status_code == 200
    return service_ids(response.text)


def test_default_shows_active_open_services(searcher, directory):
    found = _found(searcher, "")
    assert directory["closed"] not in found and directory["inactive"] not in found
    assert {directory["breakfast"], directory["cafe"], directory["sport"]} <= found


def test_everything_includes_closed_and_inactive(searcher, directory):
    found = _found(searcher, "everything=y")
    assert directory["closed"] in found and directory["inactive"] in found


@pytest.mark.parametrize(("query", "expected"), [
    ("domains=school_costs", {"breakfast"}),
    ("domains=sport_culture&domains=clothing", {"sport", "stale"}),
    ("municipality=GM0344", {"sport"}),
    ("age=15", {"cafe", "sport", "stale"}),
    ("age=3&domains=food", {"cafe"}),
    ("q=cafe", {"cafe"}),
    ("q=CAFÉ", {"cafe"}),
    ("q=noel", {"cafe"}),  # the organisation's name, without its accent
    ("q=ontbijt", {"breakfast"}),
    ("q=koken+cafe", {"cafe"}),
    ("q=100%25", set()),  # LIKE wildcards are plain characters
    ("q=_", set()),
])
def test_filters(searcher, directory, query, expected):
    assert _found(searcher, query) == {directory[name] for name in expected}


def test_name_matches_come_first(searcher, make_service):
    in_description = make_service("Buurtwinkel", description="Ook een ontbijt op zaterdag.")
    in_name = make_service("Ontbijtclub", description="Elke ochtend samen eten.")
    text = searcher.get("/directory/?q=ontbijt").text
    assert text.index(str(in_name)) < text.index(str(in_description))


def test_result_shows_what_a_nurse_needs(searcher, directory):
    text = searcher.get("/directory/?q=kledingbank").text
    for expected in ("Kledingbank", "Stichting Voorbeeld", "Kleding", "alle leeftijden",
                     "geen gebied opgegeven", "telefonisch", "open",
                     "meer dan een jaar geleden"):
        assert expected in text, expected


def test_pagination_keeps_the_filters(searcher, make_service):
    for n in range(23):
        make_service(f"Voedselhulp {n:02d}")
    first = searcher.get("/directory/?domains=food&q=voedselhulp")
    assert "23 aanbod gevonden" in first.text and len(service_ids(first.text)) == 20
    assert "page=2" in first.text and "domains=food" in first.text.split("page=2")[0][-200:] + \
        first.text.split("page=2")[1][:200]
    second = searcher.get("/directory/?domains=food&q=voedselhulp&page=2")
    assert len(service_ids(second.text)) == 3
    assert not service_ids(first.text) & service_ids(second.text)
    past = searcher.get("/directory/?domains=food&q=voedselhulp&page=9")  # an old link
    assert "23 aanbod gevonden" in past.text and "Pagina 2 van 2" in past.text
    assert service_ids(past.text) == service_ids(second.text)


@pytest.mark.parametrize(("query", "message"), [
    ("age=abc", "Ongeldig getal"),
    ("age=40", "Vul een leeftijd in van 0 tot 27"),
    ("q=" + "x" * 201, "200"),
    ("domains=nonsense", "Ongeldige keuze"),
])
def test_bad_input_gets_a_message_not_an_error(searcher, directory, query, message):
    response = searcher.get(f"/directory/?{query}")
    assert response.status_code == 200
    assert 'role="alert"' in response.text
    assert not service_ids(response.text)


def test_search_is_audited_without_the_search_words(app, searcher, directory):
    searcher.get("/directory/?q=Jansen+Kookcafé&domains=food")
    entries = audit_entries(app, action="search")
    assert len(entries) == 1 and entries[0].object_type == "directory"
    assert "Jansen" not in entries[0].summary


def test_search_works_without_login_never(client, directory):
    response = client.get("/directory/?q=cafe")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_queries_per_search_do_not_grow_with_results(app, searcher, make_service):
    make_service("Eerste")
    searcher.get("/directory/")  # the need domains, read once per process
    few = count_queries(app, searcher, "/directory/?q=eerste")
    for n in range(15):
        make_service(f"Meer aanbod {n}", areas=[("GM0363", "Amsterdam"), ("GM0344", "Utrecht")])
    many = count_queries(app, searcher, "/directory/?")
    assert few == many, (few, many)


def test_the_need_domains_are_read_once_per_process(app, searcher):
    """Reference data, changed only by a migration: the second page does not ask again."""
    pages = []
    for _ in range(2):
        with counted_queries(app) as statements:
            assert searcher.get("/directory/").status_code == 200
        pages.append([s for s in statements if "FROM need_domain" in s])
    assert len(pages[0]) == 1 and pages[1] == []


def test_service_page_is_printable_and_complete(searcher, directory):
    page = searcher.get(f"/directory/services/{directory['breakfast']}")
    assert page.status_code == 200
    for expected in ("Schoolontbijt", "4 tot en met 12 jaar", "Amsterdam", "010-1",
                     "Print deze pagina"):
        assert expected in page.text
    assert "Klopt nog" not in page.text  # a professional does not edit the directory


def test_unknown_service_is_404(searcher):
    assert searcher.get("/directory/services/00000000-0000-0000-0000-000000000000"
                        ).status_code == 404


def test_control_characters_in_the_search_are_ignored(searcher, directory):
    page = searcher.get("/directory/?q=%00ontbijt%00")
    assert page.status_code == 200 and "Schoolontbijt" in page.text
