"""HSDS 3.0 as its official tabular descriptor states it: the 21 tables and their 183
fields in order, each field's type and rules, and how the JSON forms nest the tables.

The descriptor ships with the package unchanged (`datapackage.json`, Open Referral's,
CC BY-SA 4.0; a test holds it equal to the official one), so the rules are read, not
retyped. Values travel as text, as in the tabular form: a JSON number 12 is "12".
"""

import json
import math
import re
import uuid
from datetime import date, datetime, time
from pathlib import Path

DESCRIPTOR = json.loads((Path(__file__).parent / "datapackage.json").read_text("utf-8"))
# The API as Open Referral describes it, served at /api/hsds/openapi.json.
OPENAPI = json.loads((Path(__file__).parent / "openapi.json").read_text("utf-8"))
RESOURCES = {resource["name"]: resource for resource in DESCRIPTOR["resources"]}
FIELDS = {name: [f["name"] for f in r["schema"]["fields"]] for name, r in RESOURCES.items()}
PATHS = {name: r["path"] for name, r in RESOURCES.items()}
TYPES = {(name, f["name"]): f for name, r in RESOURCES.items() for f in r["schema"]["fields"]}
REFERENCES = {name: {fk["fields"]: fk["reference"]["resource"]
                     for fk in r["schema"].get("foreignKeys", [])}
              for name, r in RESOURCES.items()}

# The Dutch additions, in a resource of their own beside the official ones.
EXTENSION = {
    "name": "x_referral_service", "path": "x_referral_services.csv", "format": "csv",
    "mediatype": "text/csv", "profile": "tabular-data-resource",
    "description": "Dutch additions of the referral tool to HSDS services: how a "
                   "professional refers, the income limit, capacity and waiting time.",
    "schema": {"primaryKey": "service_id", "fields": [
        {"name": "service_id", "type": "string", "format": "uuid",
         "constraints": {"required": True, "unique": True}},
        {"name": "income_limit_percent", "type": "integer",
         "description": "Income limit, in percent of the social minimum (sociaal minimum).",
         "constraints": {"minimum": 0, "maximum": 1000}},
        {"name": "referral_route", "type": "string",
         "constraints": {"enum": ["inbox", "phone", "email", "letter"]}},
        {"name": "professional_applies", "type": "boolean"},
        {"name": "capacity", "type": "string",
         "constraints": {"enum": ["open", "waiting_list", "closed"]}},
        {"name": "waiting_weeks", "type": "integer",
         "constraints": {"minimum": 0, "maximum": 520}}],
        "foreignKeys": [{"fields": "service_id",
                         "reference": {"resource": "service", "fields": "id"}}]},
}
EXTENSION_FIELDS = [f["name"] for f in EXTENSION["schema"]["fields"]]
for _field in EXTENSION["schema"]["fields"]:
    TYPES[(EXTENSION["name"], _field["name"])] = _field

# The JSON forms: a list of child objects names the child table; the child points back
# with <parent>_id (attributes with link_id, metadata with resource_id). A single nested
# object is pointed at by the parent's <key>_id.
CHILD_LISTS = {
    "phones": "phone", "schedules": "schedule", "service_areas": "service_area",
    "service_at_locations": "service_at_location", "languages": "language",
    "funding": "funding", "cost_options": "cost_option", "required_documents":
    "required_document", "contacts": "contact", "attributes": "attribute",
    "metadata": "metadata", "addresses": "address", "accessibility": "accessibility",
    "locations": "location", "programs": "program", "services": "service",
    "organization_identifiers": "organization_identifier",
}
SINGLE_CHILDREN = {"organization": ("organization", "organization_id"),
                   "program": ("program", "program_id"),
                   "location": ("location", "location_id"),
                   "service": ("service", "service_id"),
                   "taxonomy_term": ("taxonomy_term", "taxonomy_term_id"),
                   "taxonomy_detail": ("taxonomy", "taxonomy_id")}
# Fields the JSON forms leave out because the nesting says them.
NESTING = {"link_id", "link_entity", "link_type", "resource_id", "resource_type"}


def required(table, *, nested):
    """The fields a row must have: the descriptor's, less the links a JSON form nests."""
    fields = [f for f in FIELDS[table] if TYPES[table, f].get("constraints", {}).get("required")]
    if nested:
        fields = [f for f in fields if f not in REFERENCES[table] and f not in NESTING]
    return fields


def text_of(value):
    """A JSON value as the tabular form writes it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return value


def problem(table, field, text):
    """What is wrong with a field's text under the descriptor's rules, or None."""
    if "\x00" in text:
        return "holds a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "not valid Unicode"
    spec = TYPES[table, field]
    kind = spec["type"]
    if spec.get("format") == "uuid" and not _is_uuid(text):
        return f"not an id (UUID): {text[:40]!r}"
    if kind == "number" and not _is_number(text):
        return f"not a number: {text[:20]!r}"
    if kind == "integer" and not re.fullmatch(r"-?\d{1,9}", text):
        return f"not a whole number: {text[:20]!r}"
    if kind in ("date", "datetime", "time"):
        parse = {"date": date.fromisoformat, "time": time.fromisoformat,
                 "datetime": datetime.fromisoformat}[kind]
        try:
            parse(text)
        except ValueError:
            return f"not a {kind} (ISO 8601): {text[:30]!r}"
    if kind == "boolean" and text not in ("true", "false"):
        return f"not true or false: {text[:20]!r}"
    constraints = spec.get("constraints", {})
    if "enum" in constraints and text not in constraints["enum"]:
        return f"{text[:40]!r} is not one of {', '.join(constraints['enum'])}"
    if kind == "integer" and not (constraints.get("minimum", -math.inf) <= int(text)
                                  <= constraints.get("maximum", math.inf)):
        return f"not from {constraints['minimum']} to {constraints['maximum']}: {text}"
    return None


def _is_uuid(text):
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def _is_number(text):
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False
