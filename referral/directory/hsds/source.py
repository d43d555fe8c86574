"""Read an HSDS 3.0 source into rows: a tabular package (a folder or a zip, its files found
by the descriptor's resource paths) or any of the JSON forms (one service, organization or
service_at_location, or a page of them), nested objects unfolded into their tables.

Every row knows where it came from ("services.csv, line 4" or "page.json, $.contents[2]
.phones[0]"), so an error names the real file and place. What is left out is said.
"""

import csv
import io
import json
import posixpath
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from referral.directory.hsds import spec
from referral.errors import Refused


class HsdsError(Refused):
    """A source that cannot be imported: names the file, the place and the rule (for the
    operator at the command line, in English like the format's own names)."""

    def __init__(self, where, problem, *, field=None):
        super().__init__(", ".join(filter(None, [where, field and f"field {field}"]))
                         + f": {problem}")


@dataclass
class Row:
    table: str
    where: str
    values: dict  # field: text, only the fields the source gives
    nested: bool = False  # from a JSON form, where nesting says the links


@dataclass
class Source:
    rows: dict = field(default_factory=dict)  # table: [Row]
    notes: list = field(default_factory=list)  # what was left out, and why

    def add(self, row):
        self.rows.setdefault(row.table, []).append(row)


def read_source(path, *, progress=None):
    """The rows of an HSDS source: a folder or zip with a package, a JSON file, or the
    address of an HSDS API (read page by page; `progress(page, pages)` after each)."""
    if str(path).startswith(("http://", "https://")):
        return read_api(str(path), progress=progress)
    path = Path(path)
    if path.is_dir():
        return read_package({p.relative_to(path).as_posix(): p.read_bytes()
                             for p in path.rglob("*") if p.is_file()})
    if path.suffix == ".zip":
        try:
            with zipfile.ZipFile(path) as archive:
                return read_package({n: archive.read(n) for n in archive.namelist()
                                     if not n.endswith("/")})
        except zipfile.BadZipFile as exc:
            raise HsdsError(path.name, "not a valid zip file") from exc
    if path.suffix == ".json":
        source = Source()
        read_json(source, path.name, _json(path.name, path.read_bytes()))
        return source
    raise HsdsError(path.name, "expected a folder, a .zip or a .json file")


def _decode(name, data):
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise HsdsError(f"{name}, line {line}", "not valid UTF-8") from exc


def _json(name, data):
    try:
        return json.loads(_decode(name, data))
    except ValueError as exc:
        raise HsdsError(name, f"not valid JSON ({exc})") from exc


# ---- the tabular package ---------------------------------------------------------------

def read_package(files):
    """Rows from a package's files ({path inside the package: bytes})."""
    descriptors = sorted((p for p in files if posixpath.basename(p) == "datapackage.json"),
                         key=lambda p: (p.count("/"), p))
    if not descriptors:
        raise HsdsError("datapackage.json", "missing: an HSDS tabular package describes itself")
    base = posixpath.dirname(descriptors[0])
    descriptor = _json(descriptors[0], files[descriptors[0]])
    resources = descriptor.get("resources") if isinstance(descriptor, dict) else None
    if not isinstance(resources, list) or not resources:
        raise HsdsError("datapackage.json", "lists no resources")
    by_path = {path: name for name, path in spec.PATHS.items()}
    by_path[spec.EXTENSION["path"]] = spec.EXTENSION["name"]
    source, used = Source(), set()
    for number, resource in enumerate(resources):
        place = f"datapackage.json, resources[{number}]"
        if not isinstance(resource, dict) or not isinstance(resource.get("path"), str):
            raise HsdsError(place, "a resource needs a path (one file)")
        name, path = resource.get("name"), resource["path"]
        table = name if name in spec.FIELDS or name == spec.EXTENSION["name"] else \
            by_path.get(posixpath.basename(path))
        full = posixpath.normpath(posixpath.join(base, path))
        if table is None:
            source.notes.append(f"{path}: not an HSDS 3.0 table ({name!r}), left out")
        elif full not in files:
            source.notes.append(f"{path}: named in datapackage.json, not in the package")
        else:
            used.add(full)
            _read_csv(source, table, path, files[full])
    for path in sorted(files):
        if path.endswith(".csv") and path not in used:
            source.notes.append(f"{path}: not named in datapackage.json, left out")
    return source


def _read_csv(source, table, name, data):
    known = spec.FIELDS.get(table) or spec.EXTENSION_FIELDS
    reader = csv.DictReader(io.StringIO(_decode(name, data), newline=""))
    columns = reader.fieldnames or []
    if "id" not in columns and "service_id" not in columns:
        raise HsdsError(name, "no id column")
    for column in columns:
        if column not in known:
            source.notes.append(f"{name}, column {column}: not an HSDS 3.0 field, left out")
    source.rows.setdefault(table, [])
    for values in reader:
        if None in values:
            raise HsdsError(f"{name}, line {reader.line_num}", "more cells than columns")
        source.add(Row(table, f"{name}, line {reader.line_num}",
                       {k: v for k, v in values.items() if k in known and v}))


