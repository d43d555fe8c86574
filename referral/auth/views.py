import time
import uuid

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user, login_required, login_user, logout_user

from referral import db, policy
from referral.auth import bp, services
from referral.auth.forms import (
    CodeForm,
    LoginForm,
    PasswordChangeForm,
)
from referral.auth.models import User
from referral.crypto import CryptoError, keyring
from referral.errors import Refused
from referral.forms import ButtonForm, ConfirmForm
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
    language, next_page = session.get("language"), session.get("next")
    session.clear()  # a fresh session at every login: nothing carried over from before
    login_user(user)
    session.permanent = True
    session["login_at"] = session["seen_at"] = time.time()
    session["two_factor"] = two_factor  # the access log is read only after a code
    if language:  # chosen on the login page: the newest choice wins, also for next time
        session["language"] = language
        services.set_language(user, language)
    return redirect(safe_next(next_page))


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.home"))
    form = LoginForm(next=request.args.get("next", "")[:500])
    status = 200
    if form.validate_on_submit():
        try:
            user = services.authenticate(form.email.data, form.password.data, request.remote_addr)
        except services.Throttled as exc:
            form.form_errors.append(str(exc))
            return render_template("auth/login.html", form=form), 429
        if user is None:
            form.form_errors.append(_("Email address or password is not correct."))
            status = 200
        else:
            language = session.get("language")
            session.clear()
            session.update(pending_user=user.get_id(), pending_at=time.time(),
                           next=form.next.data)
            if language:
                session["language"] = language
            if user.totp_secret_enc:
                return redirect(url_for("auth.two_factor"))
            if current_app.config["REQUIRE_2FA"]:
                return redirect(url_for("auth.enrol"))
            return _finish_login(user)
    return render_template("auth/login.html", form=form), status


@bp.route("/login/code", methods=["GET", "POST"])
def two_factor():
    user = _pending_user()
    if user is None or not user.totp_secret_enc:
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if form.validate_on_submit():
        try:
            accepted = services.second_step(user, form.code.data, request.remote_addr)
        except services.Throttled as exc:
            session.clear()  # the half-finished login ends: start again after the wait
            form.form_errors.append(str(exc))
            return render_template("auth/two_factor.html", form=form), 429
        if accepted:
            return _finish_login(user, two_factor=True)
        form.code.errors.append(_("This code is not correct or was used already. "
                                  "Wait for the next code."))
    return render_template("auth/two_factor.html", form=form)


@bp.route("/login/enrol", methods=["GET", "POST"])
def enrol():
    """Set up two-factor login: during a login that requires it, or from the account page."""
    user = (_pending_user() if not current_user.is_authenticated
            else current_user._get_current_object())
    if user is None:
        return redirect(url_for("auth.login"))
    context = f"totp-enrol/{user.id}"
    form = CodeForm()
    secret = None
    if session.get("totp_enrol"):  # the same key on reload, so a scanned code keeps working
        try:
            secret = keyring().open(session["totp_enrol"], context)
        except CryptoError:
            secret = None
    if form.validate_on_submit() and secret:
        if services.enrol_totp(user, secret, form.code.data):
            session.pop("totp_enrol", None)
            if not current_user.is_authenticated:
                return _finish_login(user, two_factor=True)
            # Enrolling ended the other sessions; keep this one.
            login_user(user)
            session["two_factor"] = True
            flash(_("Two-factor login is on."), "success")
            return redirect(url_for("auth.account"))
        form.code.errors.append(_("This code is not correct. Scan the code again and "
                                  "enter the newest six digits."))
    if secret is None:
        secret = services.start_totp_enrolment()
        session["totp_enrol"] = keyring().seal(secret, context)
    uri = services.totp_uri(secret, user.email)
    return render_template("auth/enrol.html", form=form, secret=secret,
                           qr=services.qr_svg(uri))


@bp.post("/logout")
@login_required
def logout():
    form = ButtonForm()
    if form.validate_on_submit():
        services.logout(current_user._get_current_object())
        logout_user()
        session.clear()
        flash(_("You are logged out."), "info")
    return redirect(url_for("auth.login"))


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
            services.change_password(user, form.current.data, form.new.data)
        except Refused as exc:
            getattr(form, exc.field or "new").errors.append(str(exc))
        else:
            logout_user()
            session.clear()
            flash(_("Your password is changed. Log in with your new password."), "success")
            return redirect(url_for("auth.login"))
    return render_template("auth/password.html", form=form)


@bp.route("/users")
@login_required
def users():
    policy.require(current_user, "users.list")
    return render_template("auth/users.html", users=services.all_users(),
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
            services.deactivate(user, actor=current_user)
        except Refused as refused:
            form.form_errors.append(str(refused))
        else:
            flash(_("The account is deactivated and its sessions have ended."), "success")
            return redirect(url_for("auth.users"), code=303)
    return render_template("auth/deactivate.html", form=form, user=user)
