"""The directory as the JSON objects of HSDS 3.0 (for the API): rows of the tabular form,
typed as the schemas type them and nested as the JSON forms nest them.

Contacts and metadata stay out: an imported contact or change note may name a person, and
the API is public.
"""

import re
from collections import defaultdict

from referral.directory.hsds import spec

# Per object: its lists of children (key: table) and the single objects it holds.
LISTS = {
    "service": {"phones": "phone", "schedules": "schedule", "service_areas": "service_area",
                "service_at_locations": "service_at_location", "languages": "language",
                "funding": "funding", "cost_options": "cost_option",
                "required_documents": "required_document", "attributes": "attribute"},
    "organization": {"funding": "funding", "phones": "phone", "locations": "location",
                     "programs": "program", "organization_identifiers":
                     "organization_identifier", "attributes": "attribute"},
    "service_at_location": {"phones": "phone", "schedules": "schedule",
                            "attributes": "attribute"},
    "location": {"languages": "language", "addresses": "address",
                 "accessibility": "accessibility", "phones": "phone",
                 "schedules": "schedule", "attributes": "attribute"},
    "phone": {"languages": "language", "attributes": "attribute"},
}
SINGLE = {"service": {"organization": ("organization", "organization_id"),
                      "program": ("program", "program_id")},
          "service_at_location": {"location": ("location", "location_id")},
          "attribute": {"taxonomy_term": ("taxonomy_term", "taxonomy_term_id")},
          "taxonomy_term": {"taxonomy_detail": ("taxonomy", "taxonomy_id")}}


def typed(table, row):
    """A row's texts as JSON values: numbers as numbers, the rest as the text it is."""
    values = {}
    for name in spec.FIELDS[table]:
        text = row.get(name)
        if not text:
            continue
        if spec.TYPES[table, name]["type"] == "number":
            values[name] = int(text) if re.fullmatch(r"-?\d+", text) else float(text)
        else:
            values[name] = text
    return values


class Directory:
    """The tables of an export, indexed to look up rows and nest their children."""

    def __init__(self, tables):
        self.rows = {table: {row["id"].lower(): row for row in tables[table]}
                     for table in spec.FIELDS}
        self.index()

    def index(self):
        """Look up children by parent (again, after rows were left out)."""
        self.children = defaultdict(list)  # (table, parent table, parent id): rows
        for table, rows in self.rows.items():
            for row in rows.values():
                for name, value in row.items():
                    if name.endswith("_id") and name != "id" and value:
                        self.children[table, name.removesuffix("_id"), value.lower()].append(row)
                if table == "attribute" and row.get("link_id"):
                    parent = row.get("link_entity") or "service"
                    self.children[table, parent, row["link_id"].lower()].append(row)

    def get(self, table, ident):
        return self.rows[table].get((ident or "").lower())

    def full(self, table, row, depth=0):
        """The object with everything nested under it (a few levels deep)."""
        item = typed(table, row)
        ident = row["id"].lower()
        for key, child in LISTS.get(table, {}).items():
            if depth < 3:
                item[key] = [self.full(child, r, depth + 1)
                             for r in sorted(self.children[child, table, ident],
                                             key=lambda r: r["id"])]
        for key, (child, pointer) in SINGLE.get(table, {}).items():
            target = self.get(child, row.get(pointer))
            if target is not None and depth < 4:
                item[key] = self.full(child, target, depth + 1) if child != "organization" \
                    else typed(child, target)
        return item

    def service_brief(self, row):
        """A service of a list page: its own fields, its organization and program."""
        item = typed("service", row)
        for key, (child, pointer) in SINGLE["service"].items():
            target = self.get(child, row.get(pointer))
            if target is not None:
                item[key] = typed(child, target)
        return item
