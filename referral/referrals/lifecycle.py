"""The referral lifecycle of docs/design.md: the one table every status change goes through."""

import enum
from dataclasses import dataclass

from referral.errors import Refused
from referral.i18n import lazy_gettext as _l
from referral.referrals.models import Status as S
from referral.referrals.models import status_label

REFERRER, PARTNER = "referrer", "partner"


class Needs(enum.StrEnum):
    """What a step needs besides the right person."""

    consent = "consent"
    reason = "reason"
    outcome = "outcome"


@dataclass(frozen=True)
class Transition:
    sources: frozenset
    target: str
    by: frozenset  # REFERRER and/or PARTNER
    needs: str | None = None  # a Needs


def _t(sources, target, by, needs=None):
    return Transition(frozenset(sources), target, frozenset(by), needs)


TRANSITIONS = (
    _t({S.draft}, S.requested, {REFERRER}, Needs.consent),
    _t({S.draft, S.requested}, S.entered_in_error, {REFERRER}),
    _t({S.requested}, S.accepted, {PARTNER}),
    _t({S.requested}, S.rejected, {PARTNER}, Needs.reason),
    _t({S.accepted, S.on_hold}, S.in_progress, {PARTNER}),
    _t({S.accepted, S.in_progress}, S.on_hold, {PARTNER}, Needs.reason),
    _t({S.in_progress}, S.completed, {PARTNER}, Needs.outcome),
    _t({S.accepted, S.in_progress, S.on_hold}, S.failed, {PARTNER}, Needs.reason),
    _t({S.draft, S.requested, S.accepted, S.in_progress, S.on_hold}, S.cancelled,
       {REFERRER, PARTNER}, Needs.reason),
    _t({S.completed, S.failed}, S.requested, {REFERRER}, Needs.reason),  # reopen
)


def find(source, target, side):
    for transition in TRANSITIONS:
        if source in transition.sources and transition.target == target and side in transition.by:
            return transition
    return None


def next_steps(source, side):
    """The transitions open to this side from this status, in table order."""
    return [t for t in TRANSITIONS if source in t.sources and side in t.by]


def check(source, target, side, *, reason=None, outcome=None, has_consent=False):
    """The transition, or Refused with a message that says what is missing."""
    transition = find(source, target, side)
    if transition is None:
        raise Refused(_l("This step is not possible now: the referral is %(status)s.",
                         status=status_label(source)))
    if transition.needs == Needs.consent and not has_consent:
        raise Refused(_l("Record the family's consent for this organisation first; "
                         "until then the referral stays a draft."))
    if transition.needs == Needs.reason and not (reason or "").strip():
        raise Refused(_l("Give a reason for this step."))
    if transition.needs == Needs.outcome and not outcome:
        raise Refused(_l("Choose the outcome."))
    return transition


# What the button for a step says, from the side that takes it.
STEP_LABELS = {
    S.requested: _l("Send the referral"),
    S.entered_in_error: _l("Mark as entered in error"),
    S.accepted: _l("Accept"),
    S.rejected: _l("Reject"),
    S.in_progress: _l("Start"),
    S.on_hold: _l("Put on hold"),
    S.completed: _l("Complete"),
    S.failed: _l("Report as failed"),
    S.cancelled: _l("Cancel the referral"),
}


# What a step means, under its name on the referral page.
STEP_HINTS = {
    S.requested: _l("The service receives the referral."),
    S.accepted: _l("The service takes the family on. The referrer is told."),
    S.in_progress: _l("The help has started."),
    S.on_hold: _l("The help pauses for a while."),
    S.completed: _l("The help is finished: say how it went."),
    S.rejected: _l("The service cannot help this family. The referrer is told and can look "
                   "for other help."),
    S.failed: _l("The help did not work out."),
    S.cancelled: _l("The referral stops for good."),
    S.entered_in_error: _l("The referral was made by mistake. It is closed for good and not "
                           "counted."),
}
REOPEN_HINT = _l("The service receives the referral again.")

# The question above a step's reason field, so each field says which step it belongs to.
REASON_QUESTIONS = {
    S.requested: _l("Why do you reopen it?"),
    S.on_hold: _l("Why does the help pause?"),
    S.completed: _l("How did it go? (optional)"),
    S.rejected: _l("Why can the service not help?"),
    S.failed: _l("Why did it not work out?"),
    S.cancelled: _l("Why does the referral stop?"),
}

# The box to tick before a step that ends the referral without the help it asked for.
CONFIRM_LABELS = {
    S.rejected: _l("Yes, reject this referral"),
    S.failed: _l("Yes, report this referral as failed"),
    S.cancelled: _l("Yes, cancel this referral"),
    S.entered_in_error: _l("Yes, this referral was made by mistake"),
}

COUNTED_REASONS = {S.rejected, S.failed}
# Steps that end a referral without the help it asked for: they come last, their buttons
# warn, and they ask for a confirmation.
UNHAPPY = set(CONFIRM_LABELS)


def step_label(source, target):
    if target == S.requested and source in (S.completed, S.failed):
        return _l("Reopen")
    return STEP_LABELS.get(target, target)


def step_hint(source, target):
    if target == S.requested and source in (S.completed, S.failed):
        return REOPEN_HINT
    return STEP_HINTS.get(target, "")


def in_page_order(transitions):
    """The usual steps first, in table order; the steps that end a referral last."""
    return sorted(transitions, key=lambda t: t.target in UNHAPPY)
