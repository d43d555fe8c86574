"""The monitor's figures: counted in SQL on plain columns, never decrypting anything, and
protected against small numbers (see suppression.py) before anyone sees them. Also the
pledges as they stand."""

import json
import statistics
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime, timedelta

from flask import current_app
from flask_babel import get_locale
from sqlalchemy import bindparam, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import select

from referral import audit, db, policy
from referral.auth.models import Role, User
from referral.cases.models import SOURCE_LABELS, Child, Family, Signal, SignalDomain
from referral.directory import queries as directory
from referral.directory.models import NeedDomain, Organisation, Service
from referral.feedback.models import FeedbackResponse
from referral.i18n import gettext as _
from referral.monitor import export
from referral.monitor.models import (
    MonitorCache,
    Pledge,
    PledgeActivity,
    PledgeReport,
)
from referral.monitor.suppression import (
    SMALL,
    Cell,
    mean,
    protect,
    single,
    total,
)
from referral.policy import COMMAND_LINE, training_valid
from referral.referrals.models import (
    OPEN,
    OUTCOME_LABELS,
    REASON_LABELS,
    STATUS_LABELS,
    Referral,
    Status,
)
from referral.referrals.queries import overdue_clause

LARGEST = 15  # organisations and services shown by name; the rest are added up


_LABELS = {}  # language: the monitor's names (its catalog does not change while it runs)


def labels():
    """Every name the monitor shows, in the reader's language (also for exports): written
    once per language and process, not string by string on every page."""
    language = str(get_locale())
    if language not in _LABELS:
        _LABELS[language] = _labels()
    return _LABELS[language]


def _labels():
    return {
        "lang": str(get_locale()),
        "signals_domain": _("Signals per need domain"),
        "signals_source": _("Signals per source"),
        "age_bands": _("Children in the families reached, per age band"),
        "referrals_status": _("Referrals per status"),
        "referrals_organisation": _("Referrals per organisation"),
        "municipalities": _("Per municipality"),
        "no_municipality": _("Municipality not known"),
        "outcomes_title": _("Outcome of completed referrals"),
        "key_figures": _("Key figures"),
        "matrix": _("Which need domains lead to which organisations"),
        "feedback": _("Feedback scores (1 to 5)"),
        "trend": _("Per month, over two years"),
        "feedback_trend": _("Feedback per month: mean score for feeling heard"),
        "targets": _("The alliance's targets"),
        "others": _("All others"),
        "signals": _("Signals"), "referrals": _("Referrals"), "children": _("Children"),
        "value": _("Value"), "parents": _("Parents"),
        "families_reached": _("Families reached"),
        "share_need_met": _("Completed with the need met"),
        "median_acceptance": _("Median days from request to acceptance"),
        "median_completion": _("Median days from request to completion"),
        "share_overdue": _("Open referrals that are overdue"),
        "trained_in": _("Trained professionals: %(organisation)s"),
        "active_bridges": _("Bridge workers who accompanied a family this year"),
        "new_bridges": _("New bridge workers in the last three years (aim: 100)"),
        "pledges_reported": _("Partners that reported on their pledge"),
        "sources": {k: str(v) for k, v in SOURCE_LABELS.items()},
        "statuses": {k: str(v) for k, v in STATUS_LABELS.items()},
        "outcomes": {k: str(v) for k, v in OUTCOME_LABELS.items()},
        "reasons_title": _("Why referrals were rejected or failed"),
        "reasons": {k: str(v) for k, v in REASON_LABELS.items()},
        "questions": {"heard": _("felt heard"), "useful": _("help was useful"),
                      "easy": _("easy to get"), "better": _("things changed")},
    }


@dataclass
class Table:
    """One figure: rows of cells under columns, with a chart kind for the page."""

    key: str
    title: str
    columns: list
    rows: list = field(default_factory=list)  # (label, [Cell | str, …])
    chart: str | None = None  # "bars", "line" or "heat"
    total: Cell | None = None
    groups: list = field(default_factory=list)  # [(row, column), …] that add up to a figure


@dataclass(frozen=True)
class Scope:
    """What is counted: the referrals and signals made in `years` calendar years ending with
    `year` (the trend: two), in the whole alliance. There is no narrower scope: see
    `figures`."""

    year: int
    years: int = 1

    @property
    def start(self):
        return datetime(self.year - self.years + 1, 1, 1, tzinfo=UTC)

    @property
    def end(self):
        return datetime(self.year + 1, 1, 1, tzinfo=UTC)


