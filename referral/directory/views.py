import uuid
from datetime import date
from typing import NamedTuple

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup
from wtforms.fields.choices import SelectChoice

from referral import policy
from referral.directory import bp, hsds, operations, queries
from referral.directory.forms import (
    CAPACITY_LABELS,
    ROUTE_LABELS,
    STATUS_LABELS,
    MergeForm,
    OrganisationForm,
    SearchForm,
    ServiceForm,
    parse_languages,
)
from referral.directory.models import (
    NOT_KNOWN,
    Capacity,
    Organisation,
    ReferralRoute,
    Service,
    ServiceStatus,
)
from referral.errors import Refused
from referral.forms import ConfirmForm, need_domain_choices, page_number, show_refusal
from referral.i18n import gettext as _
from referral.kept import kept


def age_range(service):
    low, high = service.minimum_age, service.maximum_age
    if low is None and high is None:
        return _("all ages")
    if high is None:
        return _("from %(low)d years", low=low)
    if low is None:
        return _("up to %(high)d years", high=high)
    return _("%(low)d to %(high)d years", low=low, high=high)


@bp.app_context_processor
def labels():
    return {"status_label": lambda v: STATUS_LABELS.get(v, v),
            "capacity_label": lambda v: CAPACITY_LABELS.get(v, v) if v else NOT_KNOWN,
            "route_label": lambda v: ROUTE_LABELS.get(v, v) if v else NOT_KNOWN,
            "age_range": age_range,
            "ServiceStatus": ServiceStatus, "Capacity": Capacity, "ReferralRoute": ReferralRoute}


def _domain_labels():
    return {choice.value: choice.label for choice in need_domain_choices()}


# Directory pages are kept per directory version, replaced by a trigger on every write to
# its tables whoever writes, and per day (a check gets stale overnight).
KEPT_SEARCHES, KEPT_SERVICES = 200, 500


def _kept(name, what, draw, size):
    """(the page, whether it was kept); drawn every time if the version row is missing."""
    version = queries.version()
    if version is None:
        return draw(), False
    return kept(name, (version, date.today(), what), draw, size=size)


@bp.route("/")
@login_required
def search():
    policy.require(current_user, "directory.search")
    # (how many results, None when the query was refused; the HTML)
    (total, html), was_kept = _kept("searches", tuple(request.args.items(multi=True)),
                                    _draw_search, KEPT_SEARCHES)
    if was_kept and total is not None:
        queries.log_search(total)  # a search read again is logged as one run
    return render_template("directory/search.html", drawn=html)


def _draw_search():
    form = SearchForm(request.args)
    form.domains.choices = need_domain_choices()
    form.municipality.choices = [SelectChoice("", _("All municipalities"))] + [
        SelectChoice(code, name) for code, name in queries.municipalities()]
    page = None
    if form.validate():
        page = queries.search(domains=form.domains.data or (),
                              municipality=form.municipality.data or None,
                              age=form.age.data, text=form.q.data or "",
                              everything=form.everything.data,
                              page=page_number(request.args))
    args = request.args.to_dict(flat=False)
    args.pop("page", None)
    html = render_template("directory/_search.html", form=form, page=page, query_args=args,
                           domain_labels=_domain_labels())
    return (page.total if page else None,
            Markup(html))  # noqa: S704  # nosec B704 (a template's escaped output)


def _service_or_404(service_id):
    result = queries.get_service(service_id)
    if result is None:
        abort(404)
    return result


class Drawn(NamedTuple):
    """A service's page as kept: its name, its organisation (whose partners may edit it)
    and the HTML of what every reader sees."""

    name: str
    organisation_id: uuid.UUID
    html: Markup


@bp.route("/services/<uuid:service_id>")
@login_required
def service(service_id):
    policy.require(current_user, "directory.search")

    def draw():
        result = _service_or_404(service_id)
        result.source = queries.source_details(service_id)
        html = render_template("directory/_service.html", result=result,
                               domain_labels=_domain_labels())
        return Drawn(result.service.name, result.service.organisation_id,
                     Markup(html))  # noqa: S704  # nosec B704 (a template's escaped output)

    drawn, _was_kept = _kept("services", service_id, draw, KEPT_SERVICES)
    # The policy asks only whose service it is: the kept page says.
    return render_template("directory/service.html", drawn=drawn, service_id=service_id,
                           can_edit=policy.allowed(current_user, "service.edit", drawn))


@bp.post("/services/<uuid:service_id>/assure")
@login_required
def assure(service_id):
    result = _service_or_404(service_id)
    operations.assure_service(current_user, result.service)  # CSRFProtect checked the token
    flash(_("Thank you: the entry is marked as checked today."), "success")
    return redirect(url_for("directory.service", service_id=service_id), code=303)


def _columns(form, model):
    """The form's fields that are columns of the model; empty text becomes None."""
    return {field.name: None if field.data == "" else field.data for field in form
            if field.name in model.model_fields and field.name != "id"}


