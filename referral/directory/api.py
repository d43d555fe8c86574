"""The HSDS 3.0 read-only API, as Open Referral's OpenAPI document describes it, so that
sociale-kaart sites, search engines and other alliances read the directory without a file.

Public by design: the directory describes organisations and services, never families; it
shows active services of active organisations only, and leaves out imported contacts and
change notes, which may name a person. Answers carry an ETag and Last-Modified and answer
a conditional request with 304.
"""

import math
from datetime import UTC, datetime

from flask import Blueprint, abort, current_app, jsonify, request, url_for

from referral.directory import queries
from referral.directory.hsds.documents import typed
from referral.directory.hsds.spec import OPENAPI
from referral.directory.models import fold

bp = Blueprint("hsds_api", __name__, url_prefix="/api/hsds")
PER_PAGE, MAX_PER_PAGE = 50, 1000
PROFILE = "https://openreferral.org/"


@bp.before_request
def _open():
    if not current_app.config["HSDS_API"]:
        abort(404, "This directory does not publish its HSDS API.")


@bp.errorhandler(400)
@bp.errorhandler(404)
def _error(error):
    return _send({"error": error.description}, status=error.code)


@bp.get("/")
def root():
    return _send({"version": "3.0", "profile": PROFILE,
                  "openapi_url": url_for("hsds_api.openapi", _external=True)})


@bp.get("/openapi.json")
def openapi():
    return _send(OPENAPI)


@bp.get("/services")
def services():
    directory, texts = queries.hsds_public()
    rows = _sorted(directory.rows["service"])
    if words := fold(_text("search")).split():
        rows = [r for r in rows if all(w in texts[r["id"].lower()] for w in words)]
    if organisation := _text("organization_id").lower():
        rows = [r for r in rows if r.get("organization_id", "").lower() == organisation]
    terms = _terms(directory)
    if terms is not None:
        rows = [r for r in rows if terms & {a.get("taxonomy_term_id", "").lower() for a in
                                            directory.children["attribute", "service",
                                                               r["id"].lower()]}]
    if (after := _moment("modified_after")) is not None:
        rows = [r for r in rows if r.get("last_modified")
                and datetime.fromisoformat(r["last_modified"]) >= after]
    if _flag("minimal"):
        # Id and last change, with the name and status the list's schema requires.
        items = [{k: r[k] for k in ("id", "name", "status", "last_modified") if r.get(k)}
                 for r in rows]
    elif _flag("full"):
        items = [directory.full("service", r) for r in rows]
    else:
        items = [directory.service_brief(r) for r in rows]
    return _send(_page(items), rows)


@bp.get("/services/<ident>")
def service(ident):
    directory, row = _one("service", ident, "service")
    return _send(directory.full("service", row), [row])


@bp.get("/organizations")
def organizations():
    directory, rows = _listed("organization")
    rows = _searched(rows, ("name", "alternate_name", "description"))
    full = _flag("full")
    return _send(_page([_organization(directory, r, services=full) for r in rows]))


@bp.get("/organizations/<ident>")
def organization(ident):
    directory, row = _one("organization", ident, "organization")
    return _send(_organization(directory, row, services=True))


@bp.get("/taxonomies")
def taxonomies():
    directory, rows = _listed("taxonomy")
    rows = _searched(rows, ("name", "description"))
    return _send(_page([directory.full("taxonomy", r) for r in rows]))


@bp.get("/taxonomies/<ident>")
def taxonomy(ident):
    directory, row = _one("taxonomy", ident, "taxonomy")
    return _send(directory.full("taxonomy", row))


@bp.get("/taxonomy_terms")
def taxonomy_terms():
    directory, rows = _listed("taxonomy_term")
    rows = _searched(rows, ("name", "description", "code"))
    if taxonomy_id := _text("taxonomy_id").lower():
        rows = [r for r in rows if r.get("taxonomy_id", "").lower() == taxonomy_id]
    if parent := _text("parent_id").lower():
        rows = [r for r in rows if r.get("parent_id", "").lower() == parent]
    if _flag("top_only"):
        parents = {r.get("parent_id", "").lower() for r in directory.rows["taxonomy_term"].values()}
        rows = [r for r in rows if r["id"].lower() not in parents]
    return _send(_page([directory.full("taxonomy_term", r) for r in rows]))


