import time
import uuid

from flask import abort, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_required, login_user, logout_user

from referral import db, policy
from referral.auth import bp, operations
from referral.auth.credentials import new_totp_secret, qr_svg, totp_uri
from referral.auth.forms import (
    ChoosePasswordForm,
    CodeForm,
    ForgotForm,
    InviteForm,
    LoginForm,
    PasswordChangeForm,
    RoleForm,
    TrainingForm,
    UserFilterForm,
    UserSearchForm,
)
from referral.auth.models import (
    STATUS_LABELS,
    AccountLink,
    AccountStatus,
    LinkPurpose,
    LinkState,
    Role,
    User,
    training_label,
)
from referral.auth.queries import SORTS, link_by_token, link_state
from referral.auth.queries import pending_user as _pending_user
from referral.auth.queries import users as find_users
from referral.crypto import CryptoError, keyring
from referral.directory.queries import organisation_names, organisations
from referral.errors import Denied, Refused
from referral.forms import ButtonForm, ConfirmForm, show_refusal
from referral.i18n import gettext as _
from referral.i18n import lazy_gettext as _l
from referral.web import keep_search, kept_search, safe_next

LINK_SECONDS = 1800  # after opening an account link, to choose the password


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


SEARCH_KEY = "users_search"


def _filters():
    """The users list's filters from the query string; anything unknown is left out."""
    args = request.args
    role = args.get("role") if args.get("role") in Role.__members__ else None
    status = args.get("status") if args.get("status") in AccountStatus.__members__ else None
    try:
        organisation = uuid.UUID(args.get("organisation", ""))
    except ValueError:
        organisation = None
    sort = args.get("sort") if args.get("sort") in SORTS else "name"
    return {"role": role, "status": status, "organisation": organisation,
            "expired": args.get("expired") == "y", "sort": sort,
            "order": "desc" if args.get("order") == "desc" else "asc"}


def _query_args(filters, **changes):
    """The filters as query-string arguments (only those set), with some changed."""
    merged = {**filters, **changes}
    return {name: str(value) if not isinstance(value, bool) else "y"
            for name, value in merged.items()
            if value and (name, value) not in (("sort", "name"), ("order", "asc"))}


@bp.route("/users", methods=["GET", "POST"])
@login_required
def users():
    """Every account, filtered in the address (bookmarkable); a name or email address to look
    for is posted and kept sealed in the session, never in an address or a log line."""
    policy.require(current_user, "users.list")
    filters = _filters()
    search = UserSearchForm()
    if request.method == "POST":
        if search.validate_on_submit():
            text = " ".join((search.text.data or "").split())
            keep_search(SEARCH_KEY, text, current_user)
            args = _query_args(filters, search="y" if text else None)
            return redirect(url_for("auth.users", **args), code=303)
    elif request.args.get("search") == "y":
        search.text.data = kept_search(SEARCH_KEY, current_user)
    else:
        keep_search(SEARCH_KEY, "", current_user)
    everyone = [o for o in organisations()]
    form = UserFilterForm(request.args, organisations=everyone)
    page = find_users(role=filters["role"], status=filters["status"],
                      organisation_id=filters["organisation"], expired=filters["expired"],
                      text=search.text.data or "" if not search.errors else "",
                      sort=filters["sort"], descending=filters["order"] == "desc",
                      page=request.args.get("page", 1, type=int))
    args = _query_args(filters, search="y" if search.text.data and not search.errors else None)
    return render_template("auth/users.html", page=page, form=form, search=search,
                           args=args, filters=filters, query_args=_query_args,
                           organisation_names={o.id: o.name for o in everyone},
                           training_valid=policy.training_valid, Role=Role,
                           status_labels=STATUS_LABELS)


def _grantable_roles():
    return [r for r in Role if r != Role.privacy_officer
            or policy.allowed(current_user, "users.privacy_role")]


def _active_organisations():
    return [o for o in organisations() if o.active]


