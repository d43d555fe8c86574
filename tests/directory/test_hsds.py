"""HSDS 3.0 exchange: the shared examples, a round trip, and every kind of malformed file."""

import io
import json
import shutil
import uuid
import zipfile
from pathlib import Path

import pytest
from sqlmodel import func, select

from referral import db
from referral.dev.demo import load_directory
from referral.directory.models import Organisation, Service, ServiceDomain, TaxonomyTerm
from tests.conftest import _config, post_form

# A copy of ../shared/data/hsds-3.0 (Open Referral's examples, CC BY-SA 4.0; see its README).
EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "hsds-3.0"
EXAMPLE_SERVICE = "ac148810-d857-441c-9679-408f346de14b"


@pytest.fixture
def examples():
    return EXAMPLES


def _import(runner, path):
    return runner.invoke(args=["directory", "import", str(path)])


def _counts(app):
    with app.app_context():
        session = db.session()
        return tuple(session.exec(select(func.count()).select_from(model)).one()
                     for model in (Organisation, Service, TaxonomyTerm))


def test_import_the_shared_csv_package_twice(app, runner, examples):
    first = _import(runner, examples / "csv")
    assert first.exit_code == 0, first.output
    assert "created: 1 areas, 1 languages, 1 opening hours, 1 organisations, 1 services, " \
        "1 taxonomy terms" in first.output
    # The example's location belongs to an organisation it does not hold: kept, and said.
    assert "note: locations.csv, line 2: kept, not used by the directory (organization_id " \
        "not in the directory)" in first.output
    with app.app_context():
        service = db.session().exec(select(Service)).one()
        assert (service.name, service.minimum_age, service.maximum_age) == \
            ("Community Counselling", 12, 100)
        assert service.phone == "+44 1234 234567"
    second = _import(runner, examples / "csv")
    assert "created: nothing" in second.output and "updated: nothing" in second.output


def test_import_a_zip_of_the_package(app, runner, examples, tmp_path):
    archive = tmp_path / "package.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in (examples / "csv").iterdir():
            zf.write(path, f"hsds/{path.name}")
    result = _import(runner, archive)
    assert result.exit_code == 0, result.output
    assert _counts(app)[:2] == (1, 1)


@pytest.mark.parametrize("name", ["service_full.json", "organization_full.json",
                                  "service_list.json"])
def test_import_the_json_forms(app, runner, examples, name):
    result = _import(runner, examples / name)
    assert result.exit_code == 0, result.output
    with app.app_context():
        service = db.session().get(Service, uuid.UUID(EXAMPLE_SERVICE))
        assert service.name == "Community Counselling"
    assert "created: nothing" in _import(runner, examples / name).output


def test_round_trip_gives_the_same_package(app, runner, new_database, make_app, tmp_path):
    with app.app_context():
        load_directory()
        db.commit()
    first, second = tmp_path / "first", tmp_path / "second"
    assert runner.invoke(args=["directory", "export", str(first)]).exit_code == 0
    empty = make_app(**_config(*new_database("empty")))
    imported = empty.test_cli_runner().invoke(args=["directory", "import", str(first)])
    assert imported.exit_code == 0, imported.output
    for created in ("40 areas", "40 languages", "40 need domains", "12 organisations",
                    "40 services"):
        assert created in imported.output.split("\n")[1], imported.output
    assert empty.test_cli_runner().invoke(args=["directory", "export",
                                                str(second)]).exit_code == 0
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted(p.name for p in second.iterdir())
    assert len(names) == 23  # 21 HSDS tables, the Dutch additions and the descriptor
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name


def _broken_copy(examples, tmp_path, name, edit):
    folder = tmp_path / "broken"
    shutil.copytree(examples / "csv", folder)
    # A new organisation too, to prove that nothing of the import is saved.
    with open(folder / "organizations.csv", "a", encoding="utf-8") as fh:
        fh.write("11111111-2222-3333-4444-555555555555,Nieuwe Stichting,,Helpt gezinnen.,,,,,,,,,\n")
    path = folder / name
    path.write_bytes(edit(path.read_bytes()))
    return folder


