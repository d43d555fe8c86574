import uuid

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import ngettext
from flask_login import current_user, login_required
from sqlalchemy.exc import IntegrityError
from wtforms.fields.choices import SelectChoice

from referral import audit, cells, db, familykeys, policy
from referral.auth.models import User
from referral.auth.queries import names as names_of
from referral.auth.queries import opened_names
from referral.cases.models import URGENCY_LABELS, Family, Signal, Urgency, age_on
from referral.cases.queries import children_of, signal_and_family, signal_and_family_read
from referral.dates import day_writer, format_date
from referral.directory import queries as directory
from referral.directory.models import Service
from referral.errors import Refused
from referral.forms import need_domain_choices, page_number, show_refusal
from referral.i18n import gettext as _
from referral.policy.queries import pending_handover_read, pending_handover_to
from referral.referrals import bp, lifecycle, operations, queries
from referral.referrals.forms import (
    AccompanyFilters,
    BridgeAnswerForm,
    BridgeForm,
    DecideForm,
    DraftForm,
    FollowUpForm,
    HandoverForm,
    InboxFilters,
    MineFilters,
    NoteForm,
    ReferForm,
    StatusForm,
    StopForm,
    StuckFilters,
)
from referral.referrals.lifecycle import PARTNER, REFERRER
from referral.referrals.models import (
    FINAL,
    OPEN,
    OUTCOME_LABELS,
    Change,
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
            "Status": Status, "FINAL": FINAL, "OPEN": OPEN, "EventKind": EventKind,
            "HandoverAnswer": HandoverAnswer, "Change": Change, "service_names": {}, "Needs": lifecycle.Needs,
            "COUNTED_REASONS": lifecycle.COUNTED_REASONS, "UNHAPPY": lifecycle.UNHAPPY}


def _locked(_model, referral_id):
    return queries.lock(referral_id)


def _locked_on_post(model, referral_id):
    """Locked for a post of the form, as it is for its page."""
    return (_locked if request.method == "POST" else familykeys.get)(model, referral_id)


def _referral_or_404(referral_id, action="referral.view", *, read=familykeys.get):
    """The referral, if this user may; others get 404 and a denied entry in the log. A post
    that changes it reads it locked (`_locked`), a page that only shows it as a value
    (familykeys.value)."""
    referral = read(Referral, referral_id)
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
        return _mine(user)
    if policy.allowed(user, "referrals.inbox"):
        return _inbox(user)
    if policy.allowed(user, "referrals.accompany"):
        return _accompany(user)
    if policy.allowed(user, "referrals.stuck"):
        return redirect(url_for("referrals.stuck_list"))
    abort(403)


def _uuid(text):
    return uuid.UUID(text) if text else None


def _mine(user):
    db.ahead(*queries.my_page_reads(user))  # one round trip on PostgreSQL
    counts, offered = queries.my_overview(user)
    form = MineFilters(request.args, services=[(s, n) for s, n, _o, _on in offered],
                       organisations=sorted({(o, on) for _s, _n, o, on in offered},
                                            key=lambda pair: pair[1]),
                       statuses=list(Status))
    ignored = form.read()
    page = queries.mine(user, status=form.status.data or None, overdue=form.overdue.data,
                        service_id=_uuid(form.service.data),
                        organisation_id=_uuid(form.organisation.data),
                        days=int(form.days.data) if form.days.data else None,
                        sort=form.sort.data, page=page_number(request.args),
                        counted=counts)
    return render_template("referrals/mine.html", page=page, rows=_my_rows(page.results),
                           form=form, ignored=ignored, counts=counts,
                           handovers=queries.handovers_for(user), statuses=list(Status))


