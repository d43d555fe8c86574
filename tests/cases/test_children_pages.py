"""The family pages as a professional uses them: a fourth child and a newborn, removing a
child behind a confirmation, an error summary in words with links that lead somewhere, and
long texts that are not cut."""

import re
from datetime import date, timedelta

import pytest
from sqlmodel import func, select

from referral import db
from referral.cases.models import Child, Family
from tests.conftest import audit_entries, post_form

FAMILY = {"parent_names": "Anouk de Wit", "language": "nl", "municipality": "",
          "children-0-first_name": "Sara", "children-0-birth_date": "2017-03-09"}


@pytest.fixture
def nurse(client, make_user, login):
    person = make_user("professional", organisation="JGZ Noord")
    login(person)
    return person


def _count(app, model):
    with app.app_context():
        return db.session().exec(select(func.count()).select_from(model)).one()


def _names(app):
    with app.app_context():
        return sorted(c.first_name for c in db.session().exec(select(Child)))


def _create(client, **changes):
    response = post_form(client, "/families/new", {**FAMILY, **changes})
    assert response.status_code == 303, response.text
    return response.headers["Location"]


def _summary(page):
    match = re.search(r'<div class="error-summary".*?</div>', page, re.S)
    assert match, "no error summary"
    return match.group(0)


def test_new_family_with_four_children(app, client, nurse):
    rows = {}
    for n, name in enumerate(["Sara", "Bram", "Noor", "Daan"]):
        rows[f"children-{n}-first_name"] = name
        rows[f"children-{n}-birth_date"] = f"201{n + 2}-05-0{n + 1}"
    _create(client, **rows)
    assert _names(app) == ["Bram", "Daan", "Noor", "Sara"]


def test_add_a_child_button_adds_a_row_and_saves_nothing(app, client, nurse):
    page = client.get("/families/new")
    assert 'name="children-0-first_name"' in page.text
    assert 'name="children-1-first_name"' not in page.text
    rows = {f"children-{n}-first_name": "" for n in range(3)}
    response = post_form(client, "/families/new", {**FAMILY, **rows, "add_child": "1",
                                                   "children-0-first_name": "Sara"})
    assert response.status_code == 200
    assert 'name="children-3-first_name"' in response.text
    assert 'value="Sara"' in response.text  # what was typed stays
    assert "error-summary" not in response.text
    assert _count(app, Family) == 0


def test_family_page_shows_municipality_and_ages(app, client, nurse, make_service):
    make_service("Voedselpakket", organisation="Voedselbank")  # offered in GM0363 Amsterdam
    baby = date.today() - timedelta(days=70)
    url = _create(client, municipality="GM0363", **{
        "children-1-first_name": "Mees", "children-1-birth_date": baby.isoformat()})
    page = client.get(url).text
    assert "Gemeente" in page and "Amsterdam" in page
    years = date.today().year - 2017 - ((date.today().month, date.today().day) < (3, 9))
    assert f"Sara, {years} jaar" in page
    assert re.search(r"Mees, [23] maanden", page)


def _edit_form(client, url):
    """The correction form's fields as the page gives them (children and their ids)."""
    page = client.get(f"{url}/edit").text
    fields = dict(re.findall(r'name="([^"]+)"[^>]*value="([^"]*)"', page))
    fields.update({name: "" for name in re.findall(r'name="(children-\d+-\w+)"', page)
                   if name not in fields})
    fields.pop("csrf_token")
    fields.pop("add_child", None)
    fields["language"], fields["municipality"] = "nl", ""
    return page, fields


def test_edit_page_has_an_empty_row_for_a_newborn(app, client, nurse):
    url = _create(client)
    page, fields = _edit_form(client, url)
    assert fields["children-0-first_name"] == "Sara" and fields["children-1-first_name"] == ""
    fields.update({"children-1-first_name": "Baby",
                   "children-1-birth_date": date.today().isoformat()})
    response = post_form(client, f"{url}/edit", fields)
    assert response.status_code == 303
    assert _names(app) == ["Baby", "Sara"]
    family = client.get(url).text
    assert "Baby, 0 maanden" in family
    assert "heeft een kind toegevoegd" in family and "heeft het gezin geregistreerd" in family
    assert [e.summary for e in audit_entries(app, object_type="child")] == ["child added"]


def test_edit_page_add_a_child_button_then_save_two_new_children(app, client, nurse):
    url = _create(client)
    _page, fields = _edit_form(client, url)
    response = post_form(client, f"{url}/edit", {**fields, "add_child": "1"}, page=f"{url}/edit")
    assert response.status_code == 200 and 'name="children-2-first_name"' in response.text
    fields.update({"children-1-first_name": "Jan", "children-1-birth_date": "2019-01-01",
                   "children-2-first_name": "Piet", "children-2-birth_date": "2020-01-01"})
    assert post_form(client, f"{url}/edit", fields).status_code == 303
    assert _names(app) == ["Jan", "Piet", "Sara"]


