"""The privacy officer's pages: the access log, access requests and erasure, and the
processing register. Everything but the register needs a two-factor login."""

import json
import secrets
import uuid

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask import session as web_session
from flask_babel import force_locale
from flask_login import current_user, login_required
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from referral import audit, db, policy
from referral.audit.labels import ACTION_LABELS, OBJECT_LABELS, OUTCOME_LABELS, describe
from referral.audit.models import AuditOutcome
from referral.auth.models import Role
from referral.auth.queries import names as names_of
from referral.auth.queries import pending_user
from referral.cases.models import LANGUAGES, Family
from referral.crypto import CryptoError, keyring
from referral.forms import ConfirmForm
from referral.i18n import gettext as _
from referral.i18n import lazy_gettext as _l
from referral.privacy import bp, family_copy, operations, queries, register
from referral.privacy.forms import FindForm, LogFilterForm
from referral.privacy.models import ERASURE_REASON_LABELS, ErasureReceipt


@bp.before_request
def _code_still_owed():
    """A privacy officer who gave the password and still owes the two-factor code is not
    logged in yet, but is known: the privacy pages answer 403 and log the denial, instead of
    sending them to the login page without a trace (the register is for everyone)."""
    if current_user.is_authenticated or request.endpoint == "privacy.register":
        return
    user = pending_user()
    if user is None or user.role != Role.privacy_officer:
        return  # nobody known: login_required sends them to the login page
    rule = "audit.read" if request.endpoint in ("privacy.index", "privacy.log") \
        else "privacy.request"
    args = request.view_args or {}
    about = {}
    if "family_id" in args:
        about = {"object_type": "family", "object_id": args["family_id"],
                 "family_id": args["family_id"]}
    elif "receipt_id" in args:
        about = {"object_type": "erasure_receipt", "object_id": args["receipt_id"]}
    elif request.endpoint == "privacy.log":
        about = {"object_type": "audit_log"}
    attempted = "read" if request.method in ("GET", "HEAD") else (
        "delete" if request.endpoint == "privacy.erase" else "update")
    audit.record(attempted, outcome="denied", user=user,
                 summary=f"denied: {rule} needs two-factor", **about)
    abort(Response(render_template("privacy/two_factor_needed.html", owed=user), 403))


def _officer(action="privacy.request", **about):
    """Only a privacy officer, and only after a two-factor login; a refusal is logged."""
    policy.require(current_user, action, hide=True, **about)
    # The operations ask the policy themselves; the two-factor login is the web session's.
    if not web_session.get("two_factor"):
        attempted = about.pop("attempted", None) or (
            "read" if request.method in ("GET", "HEAD") else "update")
        audit.record(attempted, outcome="denied",
                     summary=f"denied: {action} needs two-factor", **about)
        abort(Response(render_template("privacy/two_factor_needed.html"), 403))


@bp.route("/")
@login_required
def index():
    _officer("audit.read")
    return render_template("privacy/index.html", receipts=queries.recent_receipts(),
                           periods=queries.retention_days(),
                           reasons=ERASURE_REASON_LABELS)


# The access log's filters, kept between pages in the session (a signed cookie, not an
# encrypted one) under opaque handles: sealed with the key ring and bound to the officer, so
# the cookie carries no email address or family reference readably either.
LOG_FILTERS = "log_filters"
LOG_FILTERS_KEPT = 5
LOG_FIELDS = ("family", "user", "action", "start", "end")


def _log_context(user):
    return f"search/audit-log/{user.id}"


def _keep_log_filters(form):
    """Keep the posted filters in the session under a new random handle; the handle is all
    the address of a next page carries. Only the last few are kept."""
    kept = dict(web_session.get(LOG_FILTERS) or {})
    handle = secrets.token_urlsafe(9)
    terms = {name: form[name].data.isoformat() if hasattr(form[name].data, "isoformat")
             else form[name].data for name in LOG_FIELDS if form[name].data}
    kept[handle] = keyring().seal(json.dumps(terms), _log_context(current_user))
    web_session[LOG_FILTERS] = dict(list(kept.items())[-LOG_FILTERS_KEPT:])
    return handle


def _kept_log_filters(handle):
    """The filters kept under this handle, as form data; None for a handle this session
    does not hold (another's, or gone with a logout)."""
    sealed = (web_session.get(LOG_FILTERS) or {}).get(handle or "")
    if not sealed:
        return None
    try:
        return MultiDict(json.loads(keyring().open(sealed, _log_context(current_user))))
    except CryptoError:  # sealed with a retired key, or for another officer
        return None