def _inbox(user):
    db.ahead(*queries.inbox_page_reads(user))  # one round trip on PostgreSQL
    form = InboxFilters(request.args, services=queries.organisation_services(user),
                        waiting_days=queries.WAITING_DAYS)
    ignored = form.read()
    counted = queries.inbox_statuses(user)  # the counts above the list, and its total
    page = queries.inbox(user, status=form.status.data,
                         waiting_days=int(form.waiting.data) if form.waiting.data else None,
                         service_id=_uuid(form.service.data), sort=form.sort.data,
                         page=page_number(request.args), counted=counted)
    return render_template("referrals/inbox.html", page=page, rows=_listed_rows(page.results),
                           form=form, ignored=ignored, counts=queries.inbox_counts(counted))


def _accompany(user):
    form = AccompanyFilters(request.args)
    ignored = form.read()
    page = queries.accompanied_by(user, status=form.status.data, sort=form.sort.data,
                                  page=page_number(request.args))
    return render_template("referrals/accompany.html", page=page,
                           rows=_listed_rows(page.results), form=form, ignored=ignored)


def _listed_rows(rows):
    """The inbox's and the bridge worker's rows: (row, address, sent, waiting, urgency,
    whether the urgency is marked, status), written once per page (referral.cells)."""
    address, day = cells.addresses("referrals.show", "referral_id"), day_writer()
    status = cells.labels(status_label)
    urgency = cells.labels(lambda value: URGENCY_LABELS.get(value, value))
    waiting = cells.once(lambda days: ngettext("%(num)d day", "%(num)d days", days))
    closed = _("closed")
    drawn = []
    for row in rows:
        if row.closed:
            shown = (f"{closed} {day(row.closed_at)}" if row.closed_at else closed, "—", False)
        else:
            shown = (waiting(row.days_waiting), urgency(row.urgency),
                     row.urgency != Urgency.normal)
        drawn.append((row, address(row.id), day(row.sent), *shown, status(row.status)))
    return drawn


def _my_rows(rows):
    """My referrals' rows: (row, address, status, follow-up day, sent), as _listed_rows."""
    address, day = cells.addresses("referrals.show", "referral_id"), day_writer()
    status = cells.labels(status_label)
    draft = _("not yet (draft)")
    return [(row, address(row.id), status(row.status), day(row.follow_up_on),
             day(row.requested_at) if row.requested_at else draft) for row in rows]


@bp.route("/stuck")
@login_required
def stuck_list():
    policy.require(current_user, "referrals.stuck")
    form = StuckFilters(request.args, organisations=queries.stuck_organisations(),
                        statuses=[s for s in Status if s in OPEN and s != Status.draft])
    ignored = form.read()
    page = queries.stuck(organisation_id=_uuid(form.organisation.data),
                         status=form.status.data or None, sort=form.sort.data,
                         page=page_number(request.args))
    owners = names_of(row.owner_id for row in page.results)
    groups = ({"": page.results} if form.sort.data == "longest"
              else queries.by_organisation(page.results))
    return render_template("referrals/stuck.html", groups=groups, owners=owners, page=page,
                           form=form, ignored=ignored)


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
    form = ReferForm()  # made before a post's write lock is taken (its services: inside)
    service_ids = _service_ids(form.services.raw_data if request.method == "POST" else [])
    # On PostgreSQL the signal and the services chosen are asked in one round trip.
    reads = [signal_and_family_read(signal_id)]
    if service_ids:
        reads.append(queries.active_services_read(service_ids))
    db.ahead(*reads)
    # Read together with the family's key (the message is sealed with it): one prepared
    # statement, inside a post's write lock.
    signal, family = signal_and_family(signal_id)
    policy.require(current_user, "referral.create", family, hide=True, object_type="signal",
                   object_id=signal_id, family_id=family.id if family else None)
    if request.method == "GET":
        form.form_token.data = str(uuid.uuid4())
        form.follow_up_on.data = queries.default_follow_up()
    chosen = queries.active_services(service_ids)
    form.services.choices = [SelectChoice(str(s.id), s.name) for s in chosen]
    already = []
    if form.validate_on_submit():
        try:
            made = _refer(form, family, signal, chosen)
        except operations.AlreadyReferred as refused:
            made = None
            names = {s.id: s.name for s in chosen}
            already = [(r.id, names.get(r.service_id, "")) for r in refused.referrals]
            show_refusal(form, refused)
        except Refused as refused:
            made = None
            show_refusal(form, refused)
        if made is not None:
            _flash_outcome(made)
            return redirect(url_for("cases.family", family_id=family.id), code=303)
    # What the page shows besides the form: read only to show it, not for a referral made
    # (a post holds SQLite's one write lock throughout).
    filters = _search_filters(family, children_of([family.id]).get(family.id, []))
    domains = queries.signal_domains(signal.id)
    page = directory.search(domains=[] if filters["everything"] else domains,
                            municipality=filters["municipality"] or None, age=filters["age"],
                            text=filters["text"])
    return render_template("referrals/new.html", form=form, family=family, signal=signal,
                           page=page, filters=filters, domains=domains, already=already,
                           open_referrals=queries.open_of_family(family.id),
                           municipalities=directory.municipalities(),
                           domain_labels={c.value: c.label for c in need_domain_choices()})