def _referrals(scope, *columns):
    return select(*columns).select_from(Referral).where(
        Referral.created_at >= scope.start, Referral.created_at < scope.end,
        Referral.status != Status.entered_in_error)


def _signals(scope, *columns):
    return select(*columns).select_from(Signal).where(
        Signal.created_at >= scope.start, Signal.created_at < scope.end)


def _breakdown(key, title, counts, labels, column, chart="bars"):
    cells = protect({code: counts.get(code, 0) for code in labels})
    return Table(key, title, [column],
                 [(labels[code], [cells[code]]) for code in labels], chart,
                 total(dict(counts)), [[(row, 0) for row in range(len(labels))]])


def _part(key, title, counts, labels, column, whole):
    """A breakdown of figures shown in another table (`whole`, their Cells): counted like
    any breakdown when they are all shown; when one is hidden, every part is hidden too and
    there is no total, so that nothing here gives back what the other table hides."""
    if not any(cell.hidden for cell in whole):
        return _breakdown(key, title, counts, labels, column)
    return Table(key, title, [column], [(labels[code], [Cell(counts.get(code, 0), "complement")])
                                        for code in labels], "bars")


def cached_figures(scope, labels, *, now=None, force=False):
    """`figures`, counted at most once per MONITOR_CACHE_SECONDS for each year and language
    and shared by every app process. Returns (tables, when they were counted).
    (Storing the count is this read's memory, not a change of anything it counts.)"""
    key = _count_key(scope.year, labels)
    stored = db.row(_count(), {"key": key})
    return _figures_or_stored(scope, labels, stored, now=now, force=force)


def _figures_or_stored(scope, labels, stored, *, now=None, force=False):
    """The stored count (a row of computed_at and tables, or None) while it is fresh, else
    counted now and stored."""
    now = now or datetime.now(UTC)
    key = _count_key(scope.year, labels)
    fresh = now - timedelta(seconds=current_app.config["MONITOR_CACHE_SECONDS"])
    if stored is not None and db.aware(stored.computed_at) > fresh and not force:
        counted_at = db.aware(stored.computed_at)
        kept = _read.get(key)
        if kept is None or kept[0] != counted_at:  # counted again since this process read it
            kept = _read[key] = (counted_at, [_table(t) for t in json.loads(stored.tables)])
        return kept[1], counted_at
    tables = figures(scope, labels)
    values = {"key": key, "computed_at": now, "tables": json.dumps(
        [asdict(t) | {"groups": []} for t in tables], default=str)}
    dialect = postgresql if db.engine().dialect.name == "postgresql" else sqlite
    db.write_apart()  # counted without the write lock, stored holding it for this alone
    db.session().execute(dialect.insert(MonitorCache).values(**values).on_conflict_do_update(
        index_elements=["key"], set_={"computed_at": now, "tables": values["tables"]}))
    return tables, now


# The shared count as this process last read it, per key: (when counted, its tables). The
# tables are read from their JSON again only when the count was renewed; they are the same
# for everyone who may see the monitor (no personal data) and nobody changes them.
_read = {}


def _count_key(year, labels):
    return f"{year}/{labels['lang']}"


@db.prepared
def _count():
    return select(MonitorCache.computed_at, MonitorCache.tables).where(
        MonitorCache.key == bindparam("key"))


@db.prepared
def _first_and_count():
    """The first referral's moment (which years there are) and a year's stored count, in
    one statement: every view of the monitor asks both."""
    def stored(column):
        return select(column).where(MonitorCache.key == bindparam("key")).scalar_subquery()

    return select(_first_referral().scalar_subquery().label("first_referral"),
                  stored(MonitorCache.computed_at).label("computed_at"),
                  stored(MonitorCache.tables).label("tables"))


def _cell(value):
    return Cell(value["value"], value["hidden"]) if isinstance(value, dict) else value


def _table(data):
    return Table(data["key"], data["title"], data["columns"],
                 [(label, [_cell(c) for c in cells]) for label, cells in data["rows"]],
                 data["chart"], _cell(data["total"]))


