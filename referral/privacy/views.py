"""The privacy officer's pages: the access log, access requests and erasure, and the
processing register. Everything but the register needs a two-factor login."""

import json
import uuid
from datetime import UTC, datetime, time, timedelta

from flask import Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask import session as web_session
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required
from sqlalchemy import func
from sqlmodel import select

from referral import audit, db, policy
from referral.audit.models import AuditEvent
from referral.auth.queries import names as names_of
from referral.auth.queries import find_user
from referral.cases.models import Family
from referral.directory.models import Organisation, Service
from referral.forms import ConfirmForm
from referral.privacy import bp, register, services
from referral.privacy.forms import ACTION_LABELS, FindForm, LogFilterForm
from referral.privacy.models import ErasureReceipt

PAGE_SIZE = 50


def _officer(action="privacy.request", **about):
    """Only a privacy officer, and only after a two-factor login; a refusal is logged."""
    policy.require(current_user, action, hide=True, **about)
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
    receipts = db.session().exec(select(ErasureReceipt).order_by(
        ErasureReceipt.erased_at.desc()).limit(20)).all()
    periods = {name: current_app.config[f"RETENTION_{name.upper()}_DAYS"]
               for name in ("closed", "signal", "audit", "mail", "attempt")}
    return render_template("privacy/index.html", receipts=receipts, periods=periods)


@bp.route("/log")
@login_required
def log():
    _officer("audit.read", object_type="audit_log")
    form = LogFilterForm(request.args)
    page = request.args.get("page", "1")
    page = int(page) if page.isascii() and page.isdigit() and 0 < int(page) < 100_000 else 1
    events, more = [], False
    if form.validate():
        query, employee = select(AuditEvent), None
        family_id = uuid.UUID(form.family.data.strip()) if form.family.data else None
        if family_id:
            query = query.where(AuditEvent.family_id == family_id)
        if form.user.data:
            employee = find_user(form.user.data)
            query = query.where(AuditEvent.user_id == (employee.id if employee else None))
        if form.action.data:
            query = query.where(AuditEvent.action == form.action.data)
        if form.start.data:
            query = query.where(AuditEvent.at >= datetime.combine(form.start.data, time(),
                                                                  UTC))
        if form.end.data:
            query = query.where(AuditEvent.at < datetime.combine(
                form.end.data + timedelta(days=1), time(), UTC))
        events = db.session().exec(query.order_by(AuditEvent.seq.desc())
                                   .offset((page - 1) * PAGE_SIZE).limit(PAGE_SIZE + 1)).all()
        more, events = len(events) > PAGE_SIZE, events[:PAGE_SIZE]
        # Reading the log is itself in the log, with the family it was about.
        audit.record("read", object_type="audit_log",
                     object_id=employee.id if employee else None, family_id=family_id,
                     summary=f"access log read ({len(events)} entries)")
    return render_template("privacy/log.html", form=form, events=events, more=more, page=page,
                           names=names_of(e.user_id for e in events),
                           actions=ACTION_LABELS)


@bp.route("/families")
@login_required
def find():
    _officer()
    form = FindForm(request.args)
    families, searched = [], any(request.args.get(k) for k in ("reference", "postcode"))
    if searched and form.validate():
        families = services.find_families(reference=form.reference.data,
                                          postcode=form.postcode.data,
                                          house_number=form.house_number.data)
        audit.record("search", object_type="family",
                     summary=f"privacy: family looked up ({len(families)} found)")
    return render_template("privacy/find.html", form=form, families=families,
                           searched=searched)


def _family_or_404(family_id, attempted="read"):
    _officer(object_type="family", object_id=family_id, family_id=family_id,
             attempted=attempted)
    family = db.session().get(Family, family_id)
    if family is None:
        abort(404)
    return family


def _names(record):
    """Readable names for the ids in a record: organisations, services and staff."""
    session = db.session()
    names = {str(k): v for k, v in session.exec(select(Organisation.id, Organisation.name))}
    names.update({str(k): v for k, v in session.exec(select(Service.id, Service.name))})
    staff = {row.get(column) for rows in record.values() for row in rows
             for column in ("created_by", "owner_id", "actor_id", "recorded_by", "from_id",
                            "to_id", "bridge_id", "withdrawn_by") if row.get(column)}
    names.update({str(k): v for k, v in names_of(
        uuid.UUID(s) for s in staff).items()})
    return names


@bp.route("/families/<uuid:family_id>")
@login_required
def family(family_id):
    family = _family_or_404(family_id)
    record = services.family_record(current_user, family)
    described = {(e.table, e.column.removesuffix("_enc")): e.what for e in register.entries()}
    return render_template("privacy/family.html", family=family, record=record,
                           described=described, names=_names(record), now=db.utcnow(),
                           tables=register.REGISTER, actions=ACTION_LABELS)


@bp.route("/families/<uuid:family_id>.json")
@login_required
def family_json(family_id):
    family = _family_or_404(family_id)
    record = services.family_record(current_user, family)
    body = json.dumps(record, ensure_ascii=False, indent=2, sort_keys=True)
    return Response(body, mimetype="application/json", headers={
        "Content-Disposition": f'attachment; filename="family-{family.id}.json"'})


@bp.route("/families/<uuid:family_id>/erase", methods=["GET", "POST"])
@login_required
def erase(family_id):
    family = _family_or_404(family_id, attempted="delete" if request.method == "POST"
                            else "read")
    form = ConfirmForm(label=_l("Yes, erase everything stored about this family"))
    if form.validate_on_submit():
        receipt = services.erase(family.id, user=current_user, reason="request")
        flash(_("Everything stored about the family is erased."), "success")
        return redirect(url_for("privacy.receipt", receipt_id=receipt.id))
    session = db.session()
    counts = {model.__tablename__: session.exec(
        select(func.count()).select_from(model).where(*conditions)).one()
        for model, conditions, _order in services.family_rows(family.id)}
    return render_template("privacy/erase.html", form=form, family=family,
                           counts={k: n for k, n in counts.items() if n},
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
                           counts=json.loads(receipt.counts), tables=register.REGISTER)


@bp.route("/register", endpoint="register")
@login_required
def processing_register():
    policy.require(current_user, "privacy.register")
    return render_template("privacy/register.html", entries=register.entries(),
                           tables=register.REGISTER, kinds=register.KIND_LABELS)
