"""App-wide pages and rules: home, health, language, security headers, errors, session expiry."""

import contextlib
import functools
import time
import uuid
from datetime import date, timedelta
from urllib.parse import urlsplit

from babel import support
from flask import (
    Blueprint,
    current_app,
    flash,
    g,
    has_request_context,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_number, get_locale, ngettext
from flask_login import current_user, login_required, logout_user
from flask_wtf import FlaskForm
from sqlalchemy import literal
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlmodel import select
from werkzeug.exceptions import HTTPException
from wtforms import HiddenField
from wtforms.fields.choices import SelectChoice
from wtforms.i18n import messages_path
from wtforms.validators import AnyOf, Length

from referral import audit, cells, db, i18n, mail, policy, sessions
from referral.auth import operations as auth_operations
from referral.auth.models import role_label
from referral.crypto import CryptoError, keyring
from referral.dates import day_writer, format_date, format_datetime
from referral.errors import Denied
from referral.forms import SelectField, error_links
from referral.i18n import gettext as _
from referral.i18n import lazy_gettext as _l
from referral.kept import kept
from referral.referrals import worklist
from referral.referrals.models import status_label

bp = Blueprint("main", __name__)

SEEN_EVERY = 60  # seconds: how often the session's idle clock is moved (a new cookie)

DENIED_DAYS = 7  # the privacy officer's home counts refused accesses of the last week

LANGUAGE_NAMES = {"nl": "Nederlands", "en": "English"}

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")

ERROR_TEXT = {
    400: (_l("Something in the request was not right"),
          _l("The form may have expired. Go back, reload the page and try again.")),
    403: (_l("You do not have access to this page"),
          _l("Your role does not allow this. Ask your coordinator if you think it should.")),
    404: (_l("Page not found"), _l("This page does not exist, or it is not available to you.")),
    405: (_l("Not allowed"), _l("This page cannot be used this way.")),
    413: (_l("Too much data"), _l("What you sent is too large. Make it shorter and try again.")),
    429: (_l("Too many attempts"), _l("Wait a few minutes and try again.")),
    500: (_l("Something went wrong on our side"),
          _l("Nothing was saved. Try again in a moment; if it keeps happening, tell the "
             "helpdesk the request number below.")),
    503: (_l("The service is busy or unavailable"),
          _l("Nothing was saved. Try again in a minute.")),
}


class LanguageForm(FlaskForm):
    language = SelectField(choices=list(LANGUAGE_NAMES),
                           validators=[AnyOf(list(LANGUAGE_NAMES))])
    next = HiddenField(validators=[Length(max=500)])


# Search text kept between pages in the session (a signed cookie, not an encrypted one):
# sealed with the key ring and bound to its user, so the cookie carries no name, postcode
# or email address readably, and nobody else's session can use it.

def keep_search(name, text, user):
    """Keep `text` under `name` for `user`'s next pages (or forget it, when empty)."""
    if text:
        session[name] = keyring().seal(text, f"search/{name}/{user.id}")
    else:
        session.pop(name, None)


def kept_search(name, user):
    """The text kept under `name` for `user`; "" when there is none, or it does not open
    (sealed with a retired key, or for someone else)."""
    sealed = session.get(name)
    if not sealed:
        return ""
    try:
        return keyring().open(sealed, f"search/{name}/{user.id}")
    except CryptoError:
        session.pop(name, None)
        return ""


def safe_next(target, default="main.home"):
    """A local path to go to after a form, or the default page; never another site."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        parts = urlsplit(target)
        if not parts.scheme and not parts.netloc:
            return target
    return url_for(default)


@bp.route("/")
@login_required
def home():
    """The worklist: what needs this user today, per role, each section a count and links."""
    user = current_user._get_current_object()
    if policy.allowed(user, "referrals.mine"):
        work = worklist.for_owner(user)
    elif policy.allowed(user, "referrals.inbox"):
        work = worklist.for_partner(user)
    elif policy.allowed(user, "referrals.accompany"):
        work = worklist.for_bridge(user)
    elif policy.allowed(user, "referrals.stuck"):
        work = {"stuck": worklist.Section(worklist.stuck_count()),
                "mail": worklist.Section(mail.outbox_summary()["failing"])}
    elif policy.allowed(user, "audit.read"):
        work = {"denied": worklist.Section(audit.denied_since(
            db.session(), db.utcnow() - timedelta(days=DENIED_DAYS)))}
    else:
        work = {}
    return render_template("main/home.html", user=user, work=work,
                           work_rows=_work_rows(work, date.today()),
                           waiting=sum(section.count for section in work.values()),
                           denied_days=DENIED_DAYS)


# What a worklist row says after its status, by section: the day to follow it up, how long
# ago it was made, sent or changed, or how long it has waited.
WORK_WHEN = {"handovers": "made", "overdue": "follow_up", "drafts": "made", "new": "waiting",
             "requests": "sent", "changed": "changed"}


def _work_rows(work, today):
    """Each worklist section's rows as (row, address, status, when), written once per page
    (referral.cells)."""
    address, day = cells.addresses("referrals.show", "referral_id"), day_writer()
    status = cells.labels(status_label)
    ago = cells.once(lambda days: ngettext("%(num)d day ago", "%(num)d days ago", days)
                     if days > 0 else _("today"))

    def when(kind, at):
        if kind == "follow_up":
            return _("follow up on %(date)s", date=day(at))
        if at is None:
            return ""
        days = (today - at.date()).days
        if kind == "waiting":
            return ngettext("waiting %(num)d day", "waiting %(num)d days", days)
        if kind == "made":
            return _("made %(ago)s", ago=ago(days))
        if kind == "sent":
            return _("sent %(ago)s", ago=ago(days))
        return _("changed %(ago)s", ago=ago(days))

    return {key: [(row, address(row.referral_id), status(row.status),
                   when(WORK_WHEN[key], row.at)) for row in section.rows]
            for key, section in work.items() if key in WORK_WHEN}


@bp.route("/outbox")
@login_required
def outbox():
    """The mail outbox's state for coordinators: sent, waiting, failing and given up, and
    the unsent messages by subject; never a recipient or a message's text."""
    policy.require(current_user, "mail.outbox")
    return render_template("main/outbox.html", summary=mail.outbox_summary(),
                           messages=mail.unsent(), shown=mail.OUTBOX_SHOWN,
                           max_attempts=mail.MAX_ATTEMPTS)


# Development only (registered by init_app when the mail sink is on, never in production):
# the mail the app sent, as the sink kept it. Open without logging in, so an invitation or
# a password reset can be read by someone who cannot log in yet.
dev = Blueprint("dev", __name__, url_prefix="/dev")


@dev.route("/mail")
def mail_sink():
    return render_template("main/mail_sink.html", messages=mail.sink_messages(),
                           folder=mail.sink_path())


@bp.route("/healthz")
def healthz():
    return {"status": "ok"}


@bp.route("/readyz")
def readyz():
    try:
        # The request's own session: on SQLite a second connection would wait for the
        # write lock this request may hold already.
        db.session().exec(select(literal(1))).one()
    except OperationalError:
        return {"status": "database unreachable"}, 503
    return {"status": "ok"}


@bp.post("/language")
def language():
    form = LanguageForm()
    if form.validate_on_submit():
        session["language"] = form.language.data
        if current_user.is_authenticated:
            user = current_user._get_current_object()
            auth_operations.set_language(user, user, language=form.language.data)
    return redirect(safe_next(form.next.data), code=303)


class _WTFormsMessages:
    """WTForms' own messages in the request's language. Flask-WTF reads WTForms' catalog
    from disk and parses it in every request that builds a form; the catalogs are the
    package's, the same for everyone, so each language's is read once per process."""

    catalogs = {}

    def _catalog(self):
        locale = str(get_locale())
        if locale not in self.catalogs:
            self.catalogs[locale] = support.Translations.load(messages_path(), [locale],
                                                              domain="wtforms")
        return self.catalogs[locale]

    def ugettext(self, string):
        return self._catalog().ugettext(string)

    def ungettext(self, singular, plural, n):
        return self._catalog().ungettext(singular, plural, n)


_WTFORMS_MESSAGES = _WTFormsMessages()


def _wtforms_messages():
    request.wtforms_translations = _WTFORMS_MESSAGES  # where Flask-WTF looks first


def init_app(app):
    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.install_gettext_callables(  # as Flask-Babel's, with the kept catalog
        gettext=lambda s: i18n.translations().ugettext(s),
        ngettext=lambda s, p, n: i18n.translations().ungettext(s, p, n),
        pgettext=lambda c, s: i18n.translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: i18n.translations().unpgettext(c, s, p, n),
        newstyle=True)
    app.jinja_env.globals.update(  # and with values, without asking the context each time
        _=i18n.page_gettext, gettext=i18n.page_gettext, ngettext=i18n.page_ngettext)
    app.before_request(_wtforms_messages)
    app.jinja_env.globals["error_links"] = error_links  # the error summary of every form
    app.jinja_env.globals["format_number"] = format_number
    app.jinja_env.globals["url_for"] = _url_for
    app.jinja_env.globals["keep"] = _keep
    app.session_interface = sessions.KeptCookieSessions()
    app.before_request(_expire_session)
    app.after_request(_security_headers)
    app.context_processor(_template_globals)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Denied, _denied)
    app.register_error_handler(OperationalError, _database_unavailable)
    app.register_error_handler(500, _server_error)
    if app.config["MAIL_SINK"] and app.config["ENV"] == "development":
        mail.send_after_request(app)
        app.register_blueprint(dev)