def _service_form(organisation, result=None):
    """Show the service form, or save it and go to the service; for a new or an existing one."""
    form = ServiceForm(obj=result.service if result else None)
    form.domains.choices = need_domain_choices()
    if result and request.method == "GET":
        if result.address:
            for name in form.PLACE_FIELDS:
                form[name].data = getattr(result.address, name)
        form.opening_hours.data = result.opening_hours
        form.domains.data = result.domains
        form.areas.data = "\n".join(f"{a.municipality_code} {a.municipality_name}"
                                    for a in result.areas if a.municipality_code)
        form.languages.data = ", ".join(language.code for language in result.languages)
    if form.validate_on_submit():
        entry = dict(_columns(form, Service), domains=form.domains.data,
                     areas=form.parsed_areas(), languages=parse_languages(form.languages.data),
                     address=form.address(), opening_hours=form.opening_hours.data or "")
        try:
            if result is None:
                service = operations.create_service(current_user, organisation, **entry)
            else:
                service = operations.edit_service(current_user, result.service, **entry)
        except Refused as refused:
            show_refusal(form, refused)
        else:
            flash(_("The service is saved."), "success")
            return redirect(url_for("directory.service", service_id=service.id), code=303)
    return render_template("directory/service_form.html", form=form, result=result,
                           organisation=organisation)


@bp.route("/services/<uuid:service_id>/edit", methods=["GET", "POST"])
@login_required
def edit_service(service_id):
    result = _service_or_404(service_id)
    policy.require(current_user, "service.edit", result.service, object_type="service", object_id=service_id)
    return _service_form(result.organisation, result)


@bp.route("/organisations/<uuid:organisation_id>/services/new", methods=["GET", "POST"])
@login_required
def new_service(organisation_id):
    organisation = _organisation_or_404(organisation_id)
    service = Service(organisation_id=organisation.id, name="")
    policy.require(current_user, "service.edit", service, object_type="organisation",
                   object_id=organisation_id)
    return _service_form(organisation)


def _organisation_or_404(organisation_id):
    organisation = queries.get_organisation(organisation_id)
    if organisation is None:
        abort(404)
    return organisation


@bp.route("/organisations/<uuid:organisation_id>")
@login_required
def organisation(organisation_id):
    policy.require(current_user, "directory.search")
    organisation = _organisation_or_404(organisation_id)
    probe = Service(organisation_id=organisation.id, name="")
    return render_template("directory/organisation.html", organisation=organisation,
                           results=queries.services_of(organisation.id),
                           domain_labels=_domain_labels(),
                           can_edit=policy.allowed(current_user, "service.edit", probe),
                           can_manage=policy.allowed(current_user, "directory.manage"))


@bp.route("/organisations/new", methods=["GET", "POST"])
@bp.route("/organisations/<uuid:organisation_id>/edit", methods=["GET", "POST"])
@login_required
def edit_organisation(organisation_id=None):
    policy.require(current_user, "directory.manage", object_type="organisation", object_id=organisation_id)
    organisation = _organisation_or_404(organisation_id) if organisation_id else None
    form = OrganisationForm(obj=organisation)
    if form.validate_on_submit():
        try:
            if organisation is None:
                organisation = operations.create_organisation(
                    current_user, **_columns(form, Organisation))
            else:
                operations.edit_organisation(current_user, organisation,
                                             **_columns(form, Organisation))
        except Refused as refused:
            show_refusal(form, refused)
        else:
            flash(_("The organisation is saved."), "success")
            return redirect(url_for("directory.organisation", organisation_id=organisation.id),
                            code=303)
    return render_template("directory/organisation_form.html", form=form,
                           organisation=organisation)


@bp.route("/organisations/<uuid:organisation_id>/deactivate", methods=["GET", "POST"])
@login_required
def deactivate_organisation(organisation_id):
    policy.require(current_user, "directory.manage", object_type="organisation", object_id=organisation_id)
    organisation = _organisation_or_404(organisation_id)
    form = ConfirmForm()
    if form.validate_on_submit():
        operations.deactivate_organisation(current_user, organisation)
        flash(_("The organisation and its services no longer show in the search."), "success")
        return redirect(url_for("directory.organisation", organisation_id=organisation.id),
                        code=303)
    return render_template("directory/deactivate.html", form=form, organisation=organisation,
                           count=len(queries.services_of(organisation.id)))


@bp.route("/organisations/<uuid:organisation_id>/merge", methods=["GET", "POST"])
@login_required
def merge_organisation(organisation_id):
    policy.require(current_user, "directory.manage", object_type="organisation", object_id=organisation_id)
    duplicate = _organisation_or_404(organisation_id)
    form = MergeForm()
    form.into.choices = [SelectChoice(str(o.id), o.name) for o in queries.organisations()
                         if o.id != duplicate.id]
    if form.validate_on_submit():
        into = _organisation_or_404(uuid.UUID(form.into.data))
        try:
            operations.merge_organisations(current_user, duplicate, into=into)
        except Refused as refused:
            show_refusal(form, refused)
        else:
            flash(_("The organisations are merged."), "success")
            return redirect(url_for("directory.organisation", organisation_id=into.id),
                            code=303)
    return render_template("directory/merge.html", form=form, organisation=duplicate,
                           count=len(queries.services_of(duplicate.id)))


@bp.route("/organisations")
@login_required
def organisations():
    policy.require(current_user, "directory.search")
    return render_template("directory/organisations.html",
                           organisations=queries.organisations(),
                           can_manage=policy.allowed(current_user, "directory.manage"))


@bp.route("/export.zip")
@login_required
def export():
    data = hsds.zip_bytes(queries.hsds_export(current_user))
    return Response(data, mimetype="application/zip", headers={
        "Content-Disposition": "attachment; filename=sociale-kaart-hsds-3.0.zip"})


@bp.route("/attention")
@login_required
def attention():
    policy.require(current_user, "directory.manage")
    return render_template("directory/attention.html", rows=queries.needing_attention())
