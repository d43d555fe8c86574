"""The lifecycle table of docs/design.md, enforced in one place."""

import pytest

from referral.errors import Refused
from referral.referrals import lifecycle
from referral.referrals.lifecycle import PARTNER, REFERRER
from referral.referrals.models import Status as S

# (from, to, by, needs) exactly as docs/design.md has it.
DESIGN = [
    ({"draft"}, "requested", {REFERRER}, "consent"),
    ({"draft", "requested"}, "entered-in-error", {REFERRER}, None),
    ({"requested"}, "accepted", {PARTNER}, None),
    ({"requested"}, "rejected", {PARTNER}, "reason"),
    ({"accepted", "on-hold"}, "in-progress", {PARTNER}, None),
    ({"accepted", "in-progress"}, "on-hold", {PARTNER}, "reason"),
    ({"in-progress"}, "completed", {PARTNER}, "outcome"),
    ({"accepted", "in-progress", "on-hold"}, "failed", {PARTNER}, "reason"),
    ({"draft", "requested", "accepted", "in-progress", "on-hold"}, "cancelled",
     {REFERRER, PARTNER}, "reason"),
    ({"completed", "failed"}, "requested", {REFERRER}, "reason"),
]


def _allowed():
    return {(source, target, side): needs for sources, target, sides, needs in DESIGN
            for source in sources for side in sides}


def test_the_table_is_the_design():
    table = [({str(s) for s in t.sources}, str(t.target), set(t.by), t.needs)
             for t in lifecycle.TRANSITIONS]
    assert table == DESIGN


@pytest.mark.parametrize("source", list(S))
@pytest.mark.parametrize("target", list(S))
@pytest.mark.parametrize("side", [REFERRER, PARTNER])
def test_every_pair_is_allowed_or_refused(bare_app, source, target, side):
    allowed = _allowed()
    with bare_app.test_request_context():
        if (source, target, side) not in allowed:
            with pytest.raises(Refused, match="Deze stap kan nu niet"):
                lifecycle.check(source, target, side, reason="x", outcome="need_met",
                                has_consent=True)
            return
        needs = allowed[(source, target, side)]
        full = dict(reason="omdat", outcome="need_met", has_consent=True)
        assert lifecycle.check(source, target, side, **full).target == target
        if needs == "consent":
            with pytest.raises(Refused, match="toestemming"):
                lifecycle.check(source, target, side, **{**full, "has_consent": False})
        if needs == "reason":
            with pytest.raises(Refused, match="Geef een reden"):
                lifecycle.check(source, target, side, **{**full, "reason": "  "})
        if needs == "outcome":
            with pytest.raises(Refused, match="Kies de uitkomst"):
                lifecycle.check(source, target, side, **{**full, "outcome": None})


def test_final_statuses_have_no_way_out():
    for status in (S.rejected, S.cancelled, S.entered_in_error):
        assert lifecycle.next_steps(status, REFERRER) == []
        assert lifecycle.next_steps(status, PARTNER) == []