_addresses = {}  # (script root, endpoint, static file): its address, see _url_for


def _url_for(endpoint, **values):
    """url_for for templates. An address without values — a menu link, the home page — or
    of a static file is the same on every page for a given script root, so it is built once
    per process: every page has ten or more, each built rule by rule otherwise. An address
    whose values are all ids (a referral's, a family's: a list has one a row) is built once
    per endpoint and names with stand-in ids, and then written with each row's (a UUID
    is written the same way wherever it stands). Other addresses are built each time."""
    if not has_request_context():
        return current_app.url_for(endpoint, **values)
    if not values or (endpoint == "static" and values.keys() == {"filename"}):
        key = (request.script_root, endpoint, values.get("filename"))
        address = _addresses.get(key)
        if address is None:
            address = _addresses[key] = current_app.url_for(endpoint, **values)
        return address
    if endpoint.startswith(".") or any(type(value) is not uuid.UUID
                                       for value in values.values()):
        return current_app.url_for(endpoint, **values)
    parts = cells.pattern(endpoint, tuple(values))
    if not parts:
        return current_app.url_for(endpoint, **values)
    return "".join([parts[0], *(str(values[name]) + text for name, text in parts[1])])


def _keep(*key, caller):
    """For templates: `{% call keep(key…) %}…{% endcall %}` draws its block once per app,
    language and script root for each key (referral.kept), and then gives the same HTML.
    For a block drawn from the key's values alone — a list's filters (`form`: its fields,
    values and choices), the same for everyone who gives the same key."""
    return kept("blocks", tuple(map(_key_part, key)), caller, size=KEPT_BLOCKS)[0]


