"""No HSDS document, however odd, gets a traceback: documents generated from the official
JSON Schema (the compiled service schema with its definitions) import, or are refused with
one message naming the place; and what was imported exports again."""

import json
import uuid
from datetime import UTC
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SCHEMA = json.loads((Path(__file__).resolve().parents[1] / "data" / "hsds-3.0" / "schema"
                     / "compiled" / "service_with_definitions.json").read_text())
DEFINITIONS = SCHEMA["definitions"]
IDS = [str(uuid.UUID(int=n)) for n in range(1, 4)]  # a few, so that ids meet again


def _mostly(meant, allowed):
    """What the schema means, and one time in fifty what it merely allows."""
    return st.integers(0, 49).flatmap(lambda n: allowed if n == 0 else meant)


def _value(spec, depth, required=False):
    if "$ref" in spec:
        return _object(DEFINITIONS[spec["$ref"].rsplit("/", 1)[-1]], depth + 1)
    odd = st.text(max_size=8) | st.none()
    if "enum" in spec:
        return _mostly(st.sampled_from(spec["enum"]), odd)
    kind, form = spec.get("type"), spec.get("format") or spec.get("datapackage_type")
    if kind == "array":
        return st.lists(_value(spec["items"], depth), max_size=2 if depth < 2 else 0)
    if kind == "number":
        return _mostly(st.integers(0, 120) | st.floats(0, 120), st.integers(-10**12, 10**12)
                       | st.floats(allow_nan=False, allow_infinity=False))
    if form == "uuid":
        return _mostly(st.sampled_from(IDS) | st.uuids().map(str), odd)
    if form in ("date-time", "datetime"):
        return _mostly(st.datetimes(timezones=st.just(UTC)).map(lambda m: m.isoformat()), odd)
    if form == "date":
        return _mostly(st.dates().map(str), odd)
    if form == "time":
        return _mostly(st.times().map(str), odd)
    return _mostly(st.text(min_size=1, max_size=30), odd if not required else st.just(""))


def _object(schema, depth=0):
    required = set(schema.get("required", []))
    properties = {name: spec for name, spec in schema["properties"].items()
                  if depth < 3 or ("$ref" not in spec and spec.get("type") != "array")}
    return st.fixed_dictionaries(
        {name: _value(spec, depth, True) for name, spec in properties.items()
         if name in required},
        optional={name: _value(spec, depth) for name, spec in properties.items()
                  if name not in required})


SERVICE = _object(SCHEMA)


def _check(runner, tmp_path, document):
    path = tmp_path / "generated.json"
    path.write_text(json.dumps(document))
    result = runner.invoke(args=["directory", "import", str(path)])
    assert result.exception is None or isinstance(result.exception, SystemExit), \
        repr(result.exception)
    assert "Traceback" not in result.output
    if result.exit_code:
        assert result.output.startswith("Error: Nothing was imported. generated.json, $"), \
            result.output
    exported = runner.invoke(args=["directory", "export", str(tmp_path / "out")])
    assert exported.exit_code == 0, repr(exported.exception)


@settings(max_examples=60, deadline=None, database=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(document=SERVICE | st.lists(SERVICE, max_size=3).map(lambda items: {
    "total_items": len(items), "contents": items}))
def test_generated_documents_import_or_are_refused_by_name(app, runner, tmp_path, document):
    _check(runner, tmp_path, document)
