import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError
from wtforms.fields.choices import SelectChoice

from referral import audit, db, policy
from referral.auth.models import User
from referral.auth.queries import names as names_of
from referral.cases.models import Family, Signal, age_on
from referral.cases.queries import children_of
from referral.directory import queries as directory
from referral.directory.models import Service
from referral.errors import Refused
from referral.forms import need_domain_choices, show_refusal
from referral.policy.queries import pending_handover_to
from referral.referrals import bp, lifecycle, operations, queries
from referral.referrals.forms import (
    BridgeForm,
    DecideForm,
    HandoverForm,
    NoteForm,
    ReferForm,
    StatusForm,
)
from referral.referrals.lifecycle import PARTNER, REFERRER
from referral.referrals.models import (
    FINAL,
    OUTCOME_LABELS,
    EventKind,
    Handover,
    HandoverAnswer,
    Referral,
    Status,
    status_label,
)


@bp.app_context_processor
def labels():
    return {"referral_status": status_label, "outcome_label": lambda v: OUTCOME_LABELS.get(v, v),
            "Status": Status, "FINAL": FINAL, "EventKind": EventKind,
            "HandoverAnswer": HandoverAnswer, "Needs": lifecycle.Needs,
            "COUNTED_REASONS": lifecycle.COUNTED_REASONS, "UNHAPPY": lifecycle.UNHAPPY}


def _referral_or_404(referral_id, action="referral.view", *, for_update=False):
    """The referral, if this user may; others get 404 and a denied entry in the log."""
    referral = (queries.lock(referral_id) if for_update
                else db.session().get(Referral, referral_id))
    policy.require(current_user, action, referral, hide=True, object_type="referral", object_id=referral_id,
                   family_id=referral.family_id if referral else None,
                   attempted="update" if request.method == "POST" else "read")
    return referral


@bp.route("/")
@login_required
def index():
    """Each role's own list: the owner's referrals, the partner's inbox, the bridge worker's
    families, the coordinator's stuck list."""
    user = current_user
    if policy.allowed(user, "referrals.mine"):
        rows, counts = queries.mine(user)
        return render_template("referrals/mine.html", rows=rows, counts=counts,
                               handovers=queries.handovers_for(user),
                               statuses=list(Status))
    if policy.allowed(user, "referrals.inbox"):
        return render_template("referrals/inbox.html", groups=queries.inbox_groups(user))
    if policy.allowed(user, "referrals.accompany"):
        return render_template("referrals/accompany.html",
                               rows=queries.accompanied_by(user))
    if policy.allowed(user, "referrals.stuck"):
        return redirect(url_for("referrals.stuck_list"))
    abort(403)


@bp.route("/stuck")
@login_required
def stuck_list():
    policy.require(current_user, "referrals.stuck")
    page = queries.stuck(page=request.args.get("page", 1, type=int))
    owners = names_of(row.owner_id for row in page.results)
    return render_template("referrals/stuck.html", groups=queries.by_organisation(page.results),
                           owners=owners, page=page)


def _search_filters(family, children):
    """The directory search for this signal: its need domains, the family's municipality and
    the youngest child's age, each of which the professional can widen."""
    ages = sorted({age_on(c.birth_date, db.utcnow().date()) for c in children})
    everything = request.args.get("domains") == "all"
    municipality = request.args.get("municipality", family.municipality_code or "")
    age = request.args.get("age", str(ages[0]) if ages else "")[:2]  # a child's age: 0 to 99
    return dict(ages=ages, everything=everything, text=request.args.get("q", "")[:200],
                municipality=municipality[:6], age=int(age) if age.isascii() and age.isdigit() else None)


