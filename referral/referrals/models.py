import enum
import uuid
from datetime import date, datetime

from sqlalchemy import DateTime, Index, text
from sqlmodel import Field, SQLModel

from referral.db import encrypted_field, id_field, time_field
from referral.familykeys import FamilyData, family_of, track_parents
from referral.i18n import lazy_gettext as _l


class Status(enum.StrEnum):
    """The FHIR SDOH referral Task statuses."""

    draft = "draft"
    requested = "requested"
    accepted = "accepted"
    in_progress = "in-progress"
    on_hold = "on-hold"
    completed = "completed"
    failed = "failed"
    rejected = "rejected"
    cancelled = "cancelled"
    entered_in_error = "entered-in-error"


FINAL = {Status.rejected, Status.cancelled, Status.entered_in_error}
CLOSED = FINAL | {Status.completed, Status.failed}
OPEN = set(Status) - CLOSED
# The condition of the index that keeps one open referral per family, signal and service (in
# SQL, so the migration and the models say the same).
OPEN_CONDITION = "status IN ({})".format(", ".join(
    f"'{s.value}'" for s in Status if s in OPEN))

STATUS_LABELS = {
    Status.draft: _l("draft"),
    Status.requested: _l("requested"),
    Status.accepted: _l("accepted"),
    Status.in_progress: _l("in progress"),
    Status.on_hold: _l("on hold"),
    Status.completed: _l("completed"),
    Status.failed: _l("failed"),
    Status.rejected: _l("rejected"),
    Status.cancelled: _l("cancelled"),
    Status.entered_in_error: _l("entered in error"),
}


def status_label(status):
    return STATUS_LABELS.get(status, status)


class Outcome(enum.StrEnum):
    need_met = "need_met"
    partly_met = "partly_met"
    not_met = "not_met"
    not_reached = "not_reached"
    declined = "declined"


OUTCOME_LABELS = {
    Outcome.need_met: _l("need met"),
    Outcome.partly_met: _l("need partly met"),
    Outcome.not_met: _l("need not met"),
    Outcome.not_reached: _l("family could not be reached"),
    Outcome.declined: _l("family declined"),
}

# Why a partner rejects a referral or reports it failed: plain categories for the monitor.
REASON_LABELS = {
    "not_eligible": _l("the family does not qualify"),
    "no_capacity": _l("no room or a waiting list"),
    "not_reachable": _l("the family could not be reached"),
    "declined": _l("the family did not want it"),
    "other": _l("another reason"),
}


class EventKind(enum.StrEnum):
    created = "created"
    status = "status"
    note = "note"
    reminder = "reminder"
    escalation = "escalation"
    handover = "handover"
    bridge = "bridge"
    consent = "consent"
    follow_up = "follow_up"  # the owner moved the follow-up date
    edited = "edited"  # the owner changed a draft: its message, or its service


class Change(enum.StrEnum):
    """What an edit of a draft changed, kept as the edited event's outcome."""

    message = "message"
    service = "service"


class HandoverAnswer(enum.StrEnum):
    """The answer to a handover (the colleague's) or to a bridge request (the bridge
    worker's), kept as the event's outcome."""

    accepted = "accepted"
    declined = "declined"


# The inbox's order: urgent first, then soon, then the rest (referral.urgency_rank); within
# each, longest waiting first.
URGENCY_RANK = {"urgent": 0, "soon": 1}


