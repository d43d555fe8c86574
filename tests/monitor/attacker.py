"""An attacker with a linear-programming solver (HiGHS, as SciPy's `linprog` uses it) against every figure the
monitor publishes for a year: the tables of that year's page (the CSV and the printable
report hold the same set) and of the year before, whose months the trend shows again.

It knows how the figures are made and nothing that is hidden. The year's referrals are
unknown counts in a cube — fine status (a status; the outcome of a completed referral; the
reason of a rejected or failed one) × organisation × month × municipality, with the
organisations and municipalities that the page names — and every shown referral figure is
a sum over that cube. Likewise the signals (source × municipality × month), the families
reached (per municipality), their children (per age band) and the signals' need domains
(a signal has one to all of them, so a domain counts at most every signal and all domains
together at least every signal). The heat map counts pairs of a need domain and a referral:
per organisation column, a domain's count is at most that column's referrals, and all
domains together at least those referrals. A shown share is two inequalities. Left out:
means and medians (not counts of anything published) and the targets (professionals, not
families).

For every hidden count it asks for the smallest and the largest value consistent with all
of it; a hidden count is protected when that interval holds a value under SMALL and is at
least SMALL wide.
"""

from dataclasses import dataclass

import highspy
import numpy as np
from scipy.sparse import coo_array, csr_array

from referral.monitor.suppression import HIDDEN, SMALL
from referral.referrals.models import Status

MONTHS = 12
UNBOUNDED = (highspy.HighsModelStatus.kUnbounded,
             highspy.HighsModelStatus.kUnboundedOrInfeasible)


@dataclass
class Hidden:
    where: str  # table, row and column, for the failure message
    variables: np.ndarray
    value: int  # the true count, only to check that the model holds the truth
    low: float = 0.0
    high: float = 0.0

    @property
    def protected(self):
        return self.low < SMALL and self.high - self.low >= SMALL - 1e-6


def published(cell):
    """What a reader sees in a cell: a count, a share ("45%", as a number) or None."""
    text = str(cell)
    if text == HIDDEN:
        return None
    return float(text[:-1]) if text.endswith("%") else int(text) if text.isdigit() else text


class Attack:
    def __init__(self):
        self.size = 0
        self.rows, self.bounds = [], []  # A_ub x <= b (an equation is two of them)
        self.equations, self.values = [], []
        self.hidden = []

    def unknowns(self, *shape):
        first = self.size
        self.size += int(np.prod(shape))
        return np.arange(first, self.size).reshape(shape)

    def figure(self, where, variables, cell):
        """A figure of a table: a sum of unknowns, shown or hidden."""
        variables = np.asarray(variables).ravel()
        value = published(cell)
        if value is None:
            self.hidden.append(Hidden(where, variables, cell.value))
        else:
            self.equations.append({int(v): 1.0 for v in variables})
            self.values.append(float(value))

    def at_most(self, coefficients, bound=0.0):
        self.rows.append(coefficients)
        self.bounds.append(bound)

    def run(self):
        """Minimise and maximise every hidden count with HiGHS, the model built once and
        each solve starting from the last one's basis."""
        rows = self.equations + self.rows
        lower = np.array(self.values + [-highspy.kHighsInf] * len(self.rows))
        upper = np.array(self.values + self.bounds)
        matrix = csr_array(coo_array(
            ([w for row in rows for w in row.values()],
             ([i for i, row in enumerate(rows) for _ in row],
              [c for row in rows for c in row])), shape=(len(rows), self.size)))
        solver = highspy.Highs()
        solver.setOptionValue("output_flag", False)
        model = highspy.HighsLp()
        model.num_col_, model.num_row_ = self.size, len(rows)
        model.col_cost_ = np.zeros(self.size)
        model.col_lower_ = np.zeros(self.size)
        model.col_upper_ = np.full(self.size, highspy.kHighsInf)
        model.row_lower_, model.row_upper_ = lower, upper
        model.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        model.a_matrix_.start_ = matrix.indptr
        model.a_matrix_.index_ = matrix.indices
        model.a_matrix_.value_ = matrix.data
        solver.passModel(model)
        everything = np.arange(self.size, dtype=np.int32)
        for cell in self.hidden:
            cost = np.zeros(self.size)
            cost[cell.variables] = 1.0
            solver.changeColsCost(self.size, everything, cost)
            ends = []
            for sense in (highspy.ObjSense.kMinimize, highspy.ObjSense.kMaximize):
                solver.changeObjectiveSense(sense)
                solver.run()
                status = solver.getModelStatus()
                if status == highspy.HighsModelStatus.kUnknown:  # the warm start lost its way
                    solver.clearSolver()
                    solver.run()
                    status = solver.getModelStatus()
                if status in UNBOUNDED:  # nothing shown limits it
                    ends.append(float("inf"))
                    continue
                assert status == highspy.HighsModelStatus.kOptimal, f"{cell.where}: {status}"
                ends.append(solver.getInfo().objective_function_value)
            cell.low, cell.high = ends
            assert cell.low - 1e-6 <= cell.value <= cell.high + 1e-6, (
                f"the model is wrong: {cell.where} is {cell.value}, outside "
                f"[{cell.low}, {cell.high}]")
        return self.hidden


