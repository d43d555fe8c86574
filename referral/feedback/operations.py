"""Invitations with one-time links and the families' answers. Inviting asks the policy; an
answer needs no account: the invitation is the credential, good once and for a while.

The row builders `new_invitation` and `new_response` make those rows the one way, without
adding them: the operations use them, and so can the generator of scaled demo data."""

import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import update
from sqlmodel import select

from referral import audit, db, familykeys, policy
from referral.cases.models import Family
from referral.errors import Refused
from referral.feedback import LANGUAGES
from referral.feedback.models import FeedbackAttempt, FeedbackInvite, FeedbackResponse, LinkState
from referral.feedback.queries import (
    SCORES,
    TEXTS,
    by_token,
    form_for,
    holds,
    is_guessing,
    state,
    token_hash,
)
from referral.i18n import lazy_gettext as _l
from referral.referrals.models import Referral

# --- row builders --------------------------------------------------------------------------

def new_invitation(family_id, created_by, *, token, form, language, expires_at,
                   referral_id=None, child_id=None, created_at=None, id=None):
    """An invitation that keeps only the hash of its token, not yet added."""
    return FeedbackInvite(**db.given(id=id, created_at=created_at), token_hash=token_hash(token),
                          family_id=family_id, referral_id=referral_id, child_id=child_id,
                          created_by=created_by, expires_at=expires_at, form=form,
                          language=language)


def new_response(invitation, *, language, scores, texts, service_id=None,
                 organisation_id=None, municipality_code=None, submitted_at=None, id=None):
    """The answers to an invitation: scores plain, free text sealed; not yet added."""
    response = FeedbackResponse(
        **db.given(id=id, submitted_at=submitted_at), invite_id=invitation.id,
        form=invitation.form, language=language, service_id=service_id,
        organisation_id=organisation_id, municipality_code=municipality_code,
        **{name: scores.get(name) for name in SCORES})
    familykeys.remember(FeedbackInvite, invitation.id, invitation.family_id)
    for name in TEXTS:
        setattr(response, name, (texts.get(name) or "").strip() or None)
    return response


# --- operations ----------------------------------------------------------------------------

def invite(user, family, *, child=None, referral=None, language=None):
    """A new invitation for a parent or a child of the family, about one of its referrals
    if given, and its token; the token is shown once and only its hash is kept."""
    policy.require(user, "feedback.invite", family, hide=True, object_type="family",
                   object_id=family.id if family else None,
                   family_id=family.id if family else None)
    for part in (child, referral):
        if part is not None and part.family_id != family.id:
            raise Refused(_l("This does not belong to this family."))
    form = form_for(child)
    if form is None:
        raise Refused(_l("Only children of 8 to 17 get a form of their own."), field="whom")
    language = language or family.language
    if language not in LANGUAGES:
        raise Refused(_l("Choose one of the options offered."), field="language")
    token = secrets.token_urlsafe(24)  # 192 random bits
    days = current_app.config["FEEDBACK_VALID_DAYS"]
    invitation = new_invitation(family.id, user.id, token=token, form=form, language=language,
                                expires_at=db.utcnow() + timedelta(days=days),
                                referral_id=referral.id if referral else None,
                                child_id=child.id if child else None)
    db.session().add(invitation)
    db.session().flush()
    audit.record("create", object_type="feedback_invite", object_id=invitation.id,
                 family_id=family.id, user=user,
                 summary=f"feedback invitation ({invitation.form})")
    for old in replace_earlier(invitation):
        audit.record("update", object_type="feedback_invite", object_id=old.id,
                     family_id=family.id, user=user,
                     summary="feedback invitation replaced by a new link")
    db.session().flush()
    return invitation, token


def open_link(token, address, holder=None):
    """(a LinkState, the invitation or None, a new holder secret or None). The first browser
    that opens a link holds it: it gets a secret of its own (kept as a cookie; only its hash
    is stored) and the link is opened. Every other browser gets `elsewhere` from then on; the
    holder (`holder`: its secret) may open the link again. A link that does not work counts
    against the address, so guessing is limited."""
    if is_guessing(address):
        return LinkState.throttled, None, None
    invitation = by_token(token)
    if invitation is None:
        db.session().add(FeedbackAttempt(address=address or "-"))
        db.session().flush()
        return LinkState.unknown, None, None
    status = state(invitation)
    if status != LinkState.ok:
        return status, invitation, None
    if invitation.opened_at is None:
        secret = secrets.token_urlsafe(32)
        # Only one browser can be first, also when two open the link at the same moment.
        claimed = db.session().execute(
            update(FeedbackInvite)
            .where(FeedbackInvite.id == invitation.id, FeedbackInvite.opened_at.is_(None))
            .values(opened_at=db.utcnow(), holder_hash=token_hash(secret))
            .execution_options(synchronize_session=False)).rowcount
        db.session().refresh(invitation)
        if claimed:
            return LinkState.ok, invitation, secret
    if holds(invitation, holder):
        return LinkState.ok, invitation, None
    audit.record("read", outcome="denied", object_type="feedback_invite",
                 object_id=invitation.id, family_id=invitation.family_id,
                 summary="feedback link opened in another browser")
    return LinkState.elsewhere, invitation, None


def replace_earlier(invitation):
    """A new link for the same person about the same thing replaces the earlier ones that
    were not answered: those stop working at once."""
    earlier = db.session().exec(select(FeedbackInvite).where(
        FeedbackInvite.family_id == invitation.family_id,
        FeedbackInvite.id != invitation.id,
        FeedbackInvite.used_at.is_(None), FeedbackInvite.replaced_at.is_(None),
        _same(FeedbackInvite.child_id, invitation.child_id),
        _same(FeedbackInvite.referral_id, invitation.referral_id))).all()
    for old in earlier:
        old.replaced_at = db.utcnow()
        db.session().add(old)
    return earlier


def _same(column, value):
    return column.is_(None) if value is None else column == value


def submit(invitation, *, language, scores, texts):
    """Store the answers once; the invitation is used from now on."""
    status = state(invitation)
    if status == LinkState.used:
        raise Refused(_l("You already answered"))
    if status == LinkState.expired:
        raise Refused(_l("This link has expired"))
    referral = (db.session().get(Referral, invitation.referral_id)
                if invitation.referral_id else None)
    municipality = db.session().exec(select(Family.municipality_code).where(
        Family.id == invitation.family_id)).first()
    response = new_response(
        invitation, language=language if language in LANGUAGES else invitation.language,
        scores={name: value for name, value in scores.items() if value in range(1, 6)},
        texts=texts, service_id=referral.service_id if referral else None,
        organisation_id=referral.organisation_id if referral else None,
        municipality_code=municipality)
    invitation.used_at = response.submitted_at
    db.session().add_all([response, invitation])
    db.session().flush()
    return response