@bp.route("/users/new", methods=["GET", "POST"])
@login_required
def invite():
    """Make an account and mail its owner a link to choose a password."""
    policy.require(current_user, "users.invite", object_type="user")
    form = InviteForm(roles=_grantable_roles(), organisations=_active_organisations())
    if form.validate_on_submit():
        try:
            user, _token = operations.invite(
                current_user, email=form.email.data, name=form.name.data, role=form.role.data,
                organisation_id=uuid.UUID(form.organisation.data) if form.organisation.data
                else None, language=form.language.data)
        except Denied:
            raise
        except Refused as refused:
            show_refusal(form, refused)
        else:
            flash(_("The account is made. We sent an invitation to choose a password; the "
                    "link works for %(num)d days.",
                    num=current_app.config["INVITATION_VALID_DAYS"]), "success")
            return redirect(url_for("auth.user", user_id=user.id), code=303)
    return render_template("auth/invite.html", form=form)


def _account_or_404(user_id, action):
    policy.require(current_user, action, object_type="user", object_id=user_id)
    user = db.session().get(User, user_id)
    if user is None:
        abort(404)
    return user


def _user_page(user, *, role_form=None, training_form=None, status=200):
    role_form = role_form or RoleForm(
        prefix="change", roles={*_grantable_roles(), user.role},
        organisations=_active_organisations(),
        data={"role": user.role, "organisation": str(user.organisation_id or "")})
    training_form = training_form or TrainingForm(
        prefix="training", data={"kind": user.training_kind or "course"})
    organisation = (organisation_names([user.organisation_id]).get(user.organisation_id)
                    if user.organisation_id else None)
    return render_template(
        "auth/user.html", user=user, role_form=role_form, training_form=training_form,
        button=ButtonForm(), organisation=organisation, training_label=training_label,
        training_valid=policy.training_valid(user), expires_on=policy.training_expires(user),
        valid_years=current_app.config["TRAINING_VALID_YEARS"], AccountStatus=AccountStatus,
        Role=Role, status_labels=STATUS_LABELS,
        may_change_role=(user.id != current_user.id and (
            user.role != Role.privacy_officer
            or policy.allowed(current_user, "users.privacy_role")))), status


@bp.route("/users/<uuid:user_id>")
@login_required
def user(user_id):
    """One account: what it is, and what a coordinator can change."""
    return _user_page(_account_or_404(user_id, "users.list"))


@bp.post("/users/<uuid:user_id>/role")
@login_required
def change_role(user_id):
    user = _account_or_404(user_id, "users.manage")
    form = RoleForm(prefix="change", roles={*_grantable_roles(), user.role},
                    organisations=_active_organisations())
    if form.validate_on_submit():
        try:
            operations.change_role(current_user, user, role=form.role.data,
                                   organisation_id=uuid.UUID(form.organisation.data)
                                   if form.organisation.data else None)
        except Denied:
            raise
        except Refused as refused:
            show_refusal(form, refused)
        else:
            flash(_("The role and organisation are saved."), "success")
            return redirect(url_for("auth.user", user_id=user.id), code=303)
    return _user_page(user, role_form=form, status=400)


@bp.post("/users/<uuid:user_id>/training")
@login_required
def training(user_id):
    user = _account_or_404(user_id, "users.train")
    form = TrainingForm(prefix="training")
    if form.validate_on_submit():
        try:
            operations.record_training(current_user, user, trained_on=form.trained_on.data,
                                       kind=form.kind.data)
        except Refused as refused:
            show_refusal(form, refused)
        else:
            flash(_("The training is recorded."), "success")
            return redirect(url_for("auth.user", user_id=user.id), code=303)
    return _user_page(user, training_form=form, status=400)


def _button(user_id, action, operation, done):
    """A button that calls one operation on an account, then back to its page."""
    user = _account_or_404(user_id, action)
    if not ButtonForm().validate_on_submit():
        abort(400)
    try:
        operation(current_user, user)
    except Denied:
        raise
    except Refused as refused:
        flash(str(refused), "error")
    else:
        flash(done, "success")
    return redirect(url_for("auth.user", user_id=user.id), code=303)