@bp.route("/log", methods=["GET", "POST"])
@login_required
def log():
    """The access log, filtered. The filters are posted (a family reference or an email
    address never goes in an address or a request log); the pages after the first are
    opened with the handle of the filters kept in the session."""
    _officer("audit.read", object_type="audit_log")
    handle = request.args.get("filter")
    if request.method == "POST":
        form = LogFilterForm()
        valid = form.validate_on_submit()
        handle = _keep_log_filters(form) if valid else None
        lost = False
    else:
        kept = _kept_log_filters(handle)
        lost = handle is not None and kept is None
        handle = handle if kept is not None else None
        form = LogFilterForm(kept or MultiDict(), meta={"csrf": False})
        valid = form.validate()
    page = request.args.get("page", "1") if request.method == "GET" else "1"
    page = int(page) if page.isascii() and page.isdigit() and 0 < int(page) < 100_000 else 1
    events, more = [], False
    if valid:
        events, more = operations.read_access_log(
            current_user,
            family_id=uuid.UUID(form.family.data.strip()) if form.family.data else None,
            employee_email=form.user.data, action=form.action.data, start=form.start.data,
            end=form.end.data, page=page)
    codes = queries.log_codes()
    return render_template("privacy/log.html", form=form, events=events, more=more, page=page,
                           page_size=queries.LOG_PAGE_SIZE, handle=handle, lost=lost,
                           names=names_of(e.user_id for e in events),
                           actions=ACTION_LABELS, parts=OBJECT_LABELS, outcomes=OUTCOME_LABELS,
                           describe=lambda summary: describe(summary, codes),
                           AuditOutcome=AuditOutcome), 200 if valid else 400


@bp.route("/families", methods=["GET", "POST"])
@login_required
def find():
    """Find a family for its request. A search shows its results at once (nothing changes
    but the access log, which records every search)."""
    _officer()
    form = FindForm()
    families, searched = [], form.validate_on_submit()
    if searched:
        families = operations.find_families(
            current_user, name=form.name.data or None, reference=form.reference.data or None,
            postcode=form.postcode.data or None, house_number=form.house_number.data or None)
    return render_template("privacy/find.html", form=form, families=families,
                           searched=searched, more=len(families) > queries.MAX_FOUND,
                           max_found=queries.MAX_FOUND,
                           ), 400 if form.is_submitted() and not searched else 200


def _family_for_officer_or_404(family_id, attempted="read"):
    """The family, for a privacy officer after a two-factor login (anyone else: 404)."""
    _officer(object_type="family", object_id=family_id, family_id=family_id,
             attempted=attempted)
    family = db.session().get(Family, family_id)
    if family is None:
        abort(404)
    return family


@bp.route("/families/<uuid:family_id>")
@login_required
def family(family_id):
    """The family's copy of everything stored about them, in their language (or the one
    asked for), to print and hand over; the JSON download beside it."""
    family = _family_for_officer_or_404(family_id)
    record = operations.export_family(current_user, family)
    described = {(e.table, e.column.removesuffix("_enc")): e.what for e in register.entries()}
    language = family_copy.language_of(family.language, request.args.get("language"))
    names = queries.record_names(record)
    with force_locale(language):
        copy = render_template(
            "privacy/copy.html", family=family, now=db.utcnow(), language=language,
            rtl=language in family_copy.RTL,
            sections=family_copy.sections(record, names, described, language),
            accesses=family_copy.accesses(record, queries.log_codes()))
    # The copy is our own template, rendered with autoescaping.
    return render_template("privacy/family.html", family=family, language=language,
                           copy=Markup(copy),  # noqa: S704  # nosec B704
                           languages={code: LANGUAGES[code]
                                      for code in family_copy.COPY_LANGUAGES})


@bp.route("/families/<uuid:family_id>.json")
@login_required
def family_json(family_id):
    family = _family_for_officer_or_404(family_id)
    record = operations.export_family(current_user, family)
    body = json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="family-{family.id}.json"'})


@bp.route("/families/<uuid:family_id>/erase", methods=["GET", "POST"])
@login_required
def erase(family_id):
    family = _family_for_officer_or_404(family_id, attempted="delete" if request.method == "POST"
                                        else "read")
    form = ConfirmForm(label=_l("Yes, erase everything stored about this family"))
    if form.validate_on_submit():
        receipt = operations.erase(current_user, family)
        flash(_("Everything stored about the family is erased."), "success")
        return redirect(url_for("privacy.receipt", receipt_id=receipt.id), code=303)
    return render_template("privacy/erase.html", form=form, family=family,
                           counts=queries.family_counts(family.id),
                           tables=register.REGISTER), 200 if not form.errors else 400


@bp.route("/receipts/<uuid:receipt_id>")
@login_required
def receipt(receipt_id):
    _officer(object_type="erasure_receipt", object_id=receipt_id)
    receipt = db.session().get(ErasureReceipt, receipt_id)
    if receipt is None:
        abort(404)
    by = names_of([receipt.erased_by]).get(receipt.erased_by)
    return render_template("privacy/receipt.html", receipt=receipt, by=by,
                           counts=json.loads(receipt.counts), tables=register.REGISTER,
                           reasons=ERASURE_REASON_LABELS)


@bp.route("/register", endpoint="register")
@login_required
def processing_register():
    policy.require(current_user, "privacy.register")
    return render_template("privacy/register.html", entries=register.entries(),
                           tables=register.REGISTER, kinds=register.KIND_LABELS)
