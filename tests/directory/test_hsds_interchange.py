"""HSDS with data and tools nobody here wrote: every example comes back, the export passes
the official descriptor, sparse JSON imports, and nothing is cut or guarded silently."""

import csv
import io
import json
import shutil
import uuid
from pathlib import Path

import pytest
from frictionless import Package

from referral import db
from referral.dev.demo import load_directory
from referral.directory.models import Service, ServiceArea

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "hsds-3.0"
OFFICIAL = EXAMPLES  # with the official descriptor and schemas
SCHEMAS = OFFICIAL / "schema"
ORGANISATION = "d9d5e0f5-d3ce-4f73-9a2f-4dd0ecc6c610"


def _run(runner, *args):
    return runner.invoke(args=["directory", *args])


def _exported(runner, tmp_path):
    folder = tmp_path / "export"
    assert _run(runner, "export", str(folder)).exit_code == 0
    return {path.name: _rows(path) for path in folder.glob("*.csv")}, folder


def _rows(path):
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


def _source_values_csv(folder):
    """(file, id, field, value) of every value of a tabular source."""
    for path in folder.glob("*.csv"):
        for row in _rows(path):
            yield from ((path.name, row["id"], name, value)
                        for name, value in row.items() if value)


def _source_values_json(document):
    """(file, id, field, value) of every scalar of a JSON form, each object's table known
    from the official schema's $ref (phone.json -> phones.csv)."""
    paths = {r["name"]: r["path"] for r in json.loads(
        (OFFICIAL / "official-datapackage.json").read_text())["resources"]}

    def walk(item, table):
        schema = json.loads((SCHEMAS / f"{table}.json").read_text())
        for name, value in item.items():
            spec = schema["properties"].get(name, {})
            ref = spec.get("$ref") or spec.get("items", {}).get("$ref")
            if ref:
                for child in value if isinstance(value, list) else [value]:
                    yield from walk(child, ref.removesuffix(".json"))
            elif value not in (None, ""):
                text = json.dumps(value) if not isinstance(value, str) else value
                yield paths[table], item["id"], name, text

    items = document.get("contents", [document])
    table = "organization" if "services" in document and "status" not in document \
        else "service"
    for item in items:
        yield from walk(item, table)


def _kept_share(values, exported):
    by_id = {(name, row.get("id") or row["service_id"]): row
             for name, rows in exported.items() for row in rows}
    values = list(values)
    same = [v for v in values if by_id.get((v[0], v[1]), {}).get(v[2]) == v[3]]
    return len(same) / len(values), [v for v in values if v not in same]


@pytest.mark.parametrize("name", ["csv", "service_full.json", "organization_full.json",
                                  "service_list.json"])
def test_every_example_comes_back_from_import_and_export(app, runner, tmp_path, name):
    result = _run(runner, "import", str(EXAMPLES / name))
    assert result.exit_code == 0, result.output
    exported, _folder = _exported(runner, tmp_path)
    values = _source_values_csv(EXAMPLES / name) if name == "csv" else \
        _source_values_json(json.loads((EXAMPLES / name).read_text()))
    share, lost = _kept_share(values, exported)
    assert share >= 0.99, lost[:10]


def _validate(descriptor, folder):
    report = Package(descriptor, basepath=str(folder)).validate()
    return [f"{task.name}: {error.message}" for task in report.tasks for error in task.errors]


def test_the_export_passes_the_official_descriptor(app, runner, tmp_path):
    with app.app_context():
        load_directory()
        service = db.session().exec(select_first_service()).first()
        service.description = "-5 euro korting, =gratis voor wie @school zit"
        service.phone = "+31 30 555 0101"
        db.commit()
    exported, folder = _exported(runner, tmp_path)
    official = json.loads((OFFICIAL / "official-datapackage.json").read_text())
    assert _validate(official, folder) == []
    # Its own descriptor: the official one, with the Dutch additions declared beside it.
    own = json.loads((folder / "datapackage.json").read_text())
    assert own["resources"][:-1] == official["resources"]
    assert own["resources"][-1]["path"] == "x_referral_services.csv"
    assert _validate(own, folder) == []
    # An interchange file is no spreadsheet: no apostrophes before + - = @.
    cells = [cell for rows in exported.values() for row in rows for cell in row.values()]
    assert "-5 euro korting, =gratis voor wie @school zit" in cells
    assert "+31 30 555 0101" in cells
    assert not [cell for cell in cells if cell.startswith("'")]


