import uuid
from datetime import date

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import ngettext
from flask_login import current_user, login_required
from wtforms.fields.choices import SelectChoice

from referral import cells, db, familykeys, policy
from referral.auth.queries import opened_names
from referral.cases import bp, operations, queries
from referral.cases.forms import (
    ConsentForm,
    CorrectFamilyForm,
    FamilyForm,
    FamilySearchForm,
    SignalForm,
)
from referral.cases.models import (
    FIELD_LABELS,
    HISTORY_LABELS,
    LANGUAGES,
    METHOD_LABELS,
    SOURCE_LABELS,
    URGENCY_LABELS,
    Child,
    Consent,
    Family,
    Urgency,
    age_in_months,
    age_on,
)
from referral.dates import day_writer
from referral.directory import queries as directory
from referral.errors import Refused
from referral.forms import ConfirmForm, need_domain_choices, page_number, show_refusal
from referral.i18n import gettext as _
from referral.i18n import lazy_gettext as _l
from referral.referrals import queries as referrals
from referral.web import keep_search, kept_search


@bp.app_context_processor
def labels():
    return {"urgency_label": lambda v: URGENCY_LABELS.get(v, v),
            "source_label": lambda v: SOURCE_LABELS.get(v, v),
            "language_name": lambda v: LANGUAGES.get(v, v),
            "method_label": lambda v: METHOD_LABELS.get(v, v), "Urgency": Urgency,
            "child_age": child_age, "history_label": lambda v: HISTORY_LABELS.get(v, v),
            "field_label": lambda v: FIELD_LABELS.get(v, v)}


def child_age(birth_date, today=None):
    """A child's age in words: years, or months for a baby."""
    today = today or date.today()
    years = age_on(birth_date, today)
    if years >= 1:
        return ngettext("%(num)d year", "%(num)d years", years)
    months = max(age_in_months(birth_date, today), 0)
    return ngettext("%(num)d month", "%(num)d months", months)


def _municipality_choices(form):
    form.municipality.choices = [SelectChoice("", "—")] + [
        SelectChoice(code, name) for code, name in directory.municipalities()]


def _adds_a_row(form):
    """The "Add a child" button: one more empty row, nothing saved (works without
    JavaScript; with it the row is added in place)."""
    if form.is_submitted() and "add_child" in request.form:
        form.add_row()
        return True
    return False


def _family_for(action, family_id, *, read=familykeys.get):
    """The family, if this user may take this action on it; others get 404 and a denied
    entry in the log. A page that only shows it reads it as a value (familykeys.value)."""
    family = read(Family, family_id)
    policy.require(current_user, action, family, hide=True, object_type="family",
                   object_id=family_id, family_id=family.id if family else None)
    if family is None:
        abort(404)
    return family


SEARCH_KEY = "family_search"


@bp.route("/", methods=["GET", "POST"])
@login_required
def index():
    """My families, searched by name, child or postcode (posted, never in the address) and
    sorted and paged by the address."""
    policy.require(current_user, "family.create")
    form = FamilySearchForm()
    sort = request.args.get("sort", "newest")
    sort = sort if sort in queries.FAMILY_SORTS else "newest"
    if form.validate_on_submit():
        text = (form.text.data or "").strip()
        keep_search(SEARCH_KEY, "" if form.clear.data else text, current_user)
        return redirect(url_for("cases.index", sort=None if sort == "newest" else sort),
                        code=303)
    text = kept_search(SEARCH_KEY, current_user)
    if not form.is_submitted():
        form.text.data = text
    page, children = queries.caseload(current_user, text=text, sort=sort,
                                      page=page_number(request.args))
    return render_template("cases/index.html", page=page,
                           rows=_family_rows(page.results, children),
                           form=form, searched=text, sort=sort), 400 if form.errors else 200