KEPT_BLOCKS = 500


def _key_part(value):
    if isinstance(value, FlaskForm):
        return tuple((field.name, repr(field.data), tuple(
            map(_choice_key, getattr(field, "choices", None) or ()))) for field in value)
    if isinstance(value, list | tuple):
        return tuple(map(str, value))
    return str(value)


def _choice_key(choice):
    if isinstance(choice, SelectChoice):
        return choice.value, _label_key(choice.label), repr(choice.render_kw), choice.optgroup
    return choice[0], _label_key(choice[1])


def _label_key(label):
    """A label as a key part: a lazy one by what it says (the language is in the key)."""
    return label.key if isinstance(label, i18n.Lazy) else str(label)


def _template_globals():
    if not has_request_context():  # mail rendered by a command: no page around it
        return {"role_label": role_label, "format_date": format_date}
    return {
        # Templates ask the policy, never a role or status string.
        "can": functools.partial(policy.allowed, current_user._get_current_object()),
        "role_label": role_label,
        "language": str(get_locale()),  # the page's, asked once
        "format_date": format_date,
        "format_datetime": format_datetime,
        # The language switcher's hidden fields, written by base.html as LanguageForm would
        # (building the form on every page cost more than the rest of the header).
        "language_next": request.full_path.rstrip("?"),
        "language_names": LANGUAGE_NAMES,
        "request_id": g.get("request_id", ""),
    }