def _rows(table):
    return {label: cells for label, cells in table.rows}


def _fine_statuses(labels):
    """The fine statuses of a referral and, per label of each table, which of them it adds up."""
    fine = []
    for status in Status:
        if status == Status.entered_in_error:
            continue
        if status == Status.completed:
            fine += [(status, outcome) for outcome in labels["outcomes"]]
        elif status in (Status.rejected, Status.failed):
            fine += [(status, reason) for reason in labels["reasons"]]
        else:
            fine.append((status, None))
    return fine


def _year(attack, year, tables, labels, trend_cubes):
    """Add one year's page: its cubes, and every figure it shows about its own year."""
    by_key = {table.key: table for table in tables}
    fine = _fine_statuses(labels)
    organisations = [label for label, _cells in by_key["referrals_organisation"].rows]
    places = [label for label, _cells in by_key["municipalities"].rows] or ["-"]
    sources = list(labels["sources"])
    referrals = attack.unknowns(len(fine), len(organisations), MONTHS, len(places))
    signals = attack.unknowns(len(sources), len(places), MONTHS)
    families = attack.unknowns(len(places))
    domains_table = by_key["signals_domain"]
    pairs = attack.unknowns(len(domains_table.rows))
    children = attack.unknowns(len(by_key["age_bands"].rows))
    trend_cubes[year] = (referrals, signals)

    def status_rows(test):
        return [i for i, item in enumerate(fine) if test(item)]

    status_of = {str(labels["statuses"][s]): status_rows(lambda f, s=s: f[0] == s)
                 for s in Status if s != Status.entered_in_error}
    breakdowns = {
        "referrals_status": (referrals, {label: referrals[rows] for label, rows in
                                         status_of.items()}),
        "referrals_organisation": (referrals, {label: referrals[:, i] for i, label in
                                               enumerate(organisations)}),
        "outcomes": (referrals[status_rows(lambda f: f[0] == Status.completed)], {
            str(labels["outcomes"][o]): referrals[status_rows(
                lambda f, o=o: f == (Status.completed, o))] for o in labels["outcomes"]}),
        "reasons": (referrals[status_rows(lambda f: f[0] in (Status.rejected, Status.failed))], {
            str(labels["reasons"][r]): referrals[status_rows(
                lambda f, r=r: f[1] == r and f[0] in (Status.rejected, Status.failed))]
            for r in labels["reasons"]}),
        "signals_source": (signals, {str(labels["sources"][s]): signals[i]
                                     for i, s in enumerate(sources)}),
        "signals_domain": (pairs, {label: pairs[i] for i, (label, _c) in
                                   enumerate(domains_table.rows)}),
        "age_bands": (children, {label: children[i] for i, (label, _c) in
                                 enumerate(by_key["age_bands"].rows)}),
    }
    for key, (whole, parts) in breakdowns.items():
        table = by_key[key]
        for label, cells in table.rows:
            attack.figure(f"{year} {key} {label}", parts[label], cells[0])
        if table.total is not None:
            attack.figure(f"{year} {key} total", whole, table.total)

    # A signal names one need domain or more, each once.
    everyone = {int(v): 1.0 for v in signals.ravel()}
    for pair in pairs:
        attack.at_most({int(pair): 1.0} | {v: -1.0 for v in everyone})
    attack.at_most({int(p): -1.0 for p in pairs} | everyone)

    for i, (label, cells) in enumerate(by_key["municipalities"].rows):
        for cube, cell, name in ((signals[:, i], cells[0], "signals"),
                                 (families[i], cells[1], "families"),
                                 (referrals[:, :, :, i], cells[2], "referrals")):
            attack.figure(f"{year} municipalities {label} {name}", cube, cell)

    key_rows = _rows(by_key["key"])
    attack.figure(f"{year} families reached", families, key_rows[labels["families_reached"]][0])
    share = published(key_rows[labels["share_need_met"]][0])
    if share is not None:  # 100 × met / completed, rounded to a whole percent
        met = set(referrals[status_rows(lambda f: f == (Status.completed, "need_met"))]
                  .ravel().tolist())
        completed = referrals[status_rows(lambda f: f[0] == Status.completed)].ravel().tolist()
        for sign in (1, -1):  # sign × ((share ∓ 0.5) × completed − 100 × met) ≤ 0
            attack.at_most({v: sign * ((share - sign * 0.5) - 100.0 * (v in met))
                            for v in completed})

    matrix = by_key["matrix"]
    if matrix.rows:
        _matrix(attack, year, matrix, referrals, organisations, labels["others"])