def _refer(form, family, signal, chosen):
    """Refer, and commit here: a request that made the same referral meanwhile shows as an
    IntegrityError at the commit, and a second try finds what it made."""
    for last_try in (False, True):
        try:
            made = operations.refer(current_user, family, signal, chosen,
                                    message=form.message.data,
                                    follow_up_on=form.follow_up_on.data, send=form.send.data,
                                    form_token=form.form_token.data)
            db.commit()
            return made
        except IntegrityError:
            db.session().rollback()
            if last_try:
                raise
    return None


def _service_ids(raw_ids):
    """The services a post chose, as ids (at most ten; what is not an id is left out)."""
    ids = []
    for raw in raw_ids[:10]:
        try:
            ids.append(uuid.UUID(raw))
        except ValueError:
            continue
    return ids


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
    referral = _referral_or_404(referral_id, read=familykeys.value)
    page = _show_page(referral)
    # Logged last, just before the page is committed and rendered: from the entry on, this
    # request holds the access log's head (and on SQLite the write lock).
    audit.record("read", object_type="referral", object_id=referral.id,
                 family_id=referral.family_id, summary="referral read")
    operations.mark_seen(current_user, referral)  # for the home page's "changed since"
    return render_template("referrals/show.html", **page)


def _render_show(referral, status_form=None, note_form=None, bridge_form=None):
    return render_template("referrals/show.html", **_show_page(
        referral, status_form=status_form, note_form=note_form, bridge_form=bridge_form))


def _show_page(referral, status_form=None, note_form=None, bridge_form=None):
    """What the referral's page shows, read before anything is written."""
    user = current_user
    # What every view of the page reads, asked at once (one round trip on PostgreSQL).
    db.ahead(directory.service_and_organisation_read(referral.service_id,
                                                     referral.organisation_id),
             queries.events_read(referral.id), pending_handover_read(user.id, referral.id))
    service, organisation = directory.service_and_organisation(referral.service_id,
                                                               referral.organisation_id)
    owner_side = policy.allowed(user, "referral.as_referrer", referral)
    partner_side = policy.allowed(user, "referral.as_partner", referral)
    transitions = []
    if owner_side:
        transitions += lifecycle.next_steps(referral.status, REFERRER)
    if partner_side:
        transitions += [t for t in lifecycle.next_steps(referral.status, PARTNER)
                        if t.target not in {s.target for s in transitions}]
    steps = []
    for transition in lifecycle.in_page_order(transitions):
        # One small form per step, each with its own field ids and its own question: the
        # page draws a blank one once per status and step (blank_step), and shows a form
        # only for the step whose post came back with errors.
        form = status_form if status_form and status_form.target.data == transition.target \
            else None
        steps.append((transition, form))
    events = queries.events_of(referral)
    handover = pending_handover_to(user.id, referral.id)
    family = familykeys.value(Family, referral.family_id) if owner_side else None
    content = policy.allowed(user, "referral.content", referral)
    if content or family:
        familykeys.preload([referral.family_id])  # its values are opened as the page renders
    return dict(
        referral=referral, service=service, organisation=organisation,
        family=family, steps=steps, events=events, handover=handover,
        service_names=queries.service_names(e.from_service_id for e in events),
        names=_names(events, referral),
        content=content,
        owner_side=owner_side, partner_side=partner_side,
        on_behalf=owner_side and not referral.by_inbox,
        may_note=policy.allowed(user, "referral.note", referral),
        may_print=not referral.by_inbox and policy.allowed(user, "referral.letter", referral),
        overdue=queries.is_overdue(referral), note_form=note_form,
        decide_form=DecideForm() if handover else None,
        bridge_form=bridge_form or (BridgeAnswerForm() if policy.allowed(
            user, "bridge.decide", referral) else None),
        step_label=lifecycle.step_label, step_hint=lifecycle.step_hint,
        blank_step=lambda target: _status_form(target, formdata=None),
        blank_note=lambda: NoteForm(formdata=None))