def figures(scope, labels):
    """Every table of the monitor for one year, in the reader's language (`labels` names
    need domains, sources, statuses, outcomes and column titles).

    All figures published for a year are one set of linked tables: everyone who may see
    the monitor sees the same set, and each table is a breakdown of one population (the
    year's signals, families reached, their children, referrals) along one dimension,
    beside the total that every breakdown of that population shares. Such breakdowns tell
    nothing about each other beyond their total, so hiding within each table (`protect`)
    holds across them. Where a table breaks down a figure of another (the outcomes of the
    completed referrals, the reasons of the rejected and failed ones, the heat map's
    organisations), it follows what that table hides. Municipalities are a breakdown of
    their own, not a filter: a municipality's page beside the whole would make every table
    a two-way table, and protecting those together hid most of a small municipality's
    figures (see docs/monitor.md)."""
    session = db.session()
    tables = []
    domains = {d.code: (d.label_nl if labels["lang"] == "nl" else d.label_en)
               for d in session.exec(select(NeedDomain).order_by(NeedDomain.position))}

    by_domain = dict(session.exec(_signals(scope, SignalDomain.domain_code, func.count())
                                  .join(SignalDomain, SignalDomain.signal_id == Signal.id)
                                  .group_by(SignalDomain.domain_code)).all())
    # A signal names one need domain or more: the domains add up to more than the signals,
    # so they get no total (which would bound the number of signals) and are hidden one by one.
    tables.append(Table("signals_domain", labels["signals_domain"], [labels["signals"]], [
        (label, [single(by_domain.get(code, 0))]) for code, label in domains.items()], "bars"))
    by_source = dict(session.exec(_signals(scope, Signal.source, func.count())
                                  .group_by(Signal.source)).all())
    tables.append(_breakdown("signals_source", labels["signals_source"], by_source,
                             labels["sources"], labels["signals"]))
    families = session.exec(_signals(scope, func.count(func.distinct(Signal.family_id)))).one()
    reached = _signals(scope, Signal.family_id).distinct().subquery()
    bands = dict(session.exec(
        select(Child.age_band, func.count()).join(reached, reached.c.family_id ==
                                                  Child.family_id)
        .group_by(Child.age_band)).all())
    tables.append(_breakdown("age_bands", labels["age_bands"], bands,
                             {b: b for b in ("0-3", "4-11", "12-15", "16-17", "18+")},
                             labels["children"]))

    # One pass over the year's referrals, grouped finely; the breakdowns add the groups up.
    by_status, by_outcome, by_reason = (Counter() for _ in range(3))
    organisations = dict(session.exec(select(Organisation.id, Organisation.name)).all())
    # Every organisation that offers a service or ever had a referral, also in a year
    # without one: a list of only those with some would tell which had none.
    by_organisation = Counter(dict.fromkeys(session.exec(select(Organisation.name).where(
        Organisation.id.in_(select(Service.organisation_id))
        | Organisation.id.in_(select(Referral.organisation_id)))).all(), 0))
    for status, outcome, reason, organisation_id, n in session.exec(
            _referrals(scope, Referral.status, Referral.outcome, Referral.reason_code,
                       Referral.organisation_id, func.count())
            .group_by(Referral.status, Referral.outcome, Referral.reason_code,
                      Referral.organisation_id)).all():
        by_status[status] += n
        by_organisation[organisations[organisation_id]] += n
        if status == Status.completed:
            by_outcome[outcome] += n
        if status in (Status.rejected, Status.failed):
            by_reason[reason or "other"] += n
    statuses = {s: labels["statuses"][s] for s in Status if s != Status.entered_in_error}
    status_table = _breakdown("referrals_status", labels["referrals_status"], by_status,
                              statuses, labels["referrals"])
    tables.append(status_table)
    status_cells = _cells(status_table, statuses)
    by_organisation = _largest(by_organisation, labels["others"])
    organisation_table = _breakdown("referrals_organisation", labels["referrals_organisation"],
                                    by_organisation, {n: n for n in by_organisation},
                                    labels["referrals"])
    tables.append(organisation_table)
    outcome_table = _part("outcomes", labels["outcomes_title"], by_outcome, labels["outcomes"],
                          labels["referrals"], [status_cells[Status.completed]])
    tables.append(outcome_table)
    tables.append(_part("reasons", labels["reasons_title"], by_reason, labels["reasons"],
                        labels["referrals"], [status_cells[Status.rejected],
                                              status_cells[Status.failed]]))
    tables.append(_municipalities(scope, labels))

    met = _cells(outcome_table, labels["outcomes"])["need_met"]
    tables.append(_key_figures(scope, labels, families, by_status, met,
                               [status_cells[s] for s in OPEN]))
    tables.append(_matrix(scope, labels, domains, organisations, organisation_table))
    tables.append(_feedback(scope, labels))
    tables.append(_trend(scope, labels))
    tables.append(_feedback_trend(scope, labels))
    tables.append(_targets(scope, labels))
    return tables


