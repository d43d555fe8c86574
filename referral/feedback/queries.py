"""Reads of feedback: which form fits, the state of a link, guessing, and what each role may
see of the answers."""

import hashlib
import hmac
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import bindparam, func
from sqlmodel import select

from referral import db
from referral.cases.models import age_on
from referral.directory.models import Service
from referral.feedback.models import (
    FeedbackAttempt,
    FeedbackForm,
    FeedbackInvite,
    FeedbackResponse,
    LinkState,
)

# Below this many answers, nobody but the owner sees a figure (docs/design.md: cells under 5).
THRESHOLD = 5
SCORES = ("heard", "useful", "easy", "better")
TEXTS = ("went_well", "do_better", "to_grown_ups")


def token_hash(token):
    return hashlib.sha256(token.encode()).hexdigest()


def form_for(child, today=None):
    """The form that fits: parents get theirs; children 8 to 11 and 12 to 17 their own;
    younger children are asked through their parent."""
    if child is None:
        return FeedbackForm.parent
    age = age_on(child.birth_date, today or date.today())
    if 8 <= age <= 11:
        return FeedbackForm.child_young
    if 12 <= age <= 17:
        return FeedbackForm.child_older
    return None


def is_guessing(address):
    config = current_app.config
    since = db.utcnow() - timedelta(minutes=config["FEEDBACK_THROTTLE_MINUTES"])
    failures = db.session().exec(select(func.count()).select_from(FeedbackAttempt).where(
        FeedbackAttempt.address == address, FeedbackAttempt.at >= since)).one()
    return failures >= config["FEEDBACK_MAX_FAILURES"]


@db.prepared
def _invitation():  # every feedback page's first statement: built once (session.get builds it)
    return select(FeedbackInvite).where(FeedbackInvite.id == bindparam("id"))


def invitation(invite_id):
    return db.session().exec(_invitation(), params={"id": invite_id}).first()


def by_token(token):
    return db.session().exec(select(FeedbackInvite).where(
        FeedbackInvite.token_hash == token_hash(token[:200]))).first()


def holds(invitation, holder):
    """Whether the browser with this holder secret is the one the link is bound to."""
    return bool(holder and invitation.holder_hash
                and hmac.compare_digest(token_hash(holder[:200]), invitation.holder_hash))


def state(invitation):
    if invitation.used_at is not None:
        return LinkState.used
    if invitation.replaced_at is not None:
        return LinkState.replaced
    return (LinkState.expired if db.aware(invitation.expires_at) <= db.utcnow()
            else LinkState.ok)


def invitations_of(user):
    """The owner's invitations with their answers (None while open), newest first."""
    return db.session().exec(
        select(FeedbackInvite, FeedbackResponse)
        .join(FeedbackResponse, FeedbackResponse.invite_id == FeedbackInvite.id, isouter=True)
        .where(FeedbackInvite.created_by == user.id)
        .order_by(FeedbackInvite.created_at.desc())).all()


def service_scores(organisation_id):
    """Per service of the organisation: how many answered and the mean of each score, each
    only where at least THRESHOLD people answered it (a question may be skipped)."""
    columns = []
    for name in SCORES:
        column = getattr(FeedbackResponse, name)
        columns += [func.count(column), func.avg(column)]
    rows = db.session().exec(
        select(Service.name, func.count(FeedbackResponse.id), *columns)
        .join(Service, Service.id == FeedbackResponse.service_id)
        .where(FeedbackResponse.organisation_id == organisation_id)
        .group_by(Service.id, Service.name).order_by(Service.name)).all()
    result = []
    for name, count, *figures in rows:
        means = {}
        for score, answered, mean in zip(SCORES, figures[::2], figures[1::2], strict=True):
            means[score] = round(float(mean), 1) if answered >= THRESHOLD else None
        result.append({"service": name, "count": count if count >= THRESHOLD else None,
                       "means": means})
    return result