def _replace(old, new):
    return lambda data: data.replace(old.encode(), new.encode(), 1)


@pytest.mark.parametrize(("name", "edit", "message"), [
    ("services.csv", _replace("organization_id,", "organisation,"),
     "services.csv, line 2, field organization_id: empty, but HSDS requires it"),
    ("services.csv", lambda data: data + "ÿ".encode("latin-1") + b"\n",
     "services.csv, line 3: not valid UTF-8"),
    ("services.csv", _replace(",12,100,", ",twelve,100,"),
     "services.csv, line 2, field minimum_age: not a number"),
    ("services.csv", _replace("2005-01-01", "yesterday"),
     "services.csv, line 2, field assured_date: not a date"),
    ("services.csv", _replace(",active,", ",maybe,"),
     "services.csv, line 2, field status: 'maybe' is not one of"),
    ("services.csv", _replace("ac148810-d857-441c-9679-408f346de14b", "service-1"),
     "services.csv, line 2, field id: not an id"),
    ("phones.csv", _replace(",100,voice,", ",one hundred,voice,"),
     "phones.csv, line 2, field extension: not a number"),
    ("locations.csv", _replace(",physical,", ",on the moon,"),
     "locations.csv, line 2, field location_type: 'on the moon' is not one of"),
    ("datapackage.json", lambda data: b"{not json",
     "datapackage.json: not valid JSON"),
])
def test_malformed_file_is_named_and_nothing_is_saved(app, runner, examples, tmp_path, name,
                                                      edit, message):
    before = _counts(app)
    result = _import(runner, _broken_copy(examples, tmp_path, name, edit))
    assert result.exit_code != 0
    assert "Nothing was imported" in result.output and message in result.output, result.output
    assert _counts(app) == before


def test_missing_datapackage_is_refused(runner, examples, tmp_path):
    folder = tmp_path / "no-package"
    shutil.copytree(examples / "csv", folder)
    (folder / "datapackage.json").unlink()
    result = _import(runner, folder)
    assert result.exit_code != 0 and "datapackage.json: missing" in result.output


def test_unknown_terms_are_kept_and_can_be_mapped(app, runner, client, make_user, login,
                                                  examples, tmp_path):
    folder = tmp_path / "linked"
    shutil.copytree(examples / "csv", folder)
    attributes = folder / "attributes.csv"
    attributes.write_text(attributes.read_text().replace(
        "f28dd44b-0c4d-479f-8e90-4c52219a8b3c", EXAMPLE_SERVICE).replace(
        "b02b2,link_type,link_entity", "b02b2,link_type,service"))
    assert _import(runner, folder).exit_code == 0
    terms = runner.invoke(args=["directory", "terms"]).output
    assert "not mapped" in terms
    term_id = terms.split("\t")[0]
    wrong = runner.invoke(args=["directory", "map-term", term_id, "nonsense"])
    assert wrong.exit_code != 0 and "Unknown need domain" in wrong.output
    mapped = runner.invoke(args=["directory", "map-term", term_id, "stress_parenting"])
    assert mapped.exit_code == 0, mapped.output
    with app.app_context():
        assert db.session().exec(select(ServiceDomain.domain_code)).all() == ["stress_parenting"]
    login(make_user("professional"))
    assert "Community Counselling" in client.get(
        "/directory/?domains=stress_parenting&everything=y").text


def test_export_download_for_coordinators_only(app, client, make_user, login, make_service):
    make_service("Schoolontbijt")
    login(make_user("partner", organisation="Stichting Voorbeeld"))
    assert client.get("/directory/export.zip").status_code == 403
    post_form(client, "/logout", {}, page="/")
    login(make_user("coordinator"))
    response = client.get("/directory/export.zip")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    with zipfile.ZipFile(io.BytesIO(response.data)) as archive:
        package = json.loads(archive.read("datapackage.json"))
        assert {r["path"] for r in package["resources"]} >= {"services.csv", "organizations.csv"}
        assert b"Schoolontbijt" in archive.read("services.csv")