def _cells(table, codes):
    """{code: cell} of a one-column breakdown made from `codes` (see `_breakdown`)."""
    return dict(zip(codes, (cells[0] for _label, cells in table.rows), strict=True))


def _municipalities(scope, labels):
    """Signals, families reached and referrals per municipality of the family: each column
    a breakdown of a total shown elsewhere; the largest municipalities by name, and the
    families whose municipality is not known on a row of their own."""
    session = db.session()
    place = func.coalesce(Family.municipality_code, "")
    signals, families, referrals = (dict(session.exec(query.join(
        Family, Family.id == column).group_by(place)).all())
        for query, column in (
            (_signals(scope, place, func.count()), Signal.family_id),
            (_signals(scope, place, func.count(func.distinct(Signal.family_id))),
             Signal.family_id),
            (_referrals(scope, place, func.count()), Referral.family_id)))
    # Every municipality where a family lives, also without a signal this year (see the
    # organisations in `figures`). Not those where only a service is offered: their zeros
    # would hide the only municipality of a small alliance.
    ranked = _largest({code: referrals.get(code, 0) + signals.get(code, 0)
                       for code in session.exec(select(place).distinct()).all()}, None)
    names = directory.municipality_names(ranked) | {"": labels["no_municipality"],
                                                    None: labels["others"]}
    columns = []
    for counts in (signals, families, referrals):
        grouped = {code: counts.get(code, 0) for code in ranked if code is not None}
        if None in ranked:
            grouped[None] = sum(counts.values()) - sum(grouped.values())
        columns.append(protect(grouped))
    table = Table("municipalities", labels["municipalities"],
                  [labels["signals"], labels["families_reached"], labels["referrals"]])
    for code in ranked:
        table.rows.append((names.get(code, code), [column[code] for column in columns]))
    return table


def _largest(counts, others):
    """The LARGEST biggest counts, biggest first, and the rest added up under `others`: a
    country has thousands of organisations, a page shows the ones that matter."""
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    largest = dict(ranked[:LARGEST])
    if len(ranked) > LARGEST:
        largest[others] = sum(n for _name, n in ranked[LARGEST:])
    return largest


def _share(part, whole):
    """A percentage, only where neither the part nor the rest is small (100% of 12 would
    tell that none of them failed)."""
    if part < SMALL or whole - part < SMALL:
        return Cell(part, "complement")
    return f"{round(100 * part / whole)}%"


def _days_between(earlier, later):
    """Days between two timestamps, computed by the database (no rows to Python)."""
    if db.engine().dialect.name == "sqlite":
        return func.julianday(later) - func.julianday(earlier)
    return func.extract("epoch", later - earlier) / 86400


def _median_days(scope, earlier, later, *conditions):
    days = list(db.session().exec(
        _referrals(scope, _days_between(earlier, later)).where(
            earlier.is_not(None), later.is_not(None), *conditions)).all())
    if len(days) < SMALL:
        return Cell(len(days), "small")
    return f"{statistics.median(float(d) for d in days):.1f}"


def _key_figures(scope, labels, families, by_status, met, open_cells):
    """`met`: the outcome "need met" as its table shows it; `open_cells`: the open statuses
    as theirs do. A share is shown only where those are, so it gives back nothing hidden."""
    open_count = sum(by_status.get(s, 0) for s in OPEN)
    hidden = Cell(0, "complement")
    rows = [
        (labels["families_reached"], [single(families)]),
        (labels["share_need_met"], [hidden if met.hidden else _share(
            met.value, by_status.get(Status.completed, 0))]),
        (labels["median_acceptance"], [_median_days(scope, Referral.requested_at,
                                                    Referral.accepted_at)]),
        (labels["median_completion"], [_median_days(scope, Referral.requested_at,
                                                    Referral.closed_at,
                                                    Referral.status == Status.completed)]),
        (labels["share_overdue"], [hidden if any(c.hidden for c in open_cells)
                                   else _share(_overdue(scope), open_count)]),
    ]
    return Table("key", labels["key_figures"], [labels["value"]], rows)