# ---- an HSDS API -----------------------------------------------------------------------

PAGE_SIZE = 100
LARGEST_ANSWER = 50 * 1024 * 1024


def read_api(address, *, progress=None):
    """Every service of an HSDS API, fully nested, page by page: from its base address
    (…/api/hsds) or its /services address."""
    base = address.split("?")[0].rstrip("/").removesuffix("/services")
    source, page = Source(), 1
    while True:
        url = f"{base}/services?full=true&page={page}&per_page={PAGE_SIZE}"
        document = _fetch(url)
        if not isinstance(document, dict) or not isinstance(document.get("contents"), list):
            raise HsdsError(url, "not a page of services (no contents)")
        read_json(source, url, document)
        pages = document.get("total_pages")
        pages = pages if isinstance(pages, int) and not isinstance(pages, bool) else page
        if progress:
            progress(page, pages)
        if not document["contents"] or document.get("last_page") is True or page >= pages:
            return source
        page += 1


def _fetch(url):
    # http or https only: read_source sends nothing else here.
    request = urllib.request.Request(url, headers={  # noqa: S310
        "Accept": "application/json", "User-Agent": "referral-directory-import"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310  # nosec B310
            data = response.read(LARGEST_ANSWER + 1)
    except urllib.error.HTTPError as exc:
        exc.close()  # the error holds the answer and its connection
        raise HsdsError(url, f"the API answered {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise HsdsError(url, f"not reachable ({getattr(exc, 'reason', exc)})") from exc
    if len(data) > LARGEST_ANSWER:
        raise HsdsError(url, "an answer larger than 50 MB")
    return _json(url, data)


# ---- the JSON forms --------------------------------------------------------------------

def kind_of(item):
    """Which HSDS object a JSON object is, by the fields only it has."""
    if "status" in item:
        return "service"
    if {"service", "location"} & item.keys() or {"service_id", "location_id"} <= item.keys():
        return "service_at_location"
    if {"taxonomy", "taxonomy_id", "parent_id", "taxonomy_detail", "code",
            "term_uri"} & item.keys():
        return "taxonomy_term"
    if "version" in item and not {"services", "website"} & item.keys():
        return "taxonomy"
    return "organization"


def read_json(source, name, document):
    """Unfold a JSON form (one object, or a page with `contents`) into the source."""
    if isinstance(document, dict) and isinstance(document.get("contents"), list):
        items = [(f"$.contents[{n}]", item) for n, item in enumerate(document["contents"])]
    elif isinstance(document, dict):
        items = [("$", document)]
    else:
        raise HsdsError(f"{name}, $", "expected a JSON object (or a page with contents)")
    for path, item in items:
        if not isinstance(item, dict):
            raise HsdsError(f"{name}, {path}", "expected a JSON object")
        _unfold(source, name, kind_of(item), item, path, {})


def _unfold(source, name, table, item, path, links):
    values = {}
    for key, value in item.items():
        where = f"{path}.{key}"
        if value is None or value == "":
            continue
        if key in spec.CHILD_LISTS and isinstance(value, list):
            continue  # after this row's id is known
        if key in spec.SINGLE_CHILDREN and isinstance(value, dict):
            continue
        if key not in spec.FIELDS[table]:
            source.notes.append(f"{name}, {where}: not an HSDS 3.0 field of {table}, left out")
        elif isinstance(value, (dict, list)):
            raise HsdsError(f"{name}, {where}", f"expected a single value, not "
                            f"{'an object' if isinstance(value, dict) else 'a list'}")
        else:
            values[key] = spec.text_of(value)
    for key, value in links.items():
        if key in spec.FIELDS[table]:
            values.setdefault(key, value)
    for key, (child_table, pointer) in spec.SINGLE_CHILDREN.items():
        child = item.get(key)
        if isinstance(child, dict) and pointer in spec.FIELDS[table]:
            if isinstance(child.get("id"), str):
                values.setdefault(pointer, child["id"])
            _unfold(source, name, child_table, child, f"{path}.{key}", {})
    source.add(Row(table, f"{name}, {path}", values, nested=True))
    own = values.get("id")
    for key, child_table in spec.CHILD_LISTS.items():
        children = item.get(key)
        if not isinstance(children, list):
            continue
        back = {f"{table}_id": own, "link_id": own, "link_entity": table,
                "resource_id": own, "resource_type": table} if own else {}
        for number, child in enumerate(children):
            where = f"{path}.{key}[{number}]"
            if not isinstance(child, dict):
                raise HsdsError(f"{name}, {where}", "expected a JSON object")
            _unfold(source, name, child_table, child, where, back)