@bp.get("/taxonomy_terms/<ident>")
def taxonomy_term(ident):
    directory, row = _one("taxonomy_term", ident, "taxonomy term")
    return _send(directory.full("taxonomy_term", row))


@bp.get("/service_at_locations")
def service_at_locations():
    directory, rows = _listed("service_at_location")
    if organisation := _text("organization_id").lower():
        rows = [r for r in rows if (directory.get("service", r.get("service_id")) or {}).get(
            "organization_id", "").lower() == organisation]
    full = _flag("full")
    return _send(_page([_service_at_location(directory, r, full=full) for r in rows]))


@bp.get("/service_at_locations/<ident>")
def service_at_location(ident):
    directory, row = _one("service_at_location", ident, "service at a location")
    return _send(_service_at_location(directory, row, full=True))


# ---- helpers ---------------------------------------------------------------------------

def _one(table, ident, what):
    """The public directory and the row of that id, or a 404 naming what was asked."""
    directory, _texts = queries.hsds_public()
    return directory, directory.get(table, ident) or abort(404, f"No such {what}.")


def _listed(table):
    """The public directory and the table's rows, in id order."""
    directory, _texts = queries.hsds_public()
    return directory, _sorted(directory.rows[table])


def _sorted(rows):
    return sorted(rows.values(), key=lambda row: row["id"])


def _organization(directory, row, *, services):
    if not services:
        return typed("organization", row)
    item = directory.full("organization", row)
    item["services"] = [directory.service_brief(s) for s in sorted(
        directory.children["service", "organization", row["id"].lower()],
        key=lambda s: s["id"]) if directory.get("service", s["id"])]
    return item


def _service_at_location(directory, row, *, full):
    item = directory.full("service_at_location", row) if full \
        else typed("service_at_location", row)
    if (location := directory.get("location", row.get("location_id"))) and not full:
        item["location"] = typed("location", location)
    if service := directory.get("service", row.get("service_id")):
        item["service"] = directory.service_brief(service)
    return item


def _searched(rows, fields):
    words = fold(_text("search")).split()
    return [r for r in rows if all(w in fold(" ".join(r.get(f, "") for f in fields))
                                   for w in words)]


def _terms(directory):
    """The term ids a request filters on (taxonomy_term_id, or every term of
    taxonomy_id), or None when it does not filter."""
    term, taxonomy = _text("taxonomy_term_id").lower(), _text("taxonomy_id").lower()
    if not term and not taxonomy:
        return None
    terms = {term} if term else set()
    if taxonomy:
        found = {t["id"].lower() for t in directory.rows["taxonomy_term"].values()
                 if t.get("taxonomy_id", "").lower() == taxonomy}
        terms = terms & found if term else found
    return terms


def _text(name):
    value = request.args.get(name, "")
    if len(value) > 200:
        abort(400, f"{name}: at most 200 characters.")
    return value.strip()


def _number(name, default, low, high):
    value = request.args.get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        abort(400, f"{name}: a whole number, please.")
    if not low <= number <= high:
        abort(400, f"{name}: from {low} to {high}.")
    return number


def _flag(name):
    value = request.args.get(name, "").lower()
    if value not in ("", "true", "false", "1", "0"):
        abort(400, f"{name}: true or false.")
    return value in ("true", "1")


def _moment(name):
    value = _text(name)
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        abort(400, f"{name}: a date and time like 2026-01-31T12:00:00Z.")
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _page(items):
    per_page = _number("per_page", PER_PAGE, 1, MAX_PER_PAGE)
    pages = max(1, math.ceil(len(items) / per_page))
    page = _number("page", 1, 1, 10**6)
    contents = items[(page - 1) * per_page:page * per_page]
    return {"total_items": len(items), "total_pages": pages, "page_number": page,
            "size": len(contents), "first_page": page == 1, "last_page": page >= pages,
            "empty": not items, "contents": contents}


def _send(body, rows=(), status=200):
    """JSON for everyone (CORS), revalidated on every use by ETag and Last-Modified."""
    response = jsonify(body)
    response.status_code = status
    response.headers["Access-Control-Allow-Origin"] = "*"
    moments = [datetime.fromisoformat(r["last_modified"]) for r in rows
               if r.get("last_modified")]
    if moments:
        response.last_modified = max(moments)
    if status == 200:
        response.add_etag()
        response = response.make_conditional(request)
    return response