class Referral(FamilyData, SQLModel, table=True):
    """A signal sent to one service; the owner stays accountable until it is closed."""

    # The monitor counts a year's referrals from this index alone.
    __table_args__ = (Index("ix_referral_monitor", "created_at", "status", "outcome",
                            "reason_code", "organisation_id", "service_id", "signal_id",
                            "follow_up_on", "last_activity_at", "requested_at", "accepted_at",
                            "closed_at"),
                      # One open referral per family, signal and service, whatever the tabs,
                      # the Back button or two requests at once: the database holds it.
                      Index("uq_referral_open", "family_id", "signal_id", "service_id",
                            unique=True, sqlite_where=text(OPEN_CONDITION),
                            postgresql_where=text(OPEN_CONDITION)),
                      # The partner's inbox in its default order, paged through this index
                      # instead of sorting every referral the organisation ever received;
                      # its counts read from the index alone.
                      Index("ix_referral_inbox", "organisation_id", "urgency_rank",
                            "requested_at", "id", "by_inbox", "status"))

    id: uuid.UUID = id_field()
    family_id: uuid.UUID = Field(foreign_key="family.id", index=True)
    signal_id: uuid.UUID = Field(foreign_key="signal.id", index=True)
    service_id: uuid.UUID = Field(foreign_key="service.id", index=True)
    organisation_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    owner_id: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    created_by: uuid.UUID = Field(foreign_key="user_account.id")
    created_at: datetime = time_field(index=True)
    status: str = Field(default=Status.draft, max_length=20, index=True)
    # In the partner's inbox, or outside the tool (letter, phone): then the owner records
    # the partner's steps on their behalf.
    by_inbox: bool = True
    follow_up_on: date = Field(index=True)
    # The last status change, note or handover: reminders do not count as activity.
    last_activity_at: datetime = time_field(index=True)
    # When it was sent (again, once reopened); never cleared: None means never sent.
    requested_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    accepted_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    closed_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    outcome: str | None = Field(default=None, max_length=20)
    # Why it was rejected or failed, as a category the monitor can count (the words are in
    # the event, encrypted).
    reason_code: str | None = Field(default=None, max_length=20)
    # A bridge worker (expert by experience) accompanying the family, with its consent.
    bridge_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id",
                                        index=True)
    # When the bridge worker agreed to accompany; until then the request waits for an
    # answer (a declined request clears bridge_id).
    bridge_accepted_at: datetime | None = Field(default=None,
                                                sa_type=DateTime(timezone=True))
    # Its signal's urgency as the inbox orders it (URGENCY_RANK), kept beside the referral
    # for the index above: a signal's urgency does not change once it is logged.
    urgency_rank: int = Field(default=2, sa_column_kwargs={"server_default": "2"})
    # Raised on every change: a form from before a change is told, not applied.
    version: int = 1
    # One per submitted form and service: a second submission finds the first.
    submission_key: str | None = Field(default=None, max_length=80, unique=True)
    # What the partner needs to know: the only case content the partner sees.
    message_enc: str = encrypted_field()


track_parents(Referral)


class ReferralEvent(FamilyData, SQLModel, table=True):
    """Every status change, note, reminder and handover of a referral, in order."""

    __tablename__ = "referral_event"

    id: uuid.UUID = id_field()
    referral_id: uuid.UUID = Field(foreign_key="referral.id", index=True)
    at: datetime = time_field(index=True)
    actor_id: uuid.UUID | None = Field(default=None, foreign_key="user_account.id")
    kind: str = Field(max_length=20)
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str | None = Field(default=None, max_length=20)
    outcome: str | None = Field(default=None, max_length=20)
    # Recorded by the owner for a partner that has no inbox in the tool.
    on_behalf: bool = False
    text_enc: str | None = encrypted_field(nullable=True)  # a reason or a note
    # A follow-up event: the new date. An edit of a draft's service: the service before.
    follow_up_on: date | None = None
    from_service_id: uuid.UUID | None = Field(default=None, foreign_key="service.id")

    def owning_family(self):
        return family_of(Referral, self.referral_id)


class Handover(FamilyData, SQLModel, table=True):
    """A proposal to move a referral to a colleague; effective only once accepted."""

    id: uuid.UUID = id_field()
    referral_id: uuid.UUID = Field(foreign_key="referral.id", index=True)
    from_id: uuid.UUID = Field(foreign_key="user_account.id")
    to_id: uuid.UUID = Field(foreign_key="user_account.id", index=True)
    created_at: datetime = time_field()
    decided_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    accepted: bool | None = None
    note_enc: str | None = encrypted_field(nullable=True)

    def owning_family(self):
        return family_of(Referral, self.referral_id)


class ReferralSeen(SQLModel, table=True):
    """When a user last opened a referral's page: what others changed after that is new to
    them (the home page's worklist). One row per user and referral, not one per user: a
    single "last visit" time would call everything seen once home was opened, though the
    referral itself was never looked at. Goes with the referral (erasure, retention)."""

    __tablename__ = "referral_seen"

    user_id: uuid.UUID = Field(foreign_key="user_account.id", primary_key=True,
                               ondelete="CASCADE")
    referral_id: uuid.UUID = Field(foreign_key="referral.id", primary_key=True, index=True,
                                   ondelete="CASCADE")
    seen_at: datetime = time_field()