@bp.route("/new/<uuid:signal_id>", methods=["GET", "POST"])
@login_required
def new(signal_id):
    signal = db.session().get(Signal, signal_id)
    family = db.session().get(Family, signal.family_id) if signal else None
    policy.require(current_user, "referral.create", family, hide=True, object_type="signal",
                   object_id=signal_id, family_id=family.id if family else None)
    children = children_of([family.id]).get(family.id, [])
    filters = _search_filters(family, children)
    domains = queries.signal_domains(signal.id)
    form = ReferForm()
    if request.method == "GET":
        form.form_token.data = str(uuid.uuid4())
        form.follow_up_on.data = queries.default_follow_up()
    chosen = _chosen_services(form.services.raw_data if request.method == "POST" else [])
    form.services.choices = [SelectChoice(str(s.id), s.name) for s in chosen]
    if form.validate_on_submit():
        try:
            made = operations.refer(current_user, family, signal, chosen,
                                    message=form.message.data,
                                    follow_up_on=form.follow_up_on.data, send=form.send.data,
                                    form_token=form.form_token.data)
            db.commit()
        except IntegrityError:  # the same form, sent twice at once: the first one won
            db.session().rollback()
            made = queries.by_submission(form.form_token.data, chosen)
        except Refused as refused:
            made = None
            show_refusal(form, refused)
        if made is not None:
            _flash_outcome(made)
            return redirect(url_for("cases.family", family_id=family.id), code=303)
    page = directory.search(domains=[] if filters["everything"] else domains,
                            municipality=filters["municipality"] or None, age=filters["age"],
                            text=filters["text"])
    return render_template("referrals/new.html", form=form, family=family, signal=signal,
                           page=page, filters=filters, domains=domains,
                           municipalities=directory.municipalities(),
                           domain_labels={c.value: c.label for c in need_domain_choices()})


def _chosen_services(raw_ids):
    ids = []
    for raw in raw_ids[:10]:
        try:
            ids.append(uuid.UUID(raw))
        except ValueError:
            continue
    return queries.active_services(ids)


def _flash_outcome(made):
    sent = [r for r in made if r.status != Status.draft]
    drafts = len(made) - len(sent)
    if sent:
        flash(_("Referrals sent: %(num)d.", num=len(sent)), "success")
    if drafts:
        flash(_("Saved as a draft: %(num)d. Record the family's consent for the organisation, "
                "then send it from the referral's page.", num=drafts), "warning")


@bp.route("/<uuid:referral_id>")
@login_required
def show(referral_id):
    referral = _referral_or_404(referral_id)
    audit.record("read", object_type="referral", object_id=referral.id,
                 family_id=referral.family_id, summary="referral read")
    operations.mark_seen(current_user, referral)  # for the home page's "changed since"
    return _render_show(referral)


def _render_show(referral, status_form=None, note_form=None):
    user = current_user
    service = db.session().get(Service, referral.service_id)
    organisation = directory.get_organisation(referral.organisation_id)
    owner_side = policy.allowed(user, "referral.as_referrer", referral)
    partner_side = policy.allowed(user, "referral.as_partner", referral)
    transitions = []
    if owner_side:
        transitions += lifecycle.next_steps(referral.status, REFERRER)
    if partner_side:
        transitions += [t for t in lifecycle.next_steps(referral.status, PARTNER)
                        if t.target not in {s.target for s in transitions}]
    steps = []
    for transition in transitions:  # one small form per step, each with its own field ids
        form = status_form if status_form and status_form.target.data == transition.target \
            else StatusForm(prefix=transition.target, formdata=None)
        form.version.data = referral.version
        steps.append((transition, form))
    events = queries.events_of(referral)
    handover = pending_handover_to(user.id, referral.id)
    family = db.session().get(Family, referral.family_id) if owner_side else None
    return render_template(
        "referrals/show.html", referral=referral, service=service, organisation=organisation,
        family=family, steps=steps, events=events, handover=handover,
        names=names_of([e.actor_id for e in events] + [referral.owner_id,
                                                             referral.bridge_id]),
        content=policy.allowed(user, "referral.content", referral),
        owner_side=owner_side, partner_side=partner_side,
        on_behalf=owner_side and not referral.by_inbox,
        may_note=policy.allowed(user, "referral.note", referral),
        may_print=not referral.by_inbox and policy.allowed(user, "referral.letter", referral),
        overdue=queries.is_overdue(referral), note_form=note_form or NoteForm(),
        decide_form=DecideForm() if handover else None,
        step_label=lifecycle.step_label)