def test_remove_a_child_after_confirming(app, client, nurse):
    url = _create(client, **{"children-1-first_name": "Bram",
                             "children-1-birth_date": "2015-01-01"})
    page, _fields = _edit_form(client, url)
    [remove] = re.findall(r'href="([^"]+/remove)">Bram verwijderen', page)
    confirm = client.get(remove)
    assert confirm.status_code == 200 and "Bram verwijderen" in confirm.text
    unticked = post_form(client, remove, {})
    assert unticked.status_code == 400 and "Vink het vakje aan" in unticked.text
    assert _names(app) == ["Bram", "Sara"]
    done = post_form(client, remove, {"confirm": "y"})
    assert done.status_code == 303 and done.headers["Location"] == url
    assert _names(app) == ["Sara"]
    family = client.get(url).text
    assert "heeft een kind verwijderd" in family and "Bram" not in family


def test_the_only_child_cannot_be_removed(app, client, nurse):
    url = _create(client)
    page, _fields = _edit_form(client, url)
    [remove] = re.findall(r'href="([^"]+/remove)"', page)
    response = post_form(client, remove, {"confirm": "y"})
    assert response.status_code == 400 and "Een gezin houdt minstens één kind" in response.text
    assert _names(app) == ["Sara"]


def test_a_child_of_another_family_is_not_found(app, client, nurse):
    first = _create(client)
    second = _create(client, parent_names="Ander gezin", confirm_new="y",
                     **{"children-0-first_name": "Kees"})
    page, _fields = _edit_form(client, second)
    [remove] = re.findall(r'href="[^"]+(/children/[^"]+/remove)"', page)
    assert client.get(first + remove).status_code == 404


def test_a_stranger_cannot_remove_a_child(app, client, nurse, make_user, login):
    url = _create(client, **{"children-1-first_name": "Bram",
                             "children-1-birth_date": "2015-01-01"})
    page, _fields = _edit_form(client, url)
    remove = re.findall(r'href="([^"]+/remove)"', page)[0]
    login(make_user("professional", organisation="JGZ Noord"))
    assert client.get(remove).status_code == 404
    assert _names(app) == ["Bram", "Sara"]


@pytest.mark.parametrize(("changes", "target", "message"), [
    ({"children-0-birth_date": ""}, "children-0-birth_date",
     "Vul de geboortedatum van het kind in."),
    ({"children-0-birth_date": (date.today() + timedelta(days=3)).isoformat()},
     "children-0-birth_date", "Een geboortedatum kan niet in de toekomst liggen."),
    ({"children-0-first_name": ""}, "children-0-first_name", "Vul de voornaam van het kind in."),
    ({"children-0-first_name": "", "children-0-birth_date": ""}, "children-0-first_name",
     "Vul minstens één kind in."),
])
def test_error_summary_of_a_child_is_in_words_and_links_to_its_field(
        app, client, nurse, changes, target, message):
    response = post_form(client, "/families/new", {**FAMILY, **changes})
    assert response.status_code == 200
    summary = _summary(response.text)
    assert f'<a href="#{target}">{message}</a>' in summary
    assert "{" not in summary and "[" not in summary
    assert f'id="{target}"' in response.text
    assert _count(app, Family) == 0


def test_error_summary_of_the_correction_form_too(app, client, nurse):
    url = _create(client)
    _page, fields = _edit_form(client, url)
    fields["children-0-birth_date"] = (date.today() + timedelta(days=1)).isoformat()
    response = post_form(client, f"{url}/edit", fields)
    assert response.status_code == 400
    assert ('<a href="#children-0-birth_date">Een geboortedatum kan niet in de toekomst '
            'liggen.</a>') in _summary(response.text)


def test_a_tampered_child_id_changes_nothing(app, client, nurse):
    url = _create(client)
    _page, fields = _edit_form(client, url)
    fields["children-0-ref"] = "not-an-id"
    fields["children-0-first_name"] = "Anders"
    response = post_form(client, f"{url}/edit", fields)
    assert response.status_code == 400
    assert _names(app) == ["Sara"]


def test_a_box_list_error_links_to_the_first_box(app, client, nurse):
    url = _create(client)
    response = post_form(client, f"{url}/signals/new", {
        "observations": "Komt zonder ontbijt.", "urgency": "normal", "source": "conversation"})
    summary = _summary(response.text)
    assert '<a href="#domains-0">Kies minstens één leefgebied' in summary
    assert 'id="domains-0"' in response.text


def test_long_text_is_counted_not_cut(app, client, nurse):
    url = _create(client)
    page = client.get(f"{url}/signals/new").text
    strengths = re.search(r"<textarea[^>]*id=\"strengths\"[^>]*>", page).group(0)
    assert "maxlength" not in strengths and 'data-limit="2000"' in strengths
    assert "strengths-count" in strengths and "Maximaal 2.000 tekens." in page
    response = post_form(client, f"{url}/signals/new", {
        "domains": ["food"], "observations": "Komt zonder ontbijt.", "urgency": "normal",
        "source": "conversation", "strengths": "x" * 2345})
    assert response.status_code == 200
    assert "Schrijf maximaal 2000 tekens; de tekst heeft er nu 2345." in _summary(response.text)
    assert "x" * 2345 + "</textarea>" in response.text  # the text is given back whole


def test_refer_links_of_one_day_have_names_apart(app, client, nurse, make_user):
    url = _create(client)
    for domains in (["food"], ["money"]):
        post_form(client, f"{url}/signals/new", {
            "domains": domains, "observations": "Gezien.", "urgency": "normal",
            "source": "conversation"})
    page = client.get(url).text
    names = re.findall(r'<a class="button" href="/referrals/new[^"]*">(.*?)</a>', page, re.S)
    assert len(names) == 2 and len(set(names)) == 2, names