def select_first_service():
    from sqlmodel import select
    return select(Service).order_by(Service.name)


def test_the_shipped_descriptor_and_api_document_are_the_official_ones():
    shipped = Path(__file__).resolve().parents[2] / "referral" / "directory" / "hsds"
    for name, official in (("datapackage.json", "official-datapackage.json"),
                           ("openapi.json", "schema/openapi.json")):
        assert (shipped / name).read_bytes() == (OFFICIAL / official).read_bytes(), name


def test_the_descriptor_paths_are_followed(app, runner, tmp_path):
    folder = tmp_path / "package"
    (folder / "data").mkdir(parents=True)
    descriptor = json.loads((EXAMPLES / "csv" / "datapackage.json").read_text())
    for resource in descriptor["resources"]:
        name = "attribute.csv" if resource["name"] == "attribute" else resource["path"]
        shutil.copy(EXAMPLES / "csv" / resource["path"], folder / "data" / name)
        resource["path"] = f"data/{name}"
    (folder / "datapackage.json").write_text(json.dumps(descriptor))
    (folder / "data" / "notes.csv").write_text("id,text\n1,hello\n")
    result = _run(runner, "import", str(folder))
    assert result.exit_code == 0, result.output
    assert "1 services" in result.output and "1 attribute" in result.output
    assert "note: data/notes.csv: not named in datapackage.json, left out" in result.output


def _service(**fields):
    return {"id": str(uuid.uuid4()), "name": "Buurthulp", "status": "active", **fields}


def _import_json(runner, tmp_path, document, name="source.json"):
    path = tmp_path / name
    path.write_text(json.dumps(document))
    return _run(runner, "import", str(path))


def test_sparse_json_imports_and_says_what_it_could_not_use(app, runner, tmp_path):
    alone = _service()
    result = _import_json(runner, tmp_path, alone)
    assert result.exit_code == 0, result.output
    assert "source.json, $: kept, not used by the directory (no organization_id)" \
        in result.output
    organisation = {"id": ORGANISATION, "name": "Stichting", "description": "Helpt."}
    with_attribute = _service(organization=organisation, minimum_age=0.5,
                              attributes=[{"id": str(uuid.uuid4()), "value": "x"}],
                              service_areas=[{"id": str(uuid.uuid4()), "name": "W" * 300}])
    result = _import_json(runner, tmp_path, with_attribute)
    assert result.exit_code == 0, result.output
    assert "$.attributes[0]: kept, not used (no taxonomy_term_id)" in result.output
    with app.app_context():
        service = db.session().get(Service, uuid.UUID(with_attribute["id"]))
        assert service.minimum_age == 0
        area = db.session().exec(select_area(service.id)).one()
        assert area.municipality_name == "W" * 300  # not cut
    exported, _folder = _exported(runner, tmp_path)
    row = next(r for r in exported["services.csv"] if r["id"] == with_attribute["id"])
    assert row["minimum_age"] == "0.5"
    assert any(r["name"] == "W" * 300 for r in exported["service_areas.csv"])
    assert any(r["id"] == alone["id"] for r in exported["services.csv"])


def select_area(service_id):
    from sqlmodel import select
    return select(ServiceArea).where(ServiceArea.service_id == service_id)


def test_a_service_at_location_and_a_page_with_one_id_many_times(app, runner, tmp_path):
    organisation = {"id": ORGANISATION, "name": "Stichting", "description": "Helpt."}
    service = _service(organization=organisation)
    location = {"id": str(uuid.uuid4()), "location_type": "physical",
                "organization_id": ORGANISATION, "name": "Buurthuis"}
    result = _import_json(runner, tmp_path, {"id": str(uuid.uuid4()), "service": service,
                                             "location": location}, "sal.json")
    assert result.exit_code == 0, result.output
    assert "1 service places" in result.output and "1 places" in result.output
    page = {"total_items": 128, "contents": [
        {**service, "name": f"Buurthulp {n}"} for n in range(128)]}
    result = _import_json(runner, tmp_path, page, "page.json")
    assert result.exit_code == 0, result.output
    assert "page.json, $.contents[1]: the same id as page.json, $.contents[0] with other " \
        "values (name); the first is kept" in result.output
    with app.app_context():
        assert db.session().get(Service, uuid.UUID(service["id"])).name == "Buurthulp 0"


