"""Invitations with one-time links, the answers, and what each role may see of them."""

import hashlib
import secrets
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import func
from sqlmodel import select

from referral import audit, db
from referral.cases.models import Family, age_on
from referral.directory.models import Service
from referral.feedback.models import (
    FeedbackAttempt,
    FeedbackForm,
    FeedbackInvite,
    FeedbackResponse,
)
from referral.referrals.models import Referral

# Below this many answers, nobody but the owner sees a figure (DESIGN.md: cells under 5).
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


def invite(user, family, *, child=None, referral=None, language=None):
    """A new invitation and its token; the token is shown once and only its hash is kept."""
    token = secrets.token_urlsafe(24)  # 192 random bits
    days = current_app.config["FEEDBACK_VALID_DAYS"]
    invitation = FeedbackInvite(
        token_hash=token_hash(token), family_id=family.id,
        referral_id=referral.id if referral else None, child_id=child.id if child else None,
        created_by=user.id, expires_at=db.utcnow() + timedelta(days=days),
        form=form_for(child), language=language or family.language)
    db.session().add(invitation)
    db.session().flush()
    audit.record("create", object_type="feedback_invite", object_id=invitation.id,
                 family_id=family.id, user=user,
                 summary=f"feedback invitation ({invitation.form})")
    return invitation, token


def is_guessing(address):
    config = current_app.config
    since = db.utcnow() - timedelta(minutes=config["FEEDBACK_THROTTLE_MINUTES"])
    failures = db.session().exec(select(func.count()).select_from(FeedbackAttempt).where(
        FeedbackAttempt.address == address, FeedbackAttempt.at >= since)).one()
    return failures >= config["FEEDBACK_MAX_FAILURES"]


def open_link(token, address):
    """("ok" | "unknown" | "expired" | "used" | "throttled", the invitation or None)."""
    if is_guessing(address):
        return "throttled", None
    invitation = db.session().exec(select(FeedbackInvite).where(
        FeedbackInvite.token_hash == token_hash(token[:200]))).first()
    if invitation is None:
        db.session().add(FeedbackAttempt(address=address or "-"))
        return "unknown", None
    return state(invitation), invitation


def state(invitation):
    if invitation.used_at is not None:
        return "used"
    return "expired" if db.aware(invitation.expires_at) <= db.utcnow() else "ok"


def submit(invitation, *, language, scores, texts):
    """Store the answers once; the invitation is used from now on."""
    referral = (db.session().get(Referral, invitation.referral_id)
                if invitation.referral_id else None)
    municipality = db.session().exec(select(Family.municipality_code).where(
        Family.id == invitation.family_id)).first()
    response = FeedbackResponse(
        invite_id=invitation.id, form=invitation.form, language=language,
        service_id=referral.service_id if referral else None,
        organisation_id=referral.organisation_id if referral else None,
        municipality_code=municipality,
        **{name: scores.get(name) for name in SCORES})
    db.session().add(response)
    db.session().flush()  # the id binds the encrypted texts to this row
    for name in TEXTS:
        setattr(response, name, (texts.get(name) or "").strip() or None)
    invitation.used_at = response.submitted_at
    db.session().add_all([response, invitation])
    return response


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