def _matrix(attack, year, matrix, referrals, organisations, others):
    """Pairs of a need domain and a referral, per organisation column: a domain's count is at
    most the column's referrals, all domains together at least those."""
    pair_counts = attack.unknowns(len(matrix.rows), len(matrix.columns))
    for j, name in enumerate(matrix.columns):
        members = [i for i, label in enumerate(organisations)
                   if label == name or (name == others and label not in matrix.columns)]
        going = referrals[:, members].ravel().tolist()
        for d, (label, cells) in enumerate(matrix.rows):
            attack.figure(f"{year} matrix {label} × {name}", pair_counts[d, j], cells[j])
            attack.at_most({int(pair_counts[d, j]): 1.0} | {v: -1.0 for v in going})
        attack.at_most({v: 1.0 for v in going}
                       | {int(v): -1.0 for v in pair_counts[:, j]})


def _trend(attack, year, tables, trend_cubes):
    """The months of both years on one page, for the years the attack has cubes of."""
    trend = {table.key: table for table in tables}["trend"]
    for label, cells in trend.rows:
        month_year, month = (int(part) for part in label.split("-"))
        if month_year not in trend_cubes:
            continue
        referrals, signals = trend_cubes[month_year]
        attack.figure(f"page {year}: trend {label} referrals", referrals[:, :, month - 1],
                      cells[0])
        attack.figure(f"page {year}: trend {label} signals", signals[:, :, month - 1],
                      cells[1])


def attack(pages, labels):
    """`pages`: {year: tables} of consecutive years. Returns every hidden count, with the
    interval the solver leaves it."""
    attack = Attack()
    cubes = {}
    for year, tables in sorted(pages.items()):
        _year(attack, year, tables, labels, cubes)
    for year, tables in sorted(pages.items()):
        _trend(attack, year, tables, cubes)
    return attack.run()