def _family_rows(families, children):
    """My families' rows: (family, address, the children's first names, the day it was
    added), written once per page (referral.cells)."""
    address, day = cells.addresses("cases.family", "family_id"), day_writer()
    return [(family, address(family.id),
             ", ".join(child.first_name for child in children.get(family.id, ())) or "—",
             day(family.created_at)) for family in families]


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    policy.require(current_user, "family.create")
    form = FamilyForm()
    _municipality_choices(form)
    duplicates = []
    if _adds_a_row(form):
        pass
    elif form.validate_on_submit():
        fields = dict(children=form.child_list(), postcode=form.postcode.data or None,
                      house_number=form.house_number.data or None)
        duplicates = queries.find_duplicates(current_user, **fields)
        if not duplicates or form.confirm_new.data:
            try:
                family = operations.create_family(
                    current_user, parent_names=form.parent_names.data,
                    phone=form.phone.data or None, email=form.email.data or None,
                    street=form.street.data or None,
                    municipality_code=form.municipality.data or None,
                    language=form.language.data, **fields)
            except Refused as refused:
                show_refusal(form, refused)
            else:
                flash(_("The family is saved."), "success")
                return redirect(url_for("cases.family", family_id=family.id), code=303)
    mine = [f for f in duplicates if policy.allowed(current_user, "family.view", f)]
    return render_template("cases/new.html", form=form, duplicates=duplicates, mine=mine)


@bp.route("/<uuid:family_id>/edit", methods=["GET", "POST"])
@login_required
def edit(family_id):
    """Rectification by the professional who works on the family; children are added here
    too (an empty row, and a button for one more)."""
    family = db.session().get(Family, family_id)
    policy.require(current_user, "family.edit", family, hide=True, object_type="family",
                   object_id=family_id, family_id=family_id,
                   attempted="update" if request.method == "POST" else "read")
    children = sorted(queries.children_of([family.id]).get(family.id, []),
                      key=lambda child: child.first_name)
    street, house_number = queries.split_address(family.address)
    form = CorrectFamilyForm(data=None if request.method == "POST" else {
        "parent_names": family.parent_names, "phone": family.phone, "email": family.email,
        "street": street, "house_number": house_number, "postcode": family.postcode,
        "municipality": family.municipality_code or "", "language": family.language,
        "children": [{"ref": str(c.id), "first_name": c.first_name,
                      "birth_date": c.birth_date} for c in children] + [{}]})
    _municipality_choices(form)
    if _adds_a_row(form):
        pass
    elif form.validate_on_submit():
        try:
            changed = operations.correct_family(
                current_user, family, parent_names=form.parent_names.data,
                phone=form.phone.data or None, email=form.email.data or None,
                street=form.street.data or None, house_number=form.house_number.data or None,
                postcode=form.postcode.data or None,
                municipality_code=form.municipality.data or None, language=form.language.data,
                children=form.child_list())
        except Refused as refused:
            show_refusal(form, refused)
        else:
            flash(_("The corrections are saved.") if changed else _("Nothing was changed."),
                  "success")
            return redirect(url_for("cases.family", family_id=family.id), code=303)
    status = 400 if form.is_submitted() and form.errors or form.form_errors else 200
    names = {str(child.id): child.first_name for child in children}
    return render_template("cases/edit.html", form=form, family=family,
                           names=names), status


@bp.route("/<uuid:family_id>/children/<uuid:child_id>/remove", methods=["GET", "POST"])
@login_required
def remove_child(family_id, child_id):
    """Remove a child, after a confirmation: its data is deleted."""
    family = _family_for("family.edit", family_id)
    child = db.session().get(Child, child_id)
    if child is None or child.family_id != family.id:
        abort(404)
    form = ConfirmForm(label=_l("Yes, remove this child and its data"))
    if form.validate_on_submit():
        try:
            operations.remove_child(current_user, family, child)
        except Refused as refused:
            form.form_errors.append(str(refused))
        else:
            flash(_("The child is removed."), "success")
            return redirect(url_for("cases.family", family_id=family.id), code=303)
    status = 400 if form.is_submitted() else 200
    return render_template("cases/remove_child.html", form=form, family=family,
                           child=child), status


def _with_municipality(model, family_id):
    """The family page's family, as a value, with its municipality's name read with it."""
    return familykeys.value(model, family_id, extra=MUNICIPALITY_NAME)


MUNICIPALITY_NAME = (directory.municipality_name_of(Family.municipality_code)
                     .label("municipality_name"),)


