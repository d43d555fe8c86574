"""Public feedback pages (no login) and the owner's and partner's views of the answers."""

import time
import uuid

from flask import abort, current_app, g, redirect, render_template, request, session, url_for
from flask_babel import force_locale
from flask_login import current_user, login_required
from markupsafe import Markup
from wtforms.fields.choices import SelectChoice

from referral import db, policy
from referral.auth.credentials import qr_svg
from referral.cases.models import Family
from referral.cases.queries import children_of
from referral.errors import Refused
from referral.feedback import LANGUAGES, RTL, bp, operations, queries
from referral.feedback.forms import FACES, FORMS, InviteForm, LanguageChoiceForm
from referral.feedback.models import FeedbackForm, LinkState
from referral.i18n import gettext as _
from referral.referrals.models import Referral

SESSION_KEY = "feedback"


# --- the public side ---------------------------------------------------------------------

def _speak(language):
    """Public pages speak the family's language, chosen on the first screen."""
    g.feedback_language = language if language in LANGUAGES else "nl"


def _public(template, status=200, **context):
    language = g.get("feedback_language", "nl")
    return render_template(template, language=language, rtl=language in RTL, LinkState=LinkState,
                           **context), status


HOLDER_COOKIE = "feedback_holder"  # the secret of the one browser a link works in


@bp.route("/f/<token>")
def open_link(token):
    """Exchange the token for a short-lived hold on the link, then leave it out of the
    address. The first browser to open a link holds it (a cookie of its own, for the /f
    pages only); any other browser gets a page saying so and how to get a new link."""
    _speak(session.get("feedback_language"))
    status, invitation, secret = operations.open_link(token, request.remote_addr,
                                                      request.cookies.get(HOLDER_COOKIE))
    if status == LinkState.throttled:
        return _public("feedback/closed.html", 429, reason=LinkState.throttled)
    if status == LinkState.unknown:
        return _public("feedback/closed.html", 404, reason=LinkState.unknown)
    _speak(session.get("feedback_language") or invitation.language)
    if status == LinkState.elsewhere:
        session.pop(SESSION_KEY, None)
        return _public("feedback/closed.html", 403, reason=status)
    if status != LinkState.ok:
        return _public("feedback/closed.html", reason=status)
    minutes = current_app.config["FEEDBACK_SESSION_MINUTES"]
    session[SESSION_KEY] = {"invite": str(invitation.id), "until": time.time() + minutes * 60}
    session.setdefault("feedback_language", invitation.language)
    response = redirect(url_for("feedback.start"), code=303)
    if secret:
        response.set_cookie(
            HOLDER_COOKIE, secret, path="/f",
            max_age=max(0, int((db.aware(invitation.expires_at) - db.utcnow()).total_seconds())),
            secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")), httponly=True,
            samesite="Lax")
    return response


def _invitation():
    """The invitation of this browser's hold, if it is still fresh and this is the browser
    the link is bound to."""
    held = session.get(SESSION_KEY)
    if not held or held.get("until", 0) < time.time():
        return None
    invitation = queries.invitation(uuid.UUID(held["invite"]))
    if invitation is None or not queries.holds(invitation, request.cookies.get(HOLDER_COOKIE)):
        return None
    return invitation


@bp.route("/f/", methods=["GET", "POST"])
def start():
    """The first screen: choose a language (it is remembered)."""
    invitation = _invitation()
    _speak(session.get("feedback_language") or (invitation and invitation.language))
    if invitation is None:
        return _public("feedback/closed.html", reason=LinkState.session)
    form = LanguageChoiceForm()
    if form.validate_on_submit():
        session["feedback_language"] = form.language.data
        return redirect(url_for("feedback.answer"), code=303)
    return _public("feedback/start.html", form=form, languages=LANGUAGES)