@bp.post("/users/<uuid:user_id>/reset")
@login_required
def start_reset(user_id):
    return _button(user_id, "users.manage", operations.start_reset,
                   _("We sent a mail with a link to choose a new password."))


@bp.post("/users/<uuid:user_id>/reactivate")
@login_required
def reactivate(user_id):
    return _button(user_id, "users.manage", operations.reactivate,
                   _("The account is active again. The person logs in with their old password, "
                     "or you send a link to choose a new one."))


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


# --- a forgotten password, and the links of invitations and resets ----------------------

@bp.route("/login/forgot", methods=["GET", "POST"])
def forgot():
    """Ask for a link by mail. The answer is the same, and as fast, for an unknown address."""
    if current_user.is_authenticated:
        return _leave_for("auth.password")
    form = ForgotForm()
    if form.validate_on_submit():
        started = time.monotonic()
        try:
            operations.request_reset(email=form.email.data, address=request.remote_addr)
        except operations.Throttled as throttled:
            form.form_errors.append(str(throttled))
            return render_template("auth/forgot.html", form=form), 429
        finally:
            _wait_until(started + current_app.config["RESET_ANSWER_SECONDS"])
        return redirect(url_for("auth.forgot_sent"), code=303)
    return render_template("auth/forgot.html", form=form)


def _wait_until(moment):
    """Answer no sooner than this, so the work done for a known address does not show."""
    remaining = moment - time.monotonic()
    if remaining > 0:
        time.sleep(remaining)


@bp.route("/login/forgot/sent")
def forgot_sent():
    return render_template("auth/forgot_sent.html",
                           minutes=current_app.config["RESET_VALID_MINUTES"])


@bp.route("/account/link/<token>")
def open_link(token):
    """Exchange the token of a mailed link for a short hold in this browser's session, then
    leave it out of the address."""
    link = link_by_token(token)
    state = link_state(link)
    if state != LinkState.ok:
        return _link_closed(state)
    language = session.get("language")
    session.clear()  # whoever was logged in here, this browser now holds only the link
    if language:
        session["language"] = language
    session["account_link"] = {"id": str(link.id), "until": time.time() + LINK_SECONDS}
    return redirect(url_for("auth.choose_password"), code=303)


def _link_closed(state):
    return render_template("auth/link_closed.html", state=state, LinkState=LinkState), (
        404 if state == LinkState.unknown else 410)


def _held_link():
    held = session.get("account_link")
    if not held or held.get("until", 0) < time.time():
        return None
    return db.session().get(AccountLink, uuid.UUID(held["id"]))


@bp.route("/account/link", methods=["GET", "POST"])
def choose_password():
    """Choose a password through an invitation or a reset link."""
    link = _held_link()
    if link is None:
        return _link_closed(LinkState.expired)
    state = link_state(link)
    if state != LinkState.ok:
        session.pop("account_link", None)
        return _link_closed(state)
    user = db.session().get(User, link.user_id)
    form = ChoosePasswordForm()
    if form.validate_on_submit():
        try:
            user = operations.set_password_by_link(link, password=form.new.data)
        except Refused as refused:
            show_refusal(form, refused, default="new")
        else:
            session.pop("account_link", None)
            if (link.purpose == LinkPurpose.invitation and not user.totp_secret_enc
                    and policy.two_factor_required(user)):
                # Set up two-factor login now; the enrolment finishes the login.
                session.update(pending_user=user.get_id(), pending_at=time.time())
                return redirect(url_for("auth.enrol"), code=303)
            flash(_("Your password is set. Log in with it."), "success")
            return redirect(url_for("auth.login"), code=303)
    return render_template("auth/choose_password.html", form=form, user=user,
                           invitation=link.purpose == LinkPurpose.invitation)