@pytest.mark.parametrize(("document", "message"), [
    ({"contents": [_service(), _service(id="service-1")]},
     "page.json, $.contents[1], field id: not an id (UUID): 'service-1'"),
    ({"contents": [_service(minimum_age="twelve")]},
     "page.json, $.contents[0], field minimum_age: not a number"),
    ({"contents": [_service(phones=[{"id": str(uuid.uuid4())}])]},
     "page.json, $.contents[0].phones[0], field number: empty, but HSDS requires it"),
    ({"contents": [_service(name={"nl": "Buurthulp"})]},
     "page.json, $.contents[0].name: expected a single value, not an object"),
    ([1, 2], "page.json, $: expected a JSON object"),
])
def test_bad_json_is_named_by_file_and_path_and_saves_nothing(app, runner, tmp_path,
                                                              document, message):
    result = _import_json(runner, tmp_path, document, "page.json")
    assert result.exit_code != 0
    assert "Nothing was imported" in result.output and message in result.output, result.output
    with app.app_context():
        assert db.session().exec(select_first_service()).first() is None


def test_what_another_directory_does_not_say_stays_not_known(app, runner, client, make_user,
                                                             login, tmp_path):
    organisation = {"id": ORGANISATION, "name": "Stichting", "description": "Helpt."}
    outside = _service(organization=organisation, description="Buurthulp voor gezinnen.")
    assert _import_json(runner, tmp_path, outside).exit_code == 0
    with app.app_context():
        service = db.session().get(Service, uuid.UUID(outside["id"]))
        assert (service.referral_route, service.capacity) == (None, None)
    login(make_user("professional"))
    page = client.get(f"/directory/services/{outside['id']}").text
    assert "niet bekend: vraag het de organisatie" in page
    assert "Verwijs in deze tool" not in page and "Bellen" not in page
    assert outside["id"] in client.get("/directory/?q=buurthulp").text  # not taken as closed
    exported, _folder = _exported(runner, tmp_path)
    assert not [r for r in exported["x_referral_services.csv"]
                if r["service_id"] == outside["id"]]


def test_the_service_page_shows_what_the_source_says_besides(app, runner, client, make_user,
                                                             login):
    source = EXAMPLES / "service_full.json"
    assert _run(runner, "import", str(source)).exit_code == 0
    login(make_user("professional"))
    page = client.get("/directory/services/ac148810-d857-441c-9679-408f346de14b").text
    for shown in ("Meer uit de bron", "Under 18s and Over 60s", "35 gbp",
                  "Any official identification document", "+44 1234 234567"):
        assert shown in page, shown


def test_a_municipality_twice_is_kept_twice_and_shown_once(app, runner, tmp_path):
    organisation = {"id": ORGANISATION, "name": "Stichting", "description": "Helpt."}
    areas = [{"id": str(uuid.uuid4()), "name": name, "extent": "GM0363",
              "extent_type": "cbs_municipality"} for name in ("Amsterdam", "A'dam")]
    result = _import_json(runner, tmp_path, _service(organization=organisation,
                                                     service_areas=areas))
    assert result.exit_code == 0, result.output
    assert "$.service_areas[1]: kept, not used by the directory (the same as " \
        "source.json, $.service_areas[0])" in result.output
    exported, _folder = _exported(runner, tmp_path)
    assert {r["name"] for r in exported["service_areas.csv"]} == {"Amsterdam", "A'dam"}


def test_a_name_of_only_spaces_is_kept_and_not_shown(app, runner, tmp_path):
    organisation = {"id": ORGANISATION, "name": "   ", "description": "Helpt."}
    result = _import_json(runner, tmp_path, _service(organization=organisation))
    assert result.exit_code == 0, result.output
    assert "$.organization: kept, not used by the directory (no name (only spaces))" \
        in result.output
