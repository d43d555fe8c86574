"""The HSDS API as Open Referral's OpenAPI document describes it: every answer validated
against the official schemas, the filters and pages, conditional requests, what stays out,
statements that do not grow with the directory, and Schemathesis driving every operation."""

import copy
import json
import threading
import uuid
from pathlib import Path

import jsonschema
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)
from sqlmodel import select
from werkzeug.serving import make_server

from referral import db
from referral.dev.demo import load_directory
from referral.directory.models import Organisation, Service
from tests.conftest import _config, counted_queries, free_port

# Open Referral's examples, descriptor and schemas, unchanged (see its README).
OFFICIAL = EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "hsds-3.0"
REMOTE = "https://raw.githubusercontent.com/openreferral/specification/3.0/schema/"
EXAMPLE_SERVICE = "ac148810-d857-441c-9679-408f346de14b"


def _schema_file(path):
    """An official schema by its path under schema/; the compiled service and organization
    are not in the copy, so their parts are put together from schema/*.json."""
    if not (OFFICIAL / "schema" / path).exists():
        path = path.removeprefix("compiled/")
    return json.loads((OFFICIAL / "schema" / path).read_text()), path


def _inline(node, document, folder=""):
    """The schema with every $ref replaced by what it points at (they do not cycle)."""
    if isinstance(node, list):
        return [_inline(item, document, folder) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        ref = node["$ref"]
        if ref.startswith("#/"):
            target = document
            for part in ref[2:].split("/"):
                target = target[part]
            return _inline(target, document, folder)
        path = ref.removeprefix(REMOTE) if ref.startswith(REMOTE) else folder + ref
        schema, path = _schema_file(path)
        return _inline(schema, schema, path.rpartition("/")[0] + "/" if "/" in path else "")
    return {key: _inline(value, document, folder) for key, value in node.items()}


def api_document():
    """The official OpenAPI document, self-contained (no network here), served under
    /api/hsds. One erratum: it gives /service_at_locations/{id} the service schema; the
    answer is a service_at_location."""
    document = json.loads((OFFICIAL / "schema" / "openapi.json").read_text())
    document = copy.deepcopy(document)
    sal = document["paths"]["/service_at_locations/{id}"]["get"]["responses"]["200"]
    sal["content"]["application/json"]["schema"] = {"$ref": REMOTE + "service_at_location.json"}
    inlined = _inline(document, document)
    inlined["servers"] = [{"url": "/api/hsds"}]
    inlined["info"]["version"] = "3.0"
    return inlined


DOCUMENT = api_document()


VALIDATORS = {path: jsonschema.Draft202012Validator(
    operation["get"]["responses"]["200"]["content"]["application/json"]["schema"],
    format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    for path, operation in DOCUMENT["paths"].items()}


def _valid(client, url, path):
    response = client.get(url)
    assert response.status_code == 200, (url, response.text[:300])
    errors = [f"{list(e.absolute_path)}: {e.message[:200]}"
              for e in VALIDATORS[path].iter_errors(response.json)]
    assert errors == [], url
    return response


@pytest.fixture
def directory(app, runner):
    """The demo directory and the official example (with a location, a contact, …)."""
    with app.app_context():
        load_directory()
        db.commit()
    assert runner.invoke(args=["directory", "import", str(EXAMPLES / "csv")]).exit_code == 0
    return app


def test_every_answer_validates_against_the_official_schemas(directory, client):
    root = client.get("/api/hsds/").json
    assert root["version"] == "3.0" and root["openapi_url"].endswith("/api/hsds/openapi.json")
    assert client.get("/api/hsds/openapi.json").json["paths"].keys() == DOCUMENT["paths"].keys()
    services = _valid(client, "/api/hsds/services?per_page=100", "/services").json
    assert services["total_items"] == 41 and services["size"] == 41
    _valid(client, "/api/hsds/services?full=true&per_page=5", "/services")
    for item in services["contents"]:
        full = _valid(client, f"/api/hsds/services/{item['id']}", "/services/{id}").json
        assert full["organization"]["id"] == item["organization_id"]
    organizations = _valid(client, "/api/hsds/organizations?full=true", "/organizations").json
    for item in organizations["contents"]:
        _valid(client, f"/api/hsds/organizations/{item['id']}", "/organizations/{id}")
    for path, key in (("/taxonomies", "/taxonomies/{id}"),
                      ("/taxonomy_terms", "/taxonomy_terms/{id}"),
                      ("/service_at_locations", "/service_at_locations/{id}")):
        listed = _valid(client, f"/api/hsds{path}?per_page=1000", path).json
        assert listed["contents"], path
        for item in listed["contents"]:
            _valid(client, f"/api/hsds{path}/{item['id']}", key)


def test_the_example_comes_nested_and_without_its_contact(directory, client):
    service = client.get(f"/api/hsds/services/{EXAMPLE_SERVICE}").json
    assert service["phones"][0]["number"] == '"+44 1234 234567"'
    assert service["phones"][0]["extension"] == 100  # a number, as the schema has it
    assert service["minimum_age"] == 12 and service["program"]["name"]
    assert "contacts" not in service and "metadata" not in service
    everything = json.dumps([client.get(f"/api/hsds/{path}?full=true&per_page=1000").json
                             for path in ("services", "organizations",
                                          "service_at_locations")])
    assert "Ann Persona" not in everything  # the example's contact person
    assert "Ann Persona" not in client.get(f"/api/hsds/services/{EXAMPLE_SERVICE}").text


def test_filters_and_pages(directory, client):
    def ids(url):
        return [item["id"] for item in client.get(url).json["contents"]]

    everything = ids("/api/hsds/services?per_page=1000")
    pages = [client.get(f"/api/hsds/services?per_page=10&page={n}").json for n in (1, 5)]
    assert pages[0]["total_pages"] == 5 and pages[0]["first_page"]
    assert pages[1]["last_page"] and pages[1]["size"] == 1
    assert [i["id"] for i in pages[0]["contents"]] == everything[:10]
    assert client.get("/api/hsds/services?page=9").json["empty"] is False
    assert client.get("/api/hsds/services?page=9").json["contents"] == []
    food = ids("/api/hsds/services?search=voedsel&per_page=1000")
    assert food and set(food) < set(everything)
    with directory.app_context():
        session = db.session()
        bank = session.exec(select(Organisation).where(
            Organisation.name.like("Voedselbank%"))).one()
        own = {str(s.id) for s in session.exec(select(Service).where(
            Service.organisation_id == bank.id))}
    assert set(ids(f"/api/hsds/services?organization_id={bank.id}&per_page=1000")) == own
    term = next(t for t in client.get("/api/hsds/taxonomy_terms?per_page=1000").json["contents"]
                if t.get("code") == "food")
    by_term = ids(f"/api/hsds/services?taxonomy_term_id={term['id']}&per_page=1000")
    assert by_term and all(
        any(a["taxonomy_term_id"] == term["id"]
            for a in client.get(f"/api/hsds/services/{i}").json["attributes"])
        for i in by_term)
    assert ids(f"/api/hsds/services?taxonomy_id={term['taxonomy_id']}&per_page=1000")
    assert ids("/api/hsds/services?modified_after=2999-01-01T00:00:00Z") == []
    assert set(ids("/api/hsds/services?modified_after=2000-01-01&per_page=1000")) \
        == set(everything)
    minimal = client.get("/api/hsds/services?minimal=true&per_page=1").json["contents"][0]
    assert set(minimal) == {"id", "name", "status", "last_modified"}
    for bad in ("page=nul", "per_page=0", "per_page=100000", "full=misschien",
                "modified_after=gisteren"):
        response = client.get(f"/api/hsds/services?{bad}")
        assert response.status_code == 400 and response.json["error"], bad


def test_only_active_services_of_active_organisations(directory, client):
    with directory.app_context():
        session = db.session()
        closed = session.get(Service, uuid.UUID(EXAMPLE_SERVICE))
        closed.status = "inactive"
        bank = session.exec(select(Organisation).where(
            Organisation.name.like("Voedselbank%"))).one()
        bank.active = False
        hidden = {str(s.id) for s in session.exec(select(Service).where(
            Service.organisation_id == bank.id))}
        db.commit()
    listed = {i["id"] for i in client.get("/api/hsds/services?per_page=1000").json["contents"]}
    assert EXAMPLE_SERVICE not in listed and not hidden & listed
    assert client.get(f"/api/hsds/services/{EXAMPLE_SERVICE}").status_code == 404
    assert client.get(f"/api/hsds/organizations/{bank.id}").status_code == 404
    missing = client.get(f"/api/hsds/services/{uuid.uuid4()}")
    assert missing.status_code == 404 and missing.json == {"error": "No such service."}


def test_an_alliance_can_keep_its_directory_unpublished(directory, make_app):
    closed = make_app(HSDS_API=False).test_client()
    for path in ("/api/hsds/", "/api/hsds/services", f"/api/hsds/services/{EXAMPLE_SERVICE}"):
        response = closed.get(path)
        assert response.status_code == 404 and "does not publish" in response.json["error"]


def test_conditional_requests(directory, client):
    first = client.get(f"/api/hsds/services/{EXAMPLE_SERVICE}")
    assert first.headers["ETag"] and first.headers["Last-Modified"]
    assert first.headers["Cache-Control"] == "no-cache"
    assert first.headers["Access-Control-Allow-Origin"] == "*"
    again = client.get(f"/api/hsds/services/{EXAMPLE_SERVICE}",
                       headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    since = client.get(f"/api/hsds/services/{EXAMPLE_SERVICE}",
                       headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304
    with directory.app_context():
        db.session().get(Service, uuid.UUID(EXAMPLE_SERVICE)).name = "Counselling"
        db.commit()
    changed = client.get(f"/api/hsds/services/{EXAMPLE_SERVICE}",
                         headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.json["name"] == "Counselling"


def test_statements_do_not_grow_with_the_directory(app, runner, client):
    def count(path):
        with counted_queries(app) as statements:
            assert client.get(path).status_code == 200
        return len(statements)

    paths = ["/api/hsds/services", "/api/hsds/organizations?full=true",
             "/api/hsds/service_at_locations", "/api/hsds/taxonomy_terms"]
    assert runner.invoke(args=["directory", "import", str(EXAMPLES / "csv")]).exit_code == 0
    small = [count(path) for path in paths]
    with app.app_context():
        load_directory()
        db.commit()
    assert [count(path) for path in paths] == small


@pytest.mark.slow
def test_schemathesis_drives_every_operation(directory):
    schema = schemathesis.openapi.from_dict(DOCUMENT)
    checks = [not_a_server_error, content_type_conformance, response_schema_conformance]
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 11
    answered = set()
    for operation in operations:
        @settings(max_examples=25, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def check(case):
            response = case.call_and_validate(app=directory, checks=checks)
            if response.status_code == 200:
                answered.add(case.operation.path)

        check()
    # Every list and the root answered with a body the schema checked, not only errors.
    assert {"/", "/services", "/organizations", "/taxonomies", "/taxonomy_terms",
            "/service_at_locations"} <= answered


@pytest.fixture
def served(make_app, new_database):
    """Another alliance's directory (the demo's and the official example), served by its
    own app on a loopback port: the base address of its HSDS API."""
    other = make_app(**_config(*new_database("other")))
    with other.app_context():
        load_directory()
        db.commit()
    assert other.test_cli_runner().invoke(args=["directory", "import",
                                                str(EXAMPLES / "csv")]).exit_code == 0
    server = make_server("127.0.0.1", 0, other, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/api/hsds", other
    server.shutdown()
    thread.join()
    server.server_close()


def test_import_from_another_alliances_api_page_by_page(app, runner, served, monkeypatch):
    base, other = served
    monkeypatch.setattr("referral.directory.hsds.source.PAGE_SIZE", 10)
    result = runner.invoke(args=["directory", "import", base + "/"])
    assert result.exit_code == 0, result.output
    assert "read page 5 of 5" in result.output and "41 services" in result.output
    again = runner.invoke(args=["directory", "import", base + "/services"])
    assert "created: nothing" in again.output and "updated: nothing" in again.output
    with app.app_context():
        here = {str(s.id): (s.name, s.organisation_id, s.minimum_age, s.phone)
                for s in db.session().exec(select(Service))}
    with other.app_context():
        there = {str(s.id): (s.name, s.organisation_id, s.minimum_age, s.phone)
                 for s in db.session().exec(select(Service))}
    assert here == there


def test_an_api_that_fails_is_named_and_nothing_is_saved(app, runner, served):
    base, _other = served
    for source, message in ((base.replace("/api/hsds", "/api/nergens"), "answered 404"),
                            (f"http://127.0.0.1:{free_port()}/api/hsds", "not reachable")):
        result = runner.invoke(args=["directory", "import", source])
        assert result.exit_code != 0 and "Nothing was imported" in result.output
        assert message in result.output and "/services?full=true&page=1" in result.output
    with app.app_context():
        assert db.session().exec(select(Service)).first() is None
