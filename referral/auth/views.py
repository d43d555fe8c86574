import time
import uuid

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user

from referral import db, policy
from referral.auth import bp, operations
from referral.auth.credentials import new_totp_secret, qr_svg, totp_uri
from referral.auth.forms import (
    CodeForm,
    LoginForm,
    PasswordChangeForm,
)
from referral.auth.models import User
from referral.auth.queries import all_users
from referral.crypto import CryptoError, keyring
from referral.errors import Refused
from referral.forms import ButtonForm, ConfirmForm, show_refusal
from referral.web import safe_next

PENDING_SECONDS = 300


def load_user(user_id):
    """The user of a session cookie, if the cookie's session version is still current."""
    try:
        raw_id, version = user_id.split(".")
        user = db.session().get(User, uuid.UUID(raw_id))
    except (ValueError, AttributeError):
        return None
    if user is None or not user.active or str(user.session_version) != version:
        return None
    return user


def _pending_user():
    """The user who gave a right password and still owes a two-factor code."""
    if time.time() - session.get("pending_at", 0) > PENDING_SECONDS:
        return None
    return load_user(session.get("pending_user", ""))


def _finish_login(user, *, two_factor=False):
    """Start the session of a user who passed every step of a login (always after a POST)."""
    language, next_page = session.get("language"), session.get("next")
    session.clear()  # a fresh session at every login: nothing carried over from before
    login_user(user)
    session.permanent = True
    session["login_at"] = session["seen_at"] = time.time()
    session["two_factor"] = two_factor  # the access log is read only after a code
    if language:  # chosen on the login page: the newest choice wins, also for next time
        session["language"] = language
        operations.set_language(user, user, language=language)
    return redirect(safe_next(next_page), code=303)


def _leave_for(endpoint):
    """Send away from a page that is not for now; after a POST with 303, so the browser
    does not send the form again."""
    return redirect(url_for(endpoint), code=303 if request.method == "POST" else 302)


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return _leave_for("main.home")
    form = LoginForm(next=request.args.get("next", "")[:500])
    if form.validate_on_submit():
        try:
            user = operations.authenticate(email=form.email.data, password=form.password.data,
                                           address=request.remote_addr)
        except operations.Throttled as throttled:
            form.form_errors.append(str(throttled))
            return render_template("auth/login.html", form=form), 429
        except Refused as refused:
            form.form_errors.append(str(refused))
        else:
            language = session.get("language")
            session.clear()
            session.update(pending_user=user.get_id(), pending_at=time.time(),
                           next=form.next.data)
            if language:
                session["language"] = language
            if user.totp_secret_enc:
                return redirect(url_for("auth.two_factor"), code=303)
            if current_app.config["REQUIRE_2FA"]:
                return redirect(url_for("auth.enrol"), code=303)
            return _finish_login(user)
    return render_template("auth/login.html", form=form)


@bp.route("/login/code", methods=["GET", "POST"])
def two_factor():
    user = _pending_user()
    if user is None or not user.totp_secret_enc:
        return _leave_for("auth.login")
    form = CodeForm()
    if form.validate_on_submit():
        try:
            operations.second_step(user, code=form.code.data, address=request.remote_addr)
        except operations.Throttled as throttled:
            session.clear()  # the half-finished login ends: start again after the wait
            form.form_errors.append(str(throttled))
            return render_template("auth/two_factor.html", form=form), 429
        except Refused as refused:
            form.code.errors.append(str(refused))
        else:
            return _finish_login(user, two_factor=True)
    return render_template("auth/two_factor.html", form=form)


@bp.route("/login/enrol", methods=["GET", "POST"])
def enrol():
    """Set up two-factor login: during a login that requires it, or from the account page."""
    user = (_pending_user() if not current_user.is_authenticated
            else current_user._get_current_object())
    if user is None:
        return _leave_for("auth.login")
    context = f"totp-enrol/{user.id}"
    form = CodeForm()
    secret = None
    if session.get("totp_enrol"):  # the same key on reload, so a scanned code keeps working
        try:
            secret = keyring().open(session["totp_enrol"], context)
        except CryptoError:
            secret = None
    if form.validate_on_submit() and secret:
        try:
            operations.enrol_two_factor(user, user, secret=secret, code=form.code.data)
        except Refused as refused:
            form.code.errors.append(str(refused))
        else:
            session.pop("totp_enrol", None)
            if not current_user.is_authenticated:
                return _finish_login(user, two_factor=True)
            # Enrolling ended the other sessions; keep this one.
            login_user(user)
            session["two_factor"] = True
            flash(_("Two-factor login is on."), "success")
            return redirect(url_for("auth.account"), code=303)
    if secret is None:
        secret = new_totp_secret()
        session["totp_enrol"] = keyring().seal(secret, context)
    return render_template("auth/enrol.html", form=form, secret=secret,
                           qr=qr_svg(totp_uri(secret, user.email)))


@bp.post("/logout")
@login_required
def logout():
    form = ButtonForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        operations.log_out(user, user)
        logout_user()
        session.clear()
        flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"), code=303)


@bp.route("/account")
@login_required
def account():
    return render_template("auth/account.html", user=current_user,
                           training_valid=policy.training_valid(current_user))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def password():
    form = PasswordChangeForm()
    if form.validate_on_submit():
        user = current_user._get_current_object()
        try:
            operations.change_password(user, user, current=form.current.data,
                                       new=form.new.data)
        except Refused as refused:
            show_refusal(form, refused, default="new")
        else:
            logout_user()
            session.clear()
            flash(_("Your password is changed. Log in with your new password."), "success")
            return redirect(url_for("auth.login"), code=303)
    return render_template("auth/password.html", form=form)


@bp.route("/users")
@login_required
def users():
    policy.require(current_user, "users.list")
    return render_template("auth/users.html", users=all_users(),
                           training_valid=policy.training_valid)


@bp.route("/users/<uuid:user_id>/deactivate", methods=["GET", "POST"])
@login_required
def deactivate(user_id):
    """Deactivate an account after a confirmation; refused while it owns open referrals."""
    policy.require(current_user, "users.deactivate", object_type="user", object_id=user_id)
    user = db.session().get(User, user_id)
    if user is None or not user.active:
        abort(404)
    form = ConfirmForm(label=_l("Yes, deactivate this account"))
    if form.validate_on_submit():
        try:
            operations.deactivate(current_user, user)
        except Refused as refused:
            form.form_errors.append(str(refused))
        else:
            flash(_("The account is deactivated and its sessions have ended."), "success")
            return redirect(url_for("auth.users"), code=303)
    return render_template("auth/deactivate.html", form=form, user=user)