def _names(events, referral):
    """The names the referral's page shows: its events' actors, read with the events, and
    its owner and bridge worker, read apart only when no event of theirs named them."""
    names = opened_names((event.actor_id, event.actor_name_enc) for event in events)
    missing = {referral.owner_id, referral.bridge_id} - names.keys() - {None}
    return names | names_of(missing) if missing else names


def _status_form(target, **kwargs):
    """The form of one step: a stop asks for a confirmation; a reason field asks the step's
    own question."""
    if target in lifecycle.UNHAPPY:
        form = StopForm(prefix=target, label=lifecycle.CONFIRM_LABELS[target], **kwargs)
    else:
        form = StatusForm(prefix=target, **kwargs)
    if target in lifecycle.REASON_QUESTIONS:
        form.reason.label.text = lifecycle.REASON_QUESTIONS[target]
    return form


@bp.route("/<uuid:referral_id>/status/<target>", methods=["POST"])
@login_required
def change_status(referral_id, target):
    # The form is read before the referral is locked: the lock (SQLite's one write lock)
    # is held for the change, not for reading what was posted.
    form = _status_form(target) if target in set(Status) else None
    if form is not None:
        form.target.data = target
    valid = form is not None and form.validate()
    referral = _referral_or_404(referral_id, read=_locked)
    if form is None:
        abort(404)
    # A step that is not theirs is refused before the form is looked at (the operation
    # refuses it too, with the same message).
    if queries.side_for(current_user, referral, target) is None:
        flash(_("This step is not yours to take."), "error")
        return redirect(url_for("referrals.show", referral_id=referral.id), code=303)
    if not valid:
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
    form = NoteForm()
    valid = form.validate()  # before the lock, as a step's (change_status)
    referral = _referral_or_404(referral_id, "referral.note", read=_locked)
    if not valid:
        return _render_show(referral, note_form=form), 400
    try:
        operations.add_note(current_user, referral, form.text.data)
    except Refused as refused:
        flash(str(refused), "error")
    else:
        flash(_("The note is saved."), "success")
    return redirect(url_for("referrals.show", referral_id=referral.id), code=303)


@bp.route("/<uuid:referral_id>/follow-up", methods=["GET", "POST"])
@login_required
def follow_up(referral_id):
    """The owner moves the follow-up date."""
    referral = _referral_or_404(referral_id, "referral.follow_up",
                                read=_locked_on_post)
    form = FollowUpForm()
    if request.method == "GET":
        form.follow_up_on.data = referral.follow_up_on
    if form.validate_on_submit():
        try:
            event = operations.change_follow_up(current_user, referral,
                                                follow_up_on=form.follow_up_on.data)
        except Refused as refused:
            show_refusal(form, refused, default="follow_up_on")
        else:
            flash(_("The follow-up date is now %(date)s.",
                    date=format_date(referral.follow_up_on)) if event else
                  _("The follow-up date was that already: nothing changed."), "success")
            return redirect(url_for("referrals.show", referral_id=referral.id), code=303)
    return render_template("referrals/follow_up.html", form=form, referral=referral,
                           service=db.session().get(Service, referral.service_id))