@bp.route("/f/form", methods=["GET", "POST"])
def answer():
    invitation = _invitation()
    _speak(session.get("feedback_language") or (invitation and invitation.language))
    if invitation is None:
        return _public("feedback/closed.html", reason=LinkState.session)
    status = queries.state(invitation)
    if status != LinkState.ok:
        return _public("feedback/closed.html", reason=status)
    form = FORMS[invitation.form]()
    if form.validate_on_submit():
        try:
            operations.submit(invitation, language=g.feedback_language,
                              scores={name: form[name].data for name in queries.SCORES
                                      if name in form},
                              texts={name: form[name].data for name in queries.TEXTS
                                     if name in form})
        except Refused:  # used or expired since the page was opened
            return _public("feedback/closed.html", reason=queries.state(invitation))
        return redirect(url_for("feedback.thanks"), code=303)
    return _public("feedback/form.html", form=form, faces=FACES,
                   child=invitation.form != "parent")


@bp.route("/f/thanks")
def thanks():
    _speak(session.get("feedback_language"))
    return _public("feedback/thanks.html")


# --- the owner's side --------------------------------------------------------------------

@bp.route("/feedback/invite/<uuid:family_id>", methods=["GET", "POST"])
@login_required
def invite(family_id):
    """Invite a parent and/or children; the cards with the links are shown once."""
    family = db.session().get(Family, family_id)
    policy.require(current_user, "feedback.invite", family, hide=True, object_type="family",
                   object_id=family_id, family_id=family.id if family else None)
    referral = None
    if request.args.get("referral"):
        referral = db.session().get(Referral, _uuid(request.args["referral"]))
        if referral is None or referral.family_id != family.id:
            abort(404)  # the link names no referral of this family (the operation refuses it)
    children = [c for c in children_of([family.id]).get(family.id, [])
                if queries.form_for(c) is not None]
    form = InviteForm()
    form.whom.choices = [SelectChoice("parent", _("a parent or guardian"))] + [
        SelectChoice(str(c.id), c.first_name) for c in children]
    if request.method == "GET":
        form.language.data = family.language if family.language in LANGUAGES else "nl"
    if form.validate_on_submit():
        cards = []
        try:
            for whom in form.whom.data:
                child = next((c for c in children if str(c.id) == whom), None)
                invitation, token = operations.invite(current_user, family, child=child,
                                                      referral=referral,
                                                      language=form.language.data)
                cards.append(_card(invitation, token, child))
        except Refused as refused:
            db.session().rollback()  # none of the invitations, rather than some
            form.form_errors.append(str(refused))
        else:
            return render_template("feedback/cards.html", cards=cards, family=family)
    return render_template("feedback/new.html", form=form, family=family, referral=referral)


def _uuid(text):
    try:
        return uuid.UUID(text)
    except ValueError:
        abort(404)


def _card(invitation, token, child):
    """The printable card and the text to send, in the invitation's language."""
    link = url_for("feedback.open_link", token=token, _external=True)
    # The SVG is segno's own output for our link; the card is an escaped template.
    qr = Markup(qr_svg(link))  # noqa: S704  # nosec B704
    with force_locale(invitation.language):
        card = render_template("feedback/card.html", link=link, qr=qr,
                               invitation=invitation, child=child,
                               rtl=invitation.language in RTL)
        message = render_template("feedback/message.txt", link=link, child=child,
                                  invitation=invitation)
    html = Markup(card)  # noqa: S704  # nosec B704
    return {"html": html, "message": message, "link": link, "child": child,
            "language": invitation.language}


@bp.route("/feedback/")
@login_required
def results():
    """The owner: the answers to their own invitations. A partner: scores per service, only
    where enough people answered."""
    if policy.allowed(current_user, "feedback.own"):
        return render_template("feedback/results.html",
                               rows=queries.invitations_of(current_user),
                               state=queries.state, FeedbackForm=FeedbackForm,
                               LinkState=LinkState)
    policy.require(current_user, "feedback.scores")
    return render_template("feedback/scores.html",
                           rows=queries.service_scores(current_user.organisation_id),
                           threshold=queries.THRESHOLD)