def _overdue(scope):
    return db.session().exec(_referrals(scope, func.count()).where(overdue_clause())).one()


def _matrix(scope, labels, domains, organisations, organisation_table):
    """Which need domains lead to which organisations: referrals, per signal domain. The
    columns are the organisations that `organisation_table` shows; every other one, hidden
    there or among "all others", is counted under "all others", so no column can tell what
    that table hides."""
    named = [label for label, [cell] in organisation_table.rows
             if not cell.hidden and label != labels["others"]]
    names = named + ([labels["others"]] if len(named) < len(organisation_table.rows) else [])
    counts = Counter()
    for code, organisation_id, n in db.session().exec(
            _referrals(scope, SignalDomain.domain_code, Referral.organisation_id, func.count())
            .join(SignalDomain, SignalDomain.signal_id == Referral.signal_id)
            .group_by(SignalDomain.domain_code, Referral.organisation_id)).all():
        name = organisations[organisation_id]
        counts[(code, name if name in named else labels["others"])] += n
    table = Table("matrix", labels["matrix"], names, chart="heat")
    if names:
        for code, label in domains.items():
            table.rows.append((label, [single(counts[(code, name)]) for name in names]))
    return table


def _feedback(scope, labels):
    """Mean scores of parents and of children, each only from SMALL answers."""
    names = ("heard", "useful", "easy", "better")
    query = select(FeedbackResponse.form, *[
        f(getattr(FeedbackResponse, name)) for name in names for f in (func.count, func.sum)]
    ).where(FeedbackResponse.submitted_at >= scope.start,
            FeedbackResponse.submitted_at < scope.end)
    # (parent?, question) -> [answers, sum of scores]; both children's forms count together.
    totals = {}
    for form, *figures in db.session().exec(query.group_by(FeedbackResponse.form)).all():
        for index, name in enumerate(names):
            entry = totals.setdefault((form == "parent", name), [0, 0])
            entry[0] += figures[2 * index]
            entry[1] += figures[2 * index + 1] or 0
    table = Table("feedback", labels["feedback"], [labels["parents"], labels["children"]])
    for name in names:
        cells = []
        for parent in (True, False):
            answered, summed = totals.get((parent, name), (0, 0))
            cells.append(mean(summed, answered))
        table.rows.append((labels["questions"][name], cells))
    return table


def _months(scope):
    """(year, month) of the two years up to the chosen one, oldest first."""
    return [(year, month) for year in (scope.year - 1, scope.year) for month in range(1, 13)]


def _trend(scope, labels):
    """Referrals and signals per month over the two years up to the chosen one."""
    months = _months(scope)
    two_years = Scope(scope.year, years=2)

    def per_month(query_for, column):
        year, month = func.extract("year", column), func.extract("month", column)
        query = query_for(two_years, year, month, func.count())
        return {(int(y), int(m)): n for y, m, n in db.session().exec(
            query.group_by(year, month)).all()}

    referrals = per_month(_referrals, Referral.created_at)
    signals = per_month(_signals, Signal.created_at)
    # The months of a year add up to the year's total shown above: protect them like parts.
    cells = {}
    for series in (referrals, signals):
        for year in (scope.year - 1, scope.year):
            part = {key: series.get(key, 0) for key in months if key[0] == year}
            cells.update({(id(series), key): cell for key, cell in protect(part).items()})
    table = Table("trend", labels["trend"], [labels["referrals"], labels["signals"]],
                  chart="line", groups=[[(row, column) for row, key in enumerate(months)
                                         if key[0] == year] for column in (0, 1)
                                        for year in (scope.year - 1, scope.year)])
    for key in months:
        table.rows.append((f"{key[0]}-{key[1]:02d}", [cells[(id(referrals), key)],
                                                      cells[(id(signals), key)]]))
    return table