@bp.route("/<uuid:referral_id>/edit", methods=["GET", "POST"])
@login_required
def edit(referral_id):
    """The owner changes a draft before sending it: its service, message and follow-up."""
    referral = _referral_or_404(referral_id, "referral.edit",
                                read=_locked_on_post)
    if referral.status != Status.draft:
        flash(_("Only a draft can be changed; this referral is %(status)s.",
                status=status_label(referral.status)), "error")
        return redirect(url_for("referrals.show", referral_id=referral.id), code=303)
    family = db.session().get(Family, referral.family_id)
    signal = db.session().get(Signal, referral.signal_id)
    filters = _search_filters(family, children_of([family.id]).get(family.id, []))
    form = DraftForm()
    if request.method == "GET":
        form.service.data = str(referral.service_id)
        form.message.data = referral.message
        form.follow_up_on.data = referral.follow_up_on
        form.version.data = referral.version
    chosen = queries.active_services(_service_ids([form.service.data or ""]))
    form.service.choices = [SelectChoice(str(s.id), s.name) for s in chosen]
    already = []
    if form.validate_on_submit():
        try:
            changed = operations.edit_draft(
                current_user, referral, message=form.message.data,
                service=chosen[0] if chosen else None, follow_up_on=form.follow_up_on.data,
                version=form.version.data)
        except operations.AlreadyReferred as refused:
            names = {s.id: s.name for s in chosen}
            already = [(r.id, names.get(r.service_id, "")) for r in refused.referrals]
            refused.field = "service"  # the page's one choice, not the refer page's list
            show_refusal(form, refused)
        except Refused as refused:
            show_refusal(form, refused)
        else:
            flash(_("The draft is saved.") if changed else _("Nothing changed."), "success")
            return redirect(url_for("referrals.show", referral_id=referral.id), code=303)
    page = directory.search(domains=[] if filters["everything"] else
                            queries.signal_domains(signal.id),
                            municipality=filters["municipality"] or None, age=filters["age"],
                            text=filters["text"])
    results = page.results
    if all(r.service.id != referral.service_id for r in results):  # the draft's own, first
        current = directory.get_service(referral.service_id)
        results = [current, *results] if current else results
    return render_template("referrals/edit.html", form=form, referral=referral, family=family,
                           signal=signal, results=results, filters=filters, already=already,
                           open_referrals=queries.open_of_family(family.id),
                           municipalities=directory.municipalities())


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
                                read=_locked_on_post)
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
                                read=_locked_on_post)
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



@bp.route("/<uuid:referral_id>/bridge/answer", methods=["POST"])
@login_required
def answer_bridge(referral_id):
    """The bridge worker asked accepts, or declines with a reason for the owner."""
    referral = _referral_or_404(referral_id, "bridge.decide", read=_locked)
    form = BridgeAnswerForm()
    if form.validate() and not (form.accept.data or form.decline.data):
        form.form_errors.append(_("Choose to accept or to decline."))
    if form.errors or form.form_errors:
        return _render_show(referral, bridge_form=form), 400
    try:
        operations.decide_bridge(current_user, referral, accept=form.accept.data,
                                 reason=form.reason.data)
    except Refused as refused:
        flash(str(refused), "error")
        return redirect(url_for("referrals.show", referral_id=referral.id), code=303)
    if form.accept.data:
        flash(_("You accompany the family now. The professional is told."), "success")
        return redirect(url_for("referrals.show", referral_id=referral.id), code=303)
    flash(_("You declined. The professional is told and can ask someone else."), "success")
    return redirect(url_for("referrals.index"), code=303)
