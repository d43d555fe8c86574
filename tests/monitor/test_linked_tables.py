"""Every figure the monitor publishes for a year, attacked together by a solver (see
attacker.py): on the demo, on small alliances that hypothesis makes up, and on a
municipality's worth of generated data. Every hidden count keeps an interval that holds a
value under 5 and is at least 5 wide."""

from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from referral import db
from referral.auth.models import User
from referral.cases.models import Signal
from referral.cases.operations import create_family, log_signal
from referral.dev import demo, scale
from referral.directory.models import Service
from referral.monitor import queries
from referral.monitor.suppression import SMALL
from referral.referrals.models import Referral
from referral.referrals.operations import change_status
from tests.monitor.attacker import attack
from tests.monitor.conftest import refer_with_consent

YEAR = date.today().year


def _attacked(app, years):
    """Every hidden count of the pages of `years` (consecutive), as the solver leaves it."""
    with app.test_request_context():
        labels = queries.labels()
        pages = {year: queries.figures(queries.Scope(year), labels) for year in years}
        hidden = attack(pages, labels)
        db.session().rollback()
    return hidden


def _assert_protected(hidden):
    weak = [f"{cell.where}: {cell.value}, the solver says {cell.low:g} to {cell.high:g}"
            for cell in hidden if not cell.protected]
    assert not weak, "\n".join(weak)


def test_the_demo_gives_no_hidden_count_away(app):
    with app.app_context():
        demo.load()
        db.commit()
    hidden = _attacked(app, [YEAR - 1, YEAR])
    assert len(hidden) > 10  # the demo has small numbers to hide
    _assert_protected(hidden)


def test_the_outsider_finding_a_hidden_organisation_is_not_pinned_by_the_heat_map(app):
    """The outsider's case: an organisation hidden in "referrals per organisation" while the
    heat map showed its food referrals. Its column now counts under "all others"."""
    with app.app_context():
        demo.load()
        db.commit()
    with app.test_request_context():
        labels = queries.labels()
        tables = {t.key: t for t in queries.figures(queries.Scope(YEAR), labels)}
    hidden = {label for label, [cell] in tables["referrals_organisation"].rows if cell.hidden}
    assert hidden and not hidden & set(tables["matrix"].columns)
    assert tables["matrix"].columns[-1] == labels["others"]


# ---- small alliances made up by hypothesis ----------------------------------------------

STATUSES = [("requested", None), ("accepted", None), ("in-progress", None),
            ("completed", "need_met"), ("completed", "partly_met"), ("completed", "declined"),
            ("rejected", "no_capacity"), ("rejected", "not_eligible"), ("failed", "other")]
PLACES = ["GM0363", "GM0344", "GM0599", None]  # None: not known
family = st.tuples(
    st.sampled_from(["conversation", "observation", "family_asked"]),
    st.lists(st.sampled_from(["food", "money", "housing", "clothing"]), min_size=1, max_size=3,
             unique=True),
    st.sampled_from(PLACES),
    st.one_of(st.none(), st.integers(0, 3)),  # which organisation, or no referral
    st.sampled_from(STATUSES),
    st.integers(1, 12),  # month
    st.booleans(),  # last year rather than this one
)


@pytest.fixture
def partners(app, make_user, make_service):
    owner = make_user("professional", organisation="JGZ")
    names = ["Voedselbank", "Jeugdfonds", "Schuldhulp", "Kledingbank"]
    services, users = [], []
    for name in names:
        services.append(make_service(f"Hulp van {name}", organisation=name,
                                     referral_route="inbox"))
        users.append(make_user("partner", organisation=name).id)
    return owner.id, services, users


def _steps(status):
    return {"requested": [], "accepted": ["accepted"], "in-progress": ["accepted", "in-progress"],
            "completed": ["accepted", "in-progress", "completed"], "rejected": ["rejected"],
            "failed": ["accepted", "failed"]}[status]


def _build(app, partners, plan):
    owner_id, services, users = partners
    with app.app_context():
        session = db.session()
        nurse = session.get(User, owner_id)
        for n, (source, domains, place, which, (status, detail), month, earlier) in \
                enumerate(plan):
            family = create_family(nurse, parent_names=f"Gezin {n}", municipality_code=place,
                                   children=[(f"Kind {n}", date(YEAR - 1 - n % 17, 1, 1))])
            signal = log_signal(nurse, family, domains=domains, source=source,
                                observations="gezien")
            when = datetime(YEAR - earlier, month, 1 + n % 27, 12, tzinfo=UTC)
            if which is not None:
                referral = refer_with_consent(nurse, family, signal,
                                              session.get(Service, services[which]))
                partner = session.get(User, users[which])
                for step in _steps(status):
                    closing = step == status and status != "in-progress"
                    change_status(partner, referral, step, reason="reden" if closing else None,
                                  outcome=detail if step == "completed" else None,
                                  reason_code=detail if step in ("rejected", "failed") else None)
                session.execute(sa.update(Referral).where(Referral.id == referral.id)
                                .values(created_at=when))
            session.execute(sa.update(Signal).where(Signal.id == signal.id)
                            .values(created_at=when))
        db.commit()


@settings(max_examples=15, deadline=None, derandomize=True, database=None,
          phases=[Phase.explicit, Phase.generate],  # a failure prints its plan; no shrinking
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=st.lists(family, min_size=1, max_size=40))
def test_small_alliances_give_no_hidden_count_away(app, partners, plan):
    connection = app.extensions["referral.engine"]
    example = connection.begin_nested() if isinstance(connection, sa.Connection) else None
    try:
        _build(app, partners, plan)
        _assert_protected(_attacked(app, [YEAR - 1, YEAR]))
    finally:
        if example is not None:
            example.rollback()


# ---- a municipality's worth ---------------------------------------------------------------

@pytest.mark.slow
def test_a_municipality_of_data_gives_no_hidden_count_away(app):
    with app.app_context():
        demo.load()
        scale.generate(scale.SCALES["municipality"])
        db.commit()
    hidden = _attacked(app, [YEAR - 1, YEAR])
    _assert_protected(hidden)
    assert all(cell.high - cell.low >= SMALL for cell in hidden)
