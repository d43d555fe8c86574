from datetime import date

from flask import Response, render_template, request
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user, login_required

from referral import audit
from referral.auth import policy
from referral.auth.models import Role
from referral.cases.forms import SOURCE_LABELS
from referral.directory import services as directory
from referral.monitor import bp, export, services
from referral.monitor.charts import CHARTS
from referral.referrals.lifecycle import OUTCOME_LABELS, STATUS_LABELS


def labels():
    """Every name the monitor shows, in the reader's language (also for exports)."""
    return {
        "lang": str(get_locale()),
        "signals_domain": _("Signals per need domain"),
        "signals_source": _("Signals per source"),
        "age_bands": _("Children in the families reached, per age band"),
        "referrals_status": _("Referrals per status"),
        "referrals_organisation": _("Referrals per organisation"),
        "referrals_service": _("Referrals per service"),
        "outcomes_title": _("Outcome of completed referrals"),
        "key_figures": _("Key figures"),
        "matrix": _("Which need domains lead to which organisations"),
        "feedback": _("Feedback scores (1 to 5)"),
        "trend": _("Per month, over two years"),
        "targets": _("The alliance's targets"),
        "signals": _("Signals"), "referrals": _("Referrals"), "children": _("Children"),
        "value": _("Value"), "parents": _("Parents"),
        "families_reached": _("Families reached"),
        "share_need_met": _("Completed with the need met"),
        "median_acceptance": _("Median days from request to acceptance"),
        "median_completion": _("Median days from request to completion"),
        "share_overdue": _("Open referrals that are overdue"),
        "trained_in": _("Trained professionals: %(organisation)s"),
        "active_bridges": _("Active bridge workers"),
        "new_bridges": _("New bridge workers this year (aim: 100 in three years)"),
        "sources": {k: str(v) for k, v in SOURCE_LABELS.items()},
        "statuses": {k: str(v) for k, v in STATUS_LABELS.items()},
        "outcomes": {k: str(v) for k, v in OUTCOME_LABELS.items()},
        "questions": {"heard": _("felt heard"), "useful": _("help was useful"),
                      "easy": _("easy to get"), "better": _("things changed")},
    }


def _scope():
    """The chosen year and municipality; a partner always sees only their organisation."""
    years = services.years()
    year = request.args.get("year", "")
    year = int(year) if year.isdigit() and int(year) in years else years[0]
    municipalities = dict(directory.municipalities())
    municipality = request.args.get("municipality") or None
    if municipality not in municipalities:
        municipality = None
    organisation = current_user.organisation_id if current_user.role == Role.partner else None
    return services.Scope(year, municipality, organisation), years, municipalities


@bp.route("/")
@login_required
def dashboard():
    policy.require("monitor.view")
    scope, years, municipalities = _scope()
    tables = services.figures(scope, labels())
    description = _("The same figures stand in the table below the chart.")
    charts = {t.key: CHARTS[t.chart](t, description) for t in tables if t.chart}
    audit.record("read", object_type="monitor", summary=f"monitor {scope.year}")
    return render_template("monitor/dashboard.html", tables=tables, charts=charts,
                           scope=scope, years=years, municipalities=municipalities,
                           today=date.today())


@bp.route("/export.csv")
@login_required
def export_csv():
    policy.require("monitor.view")
    scope, _years, _municipalities = _scope()
    body = export.csv_text(services.figures(scope, labels()))
    audit.record("export", object_type="monitor", summary=f"monitor export {scope.year}")
    name = f"monitor-{scope.year}{'-' + scope.municipality if scope.municipality else ''}.csv"
    return Response(body, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})