@bp.route("/<uuid:family_id>")
@login_required
def family(family_id):
    family = _family_for("family.view", family_id, read=_with_municipality)
    # What the page reads of the family, asked at once (one round trip on PostgreSQL).
    db.ahead(*queries.family_page_reads(family.id), *referrals.family_page_reads(family.id))
    labels = {choice.value: choice.label for choice in need_domain_choices()}
    consents = queries.consents_of(family)
    timeline = referrals.family_timeline(family.id)
    history = queries.family_history(family)
    names = opened_names([(event.actor_id, event.actor_name_enc) for event in timeline] +
                         [(entry.actor_id, entry.actor_name_enc) for entry in history])
    family_referrals = referrals.of_family(family.id)
    # The read is logged last, just before the page is committed and rendered: from the
    # entry on, this request holds the access log's head (and on SQLite the write lock).
    children, signals, domains = queries.read_family(current_user, family)
    place = {code: number for number, code in enumerate(labels)}  # the list's own order
    return render_template("cases/family.html", family=family, children=sorted(
                               children, key=lambda child: child.birth_date),
                           signals=signals, domain_labels=labels, signal_domains={
                               signal: sorted(codes, key=lambda c: place.get(c, len(place)))
                               for signal, codes in domains.items()},
                           consents=consents,
                           referrals=family_referrals, timeline=timeline,
                           history=history, municipality=family.municipality_name,
                           names=names,
                           may_signal=policy.allowed(current_user, "signal.create", family),
                           may_refer=policy.allowed(current_user, "referral.create", family))


@bp.route("/<uuid:family_id>/signals/new", methods=["GET", "POST"])
@login_required
def new_signal(family_id):
    form = SignalForm()
    form.domains.choices = need_domain_choices()
    # Read before the family, whose read takes SQLite's one write lock on a post: the lock
    # is held for the signal, not for reading what was posted.
    posted = form.validate_on_submit()
    family = _family_for("family.view", family_id, read=familykeys.value)  # never changed
    if not policy.allowed(current_user, "signal.create", family):
        return render_template("cases/not_trained.html", family=family), 403
    if posted:
        try:
            operations.log_signal(current_user, family, domains=form.domains.data,
                                  observations=form.observations.data, source=form.source.data,
                                  urgency=form.urgency.data,
                                  stress_factors=form.stress_factors.data or None,
                                  strengths=form.strengths.data or None,
                                  parent_wishes=form.parent_wishes.data or None,
                                  child_wishes=form.child_wishes.data or None)
        except Refused as refused:
            show_refusal(form, refused)
        else:
            flash(_("The signal is saved."), "success")
            return redirect(url_for("cases.family", family_id=family.id), code=303)
    return render_template("cases/signal_form.html", form=form, family=family)


@bp.route("/<uuid:family_id>/consents/new", methods=["GET", "POST"])
@login_required
def new_consent(family_id):
    family = _family_for("family.view", family_id)
    children = queries.children_of([family.id]).get(family.id, [])
    form = ConsentForm()
    form.organisation.choices = [SelectChoice(str(o.id), o.name)
                                 for o in directory.organisations() if o.active]
    form.child.choices = [SelectChoice("", _("the family (a parent agrees)"))] + [
        SelectChoice(str(c.id), c.first_name) for c in children]
    if form.validate_on_submit():
        child = next((c for c in children if str(c.id) == form.child.data), None)
        try:
            operations.record_consent(
                current_user, family, organisation_id=uuid.UUID(form.organisation.data),
                given_by=form.given_by.data, scope=form.scope.data, method=form.method.data,
                given_on=form.given_on.data, child=child,
                parent_agreed=form.parent_agreed.data, child_agreed=form.child_agreed.data)
        except Refused as refused:
            show_refusal(form, refused)
        else:
            flash(_("The consent is recorded."), "success")
            return redirect(url_for("cases.family", family_id=family.id), code=303)
    return render_template("cases/consent_form.html", form=form, family=family)


@bp.route("/<uuid:family_id>/consents/<uuid:consent_id>/withdraw", methods=["GET", "POST"])
@login_required
def withdraw_consent(family_id, consent_id):
    family = _family_for("family.view", family_id)
    consent = db.session().get(Consent, consent_id)
    if consent is None or consent.family_id != family.id or not consent.active:
        abort(404)
    form = ConfirmForm(label=_l("Yes, the family withdraws this consent"))
    if form.validate_on_submit():
        try:
            operations.withdraw_consent(current_user, consent)
        except Refused as refused:
            flash(str(refused), "error")
        else:
            flash(_("The consent is withdrawn: nothing more is shared under it."), "success")
        return redirect(url_for("cases.family", family_id=family.id), code=303)
    organisation = directory.get_organisation(consent.organisation_id)
    return render_template("cases/withdraw.html", form=form, family=family, consent=consent,
                           organisation=organisation)