def _feedback_trend(scope, labels):
    """How heard families and children felt, per month over two years: a mean only for a
    month with at least SMALL answers."""
    year = func.extract("year", FeedbackResponse.submitted_at)
    month = func.extract("month", FeedbackResponse.submitted_at)
    query = select(year, month, func.count(FeedbackResponse.heard),
                   func.sum(FeedbackResponse.heard)).where(
        FeedbackResponse.submitted_at >= datetime(scope.year - 1, 1, 1, tzinfo=UTC),
        FeedbackResponse.submitted_at < scope.end, FeedbackResponse.heard.is_not(None))
    figures = {(int(y), int(m)): (n, total_score) for y, m, n, total_score in
               db.session().exec(query.group_by(year, month)).all()}
    table = Table("feedback_trend", labels["feedback_trend"], [labels["questions"]["heard"]],
                  chart="line")
    for key in _months(scope):
        n, total_score = figures.get(key, (0, 0))
        table.rows.append((f"{key[0]}-{key[1]:02d}", [
            round(total_score / n, 1) if n >= SMALL else Cell(n, "few")]))
    return table


def _targets(scope, labels):
    """The alliance's own targets: trained professionals per organisation, bridge workers."""
    session = db.session()
    users = session.exec(select(User, Organisation.name).join(
        Organisation, Organisation.id == User.organisation_id, isouter=True).where(
        User.active)).all()
    trained = {}
    for user, organisation in users:
        if user.role == Role.professional and training_valid(user):
            trained[organisation or "—"] = trained.get(organisation or "—", 0) + 1
    bridges = [user for user, _org in users if user.role == Role.bridge]
    three_years = datetime(scope.year - 2, 1, 1, tzinfo=UTC)
    new_bridges = [u for u in bridges if three_years <= db.aware(u.created_at) < scope.end]
    # Active: accompanied at least one family referred in this year (asked and agreed).
    accompanying = session.exec(_referrals(scope, func.count(func.distinct(
        Referral.bridge_id))).where(Referral.bridge_id.is_not(None),
                                    Referral.bridge_accepted_at.is_not(None))).one()
    table = Table("targets", labels["targets"], [labels["value"]])
    for organisation, n in sorted(trained.items()):
        table.rows.append((labels["trained_in"] % {"organisation": organisation}, [single(n)]))
    table.rows.append((labels["active_bridges"], [single(accompanying)]))
    table.rows.append((labels["new_bridges"], [single(len(new_bridges))]))
    table.rows.append((labels["pledges_reported"], [single(reported_count(scope.year))]))
    return table


def years():
    return _years_from(db.session().exec(_first_referral()).one())


def _years_from(first):
    """Every year there is, newest first, from the first referral's moment."""
    start = first.year if first else date.today().year
    return list(range(date.today().year, start - 1, -1))


@db.prepared
def _first_referral():  # on every view of the monitor
    return select(func.min(Referral.created_at))


# ---- what a user may see ---------------------------------------------------------------

def period(year=None):
    """The year to count: the one asked for if the data has it, else the newest. Returns
    (year, every year there is)."""
    choices = years()
    return _chosen(year, choices), choices


def _chosen(year, choices):
    return year if year in choices else choices[0]


def dashboard(user, *, year=None):
    """The monitor's tables of a year, the same for everyone who may see them: the year asked
    for if the data has it, else the newest. Returns (its scope, every year there is, the
    tables, when they were counted). The years and the year's stored count are one read."""
    policy.require(user, "monitor.view")
    names = labels()
    asked = year or date.today().year  # the newest, if the data has any year
    read = _first_and_count_of(asked, names)
    choices = _years_from(read.first_referral)
    scope = Scope(_chosen(asked, choices))
    if scope.year != asked:  # a year without data: the newest's count, read again
        read = _first_and_count_of(scope.year, names)
    stored = read if read.computed_at is not None else None
    tables, counted_at = _figures_or_stored(scope, names, stored)
    db.write_apart()  # counted without personal data: the reads need no lock
    audit.record("read", object_type="monitor", user=user, summary=f"monitor {scope.year}")
    return scope, choices, tables, counted_at


def _first_and_count_of(year, names):
    return db.row(_first_and_count(), {"key": _count_key(year, names)})