def _expire_session():
    """End a session after the idle period and after the absolute period. Read from the
    session's times: the account is loaded only when a session has ended (a page that needs
    no account — health, the families' feedback — does not load one)."""
    if "_user_id" not in session:  # nobody logged in with this browser
        return None
    now, config = time.time(), current_app.config
    login_at, seen_at = session.get("login_at", 0), session.get("seen_at", 0)
    if (now - seen_at > config["SESSION_IDLE_MINUTES"] * 60
            or now - login_at > config["SESSION_ABSOLUTE_HOURS"] * 3600):
        if not current_user.is_authenticated:  # the account was closed meanwhile
            return None
        logout_user()
        session.clear()
        flash(_("Your session has ended. Log in again."), "info")
        return redirect(url_for("auth.login", next=request.full_path))
    if now - seen_at > SEEN_EVERY:
        session["seen_at"] = now
    return None


def _security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CSP)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["X-Request-Id"] = g.get("request_id", "")
    if request.blueprint == "hsds_api" and response.status_code in (200, 304):
        # The public directory: kept, and checked with its ETag before every use.
        headers["Cache-Control"] = "no-cache"
    elif request.endpoint != "static":
        # Pages may hold personal data: never keep them in a browser or proxy cache.
        headers["Cache-Control"] = "no-store"
    if current_app.config["ENV"] == "production":
        headers["Strict-Transport-Security"] = "max-age=63072000; includeSubDomains"
    return response


def _error_page(code):
    if "_login_user" not in g:
        # The user was not loaded, perhaps because the database is what failed: the page
        # must not ask it again (the menu is left out).
        g._login_user = current_app.login_manager.anonymous_user()
    title, message = ERROR_TEXT.get(code, ERROR_TEXT[500])
    return render_template("errors/error.html", code=code, title=title, message=message), code


def _http_error(error):
    if error.code is None or error.code < 400 or request.path.startswith("/static/"):
        return error
    return _error_page(error.code if error.code in ERROR_TEXT else 400)


def _denied(error):
    # The denial is in the access log already (policy.require wrote it).
    return _error_page(404 if error.hidden else 403)


def _database_unavailable(error):
    current_app.logger.warning("database unavailable (request %s): %s", g.get("request_id"),
                               type(error).__name__)
    with contextlib.suppress(SQLAlchemyError):  # the connection may be gone: nothing
        db.session().rollback()                  # of this request was saved either way
    # A failed statement expires every loaded object, the user too: reading their name for
    # the menu would ask the database again. The outage page is shown without the menu.
    g._login_user = current_app.login_manager.anonymous_user()
    return _error_page(503)


def _server_error(error):
    # Flask has logged the exception with its traceback; this line carries the number the
    # page shows, so the helpdesk finds it. The page shows no internals.
    db.session().rollback()  # the page must not trip over the failed statement again
    original = getattr(error, "original_exception", None) or error
    if isinstance(original, OperationalError):
        # Lost at the commit in after_request, which Flask reports as a 500.
        return _database_unavailable(original)
    current_app.logger.error("request %s failed: %s", g.get("request_id"),
                             type(original).__name__)
    return _error_page(500)
