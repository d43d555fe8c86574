from datetime import date

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required
from markupsafe import Markup

from referral import policy
from referral.directory import queries as directory
from referral.errors import Refused
from referral.forms import ButtonForm, page_number
from referral.i18n import gettext as _
from referral.kept import kept
from referral.monitor import bp, operations, queries
from referral.monitor.charts import CHARTS
from referral.monitor.forms import PledgeForm, ReportForm
from referral.monitor.models import PROGRESS_LABELS


def _asked_year():
    """The year asked for in the address (None: the newest)."""
    year = request.args.get("year", "")
    return int(year) if year.isascii() and year.isdigit() else None


def _period():
    """The year asked for in the address, if the data has it, and every year there is."""
    return queries.period(_asked_year())


@bp.route("/")
@login_required
def dashboard():
    return _page("monitor/dashboard.html")


@bp.route("/report")
@login_required
def report():
    """The same figures as a report to print or save as PDF."""
    return _page("monitor/report.html")


def _page(template):
    scope, years, tables, counted_at = queries.dashboard(current_user, year=_asked_year())
    return render_template(template, figures=_drawn(scope, tables, counted_at), scope=scope,
                           years=years, today=date.today(), counted_at=counted_at)


def _drawn(scope, tables, counted_at):
    """The figures' charts and tables, drawn once per year, count and language: the same for
    everyone who may see the monitor (there is no personal data in them), so they are drawn
    again only when the count was renewed."""

    def draw():
        description = _("The same figures stand in the table below the chart.")
        charts = {t.key: CHARTS[t.chart](t, description) for t in tables if t.chart}
        html = render_template("monitor/_figures.html", tables=tables, charts=charts)
        return Markup(html)  # noqa: S704  # nosec B704 (a template's escaped output)

    return kept("monitor", (scope.year, counted_at), draw, size=KEPT_FIGURES)[0]


KEPT_FIGURES = 50


@bp.route("/export.csv")
@login_required
def export_csv():
    year, _years = _period()
    _tables, body = queries.export_csv(current_user, year=year)
    name = f"monitor-{year}.csv"
    return Response(body, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


# --- pledges -----------------------------------------------------------------------------

def _year():
    year = request.args.get("year", "")
    return int(year) if year.isascii() and year.isdigit() and 2000 <= int(year) <= 2100 else date.today().year


@bp.route("/pledge")
@login_required
def my_pledge():
    """The partner's own pledge on one page, with this year's report."""
    policy.require(current_user, "pledge.edit")
    return _pledge_page(current_user.organisation_id, editable=True)


@bp.route("/pledges/<uuid:organisation_id>")
@login_required
def pledge(organisation_id):
    policy.require(current_user, "pledge.list")
    return _pledge_page(organisation_id, editable=False)


def _pledge_page(organisation_id, *, editable):
    organisation = directory.get_organisation(organisation_id)
    if organisation is None:
        abort(404)
    year = _year()
    pledge_row, activities = queries.pledge_of(organisation_id)
    reports = queries.reports_of(pledge_row, year) if pledge_row else {}
    return render_template("monitor/pledge.html", organisation=organisation,
                           pledge=pledge_row, activities=activities, reports=reports,
                           year=year, editable=editable, progress=PROGRESS_LABELS)


@bp.route("/pledge/edit", methods=["GET", "POST"])
@login_required
def edit_pledge():
    policy.require(current_user, "pledge.edit")
    pledge_row, activities = queries.pledge_of(current_user.organisation_id)
    form = PledgeForm()
    if request.method == "GET":
        for entry, activity in zip(form.activities, activities, strict=False):
            entry.form.process(None, obj=activity)
        form.new_partner.data = pledge_row.new_partner if pledge_row else None
    if form.validate_on_submit():
        try:
            operations.save_pledge(current_user, activities=form.activity_list(),
                                   new_partner=form.new_partner.data)
        except Refused as refused:
            form.form_errors.append(str(refused))
        else:
            flash(_("Your pledge is saved."), "success")
            return redirect(url_for("monitor.my_pledge"), code=303)
    return render_template("monitor/pledge_form.html", form=form)


@bp.route("/pledge/report", methods=["GET", "POST"])
@login_required
def report_pledge():
    policy.require(current_user, "pledge.edit")
    year = _year()
    pledge_row, activities = queries.pledge_of(current_user.organisation_id)
    if pledge_row is None:
        flash(_("Describe your pledge first."), "warning")
        return redirect(url_for("monitor.edit_pledge"), code=303)
    form = ReportForm()
    current = queries.reports_of(pledge_row, year)
    if request.method == "GET":
        for activity in activities:
            done = current.get(activity.id)
            form.entries.append_entry({"progress": done.progress if done else "",
                                       "text": done.text if done else ""})
    if form.validate_on_submit():
        try:
            operations.report_pledge(current_user, year=year, entries={
                activity.id: (entry.progress.data, entry.text.data)
                for activity, entry in zip(activities, form.entries, strict=False)})
        except Refused as refused:
            form.form_errors.append(str(refused))
        else:
            flash(_("Your report on %(year)d is saved.", year=year), "success")
            return redirect(url_for("monitor.my_pledge", year=year), code=303)
    return render_template("monitor/pledge_report.html", form=form, year=year,
                           entries=list(zip(activities, form.entries, strict=False)))


@bp.route("/pledges", methods=["GET", "POST"])
@login_required
def pledge_list():
    """Coordinators: who pledged what, who reported on the year; remind those who did not."""
    policy.require(current_user, "pledge.list")
    year = _year()
    form = ButtonForm()
    if form.validate_on_submit():
        reminded = operations.remind_pledges(current_user, year=year)
        flash(_("Reminders queued for %(num)d organisations.", num=reminded), "success")
        return redirect(url_for("monitor.pledge_list", year=year), code=303)
    return render_template("monitor/pledges.html", year=year, form=form,
                           page=queries.overview_page(year, page_number(request.args)))