def export_csv(user, *, year, fresh=False):
    """The monitor as one CSV (hidden figures stay hidden); `fresh` counts now rather than
    reading the shared count. Returns (tables, the CSV text)."""
    policy.require(user, "monitor.export")
    scope = Scope(year)
    tables = (figures(scope, labels()) if fresh
              else cached_figures(scope, labels())[0])
    audit.record("export", object_type="monitor", user=user,
                 summary=f"monitor export {year}" + (" (CLI)" if user is COMMAND_LINE else ""))
    return tables, export.csv_text(tables)


# ---- pledges -----------------------------------------------------------------------------

def pledge_of(organisation_id):
    """The organisation's pledge and its activities in order (None and [] if none yet)."""
    pledge = db.session().exec(select(Pledge).where(
        Pledge.organisation_id == organisation_id)).first()
    if pledge is None:
        return None, []
    return pledge, activities_of(pledge)


def activities_of(pledge):
    return db.session().exec(select(PledgeActivity).where(
        PledgeActivity.pledge_id == pledge.id).order_by(PledgeActivity.position)).all()


def reports_of(pledge, year):
    return {r.activity_id: r for r in db.session().exec(
        select(PledgeReport).join(PledgeActivity).where(
            PledgeActivity.pledge_id == pledge.id, PledgeReport.year == year))}


PLEDGE_PAGE_SIZE = 50


@db.prepared
def _organisations():
    """Every active organisation with its pledge (or None), by name."""
    return (select(Organisation, Pledge).join(Pledge, Pledge.organisation_id == Organisation.id,
                                  isouter=True)
            .where(Organisation.active).order_by(Organisation.name, Organisation.id))


@db.prepared
def _active_organisations():
    """How many rows _organisations has: read apart from them, it takes the count of one
    table, and the page its rows through the name's index up to the page's end."""
    return select(func.count()).select_from(Organisation).where(Organisation.active)


@db.prepared
def _activity_counts():
    return (select(PledgeActivity.pledge_id, func.count())
            .where(PledgeActivity.pledge_id.in_(bindparam("pledges", expanding=True)))
            .group_by(PledgeActivity.pledge_id))


@db.prepared
def _reported():
    return (select(PledgeActivity.pledge_id).join(PledgeReport)
            .where(PledgeReport.year == bindparam("year"),
                   PledgeActivity.pledge_id.in_(bindparam("pledges", expanding=True)))
            .distinct())


def _activities(year, pledge_ids):
    """The number of activities of each pledge, and the pledges reported on the year: two
    statements (none without pledges)."""
    if not pledge_ids:
        return {}, set()
    counts = dict(db.rows(_activity_counts(), {"pledges": pledge_ids}))
    reported = {pledge for (pledge,) in db.rows(_reported(), {"year": year,
                                                               "pledges": pledge_ids})}
    return counts, reported


def overview(year):
    """Every active organisation: its pledge (or None), the number of activities, and
    whether it reported on the year."""
    rows = db.session().exec(_organisations()).all()
    counts, reported = _activities(year, [p.id for _o, p in rows if p is not None])
    return [(organisation, pledge, counts.get(pledge.id, 0) if pledge else 0,
             bool(pledge and pledge.id in reported)) for organisation, pledge in rows]


@db.prepared
def _organisation_rows():
    """_organisations as the overview's page shows them: the organisation's id and name,
    and its pledge's id (or None); values, not models."""
    return _organisations().with_only_columns(Organisation.id, Organisation.name,
                                              Pledge.id.label("pledge_id"))


def overview_page(year, page):
    """One page of the overview, the same three statements for any number of organisations
    (the count comes with the rows); past the last page, the last page. Its rows are
    (organisation id, name, pledge id or None, number of activities, reported)."""
    found = directory.windowed_page(_organisation_rows(), page, PLEDGE_PAGE_SIZE, params={},
                                    total=_active_organisations())
    counts, reported = _activities(year, [pledge for _id, _name, pledge in found.results
                                          if pledge is not None])
    found.results = [(organisation_id, name, pledge, counts.get(pledge, 0), pledge in reported)
                     for organisation_id, name, pledge in found.results]
    return found


def reported_count(year):
    return db.session().exec(select(func.count(func.distinct(PledgeActivity.pledge_id)))
                             .join(PledgeReport).where(PledgeReport.year == year)).one()