@bp.route("/<uuid:referral_id>/status/<target>", methods=["POST"])
@login_required
def change_status(referral_id, target):
    referral = _referral_or_404(referral_id, for_update=True)
    if target not in set(Status):
        abort(404)
    form = StatusForm(prefix=target)
    form.target.data = target
    # A step that is not theirs is refused before the form is looked at (the operation
    # refuses it too, with the same message).
    if queries.side_for(current_user, referral, target) is None:
        flash(_("This step is not yours to take."), "error")
        return redirect(url_for("referrals.show", referral_id=referral.id), code=303)
    if not form.validate():
        return _render_show(referral, status_form=form), 400
    try:
        operations.change_status(current_user, referral, target, reason=form.reason.data,
                                 outcome=form.outcome.data or None, version=form.version.data,
                                 reason_code=form.reason_code.data or None)
    except Refused as refused:
        flash(str(refused), "error")
    else:
        flash(_("The referral is now: %(status)s.",
                status=status_label(referral.status)), "success")
    return redirect(url_for("referrals.show", referral_id=referral.id), code=303)


@bp.route("/<uuid:referral_id>/notes", methods=["POST"])
@login_required
def add_note(referral_id):
    referral = _referral_or_404(referral_id, "referral.note", for_update=True)
    form = NoteForm()
    if not form.validate():
        return _render_show(referral, note_form=form), 400
    try:
        operations.add_note(current_user, referral, form.text.data)
    except Refused as refused:
        flash(str(refused), "error")
    else:
        flash(_("The note is saved."), "success")
    return redirect(url_for("referrals.show", referral_id=referral.id), code=303)


@bp.route("/<uuid:referral_id>/letter")
@login_required
def letter(referral_id):
    """A printable referral letter, for a service that does not work in the tool."""
    referral = _referral_or_404(referral_id, "referral.letter")
    service = directory.get_service(referral.service_id)
    family = db.session().get(Family, referral.family_id)
    audit.record("print", object_type="referral", object_id=referral.id,
                 family_id=referral.family_id, summary="referral letter printed")
    return render_template("referrals/letter.html", referral=referral, result=service,
                           family=family, owner=current_user)


@bp.route("/<uuid:referral_id>/handover", methods=["GET", "POST"])
@login_required
def handover(referral_id):
    referral = _referral_or_404(referral_id, "referral.handover",
                                for_update=request.method == "POST")
    form = HandoverForm()
    form.colleague.choices = [SelectChoice("", "—")] + [
        SelectChoice(str(u.id), u.name) for u in queries.colleagues(current_user)]
    if form.validate_on_submit():
        colleague = db.session().get(User, uuid.UUID(form.colleague.data))
        try:
            operations.propose_handover(current_user, referral, colleague, form.note.data)
        except Refused as refused:
            form.form_errors.append(str(refused))
        else:
            flash(_("Your colleague is asked to take over. Until they accept, you stay "
                    "accountable."), "success")
            return redirect(url_for("referrals.show", referral_id=referral.id), code=303)
    return render_template("referrals/handover.html", form=form, referral=referral)


@bp.route("/handovers/<uuid:handover_id>", methods=["POST"])
@login_required
def decide(handover_id):
    handover = db.session().get(Handover, handover_id)
    about = db.session().get(Referral, handover.referral_id) if handover else None
    policy.require(current_user, "handover.decide", handover, hide=True, object_type="handover",
                   object_id=handover_id, family_id=about.family_id if about else None)
    form = DecideForm()
    if form.validate_on_submit():
        referral = operations.decide_handover(current_user, handover, accept=form.accept.data)
        if form.accept.data:
            flash(_("You are now accountable for this referral."), "success")
            return redirect(url_for("referrals.show", referral_id=referral.id), code=303)
        flash(_("You declined the handover."), "success")
    return redirect(url_for("referrals.index"), code=303)


@bp.route("/<uuid:referral_id>/bridge", methods=["GET", "POST"])
@login_required
def bridge(referral_id):
    referral = _referral_or_404(referral_id, "referral.bridge",
                                for_update=request.method == "POST")
    form = BridgeForm()
    form.bridge.choices = [SelectChoice("", "—")] + [
        SelectChoice(str(u.id), u.name) for u in queries.bridge_workers()]
    if form.validate_on_submit():
        worker = db.session().get(User, uuid.UUID(form.bridge.data))
        try:
            operations.assign_bridge(current_user, referral, worker,
                                     family_agreed=form.family_agreed.data)
        except Refused as refused:
            form.form_errors.append(str(refused))
        else:
            flash(_("The bridge worker is asked to accompany the family."), "success")
            return redirect(url_for("referrals.show", referral_id=referral.id), code=303)
    return render_template("referrals/bridge.html", form=form, referral=referral)

