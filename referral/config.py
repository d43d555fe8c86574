"""Configuration: development defaults, then instance/config.py, then REFERRAL_* variables."""

import os
import sys
from datetime import timedelta
from pathlib import Path

DEFAULTS = {
    "ENV": "development",
    "DATABASE_URL": None,  # None: SQLite in the instance folder
    "ALLOW_SQLITE_IN_PRODUCTION": False,
    "REQUIRE_2FA": None,  # None: on in production, off elsewhere
    "MAX_CONTENT_LENGTH": 1024 * 1024,
    "SESSION_IDLE_MINUTES": 30,
    "SESSION_ABSOLUTE_HOURS": 12,
    "LOGIN_MAX_FAILURES_ACCOUNT": 5,
    "LOGIN_MAX_FAILURES_ADDRESS": 20,
    "LOGIN_THROTTLE_MINUTES": 15,
    "SQLITE_BUSY_TIMEOUT_MS": 10_000,
    # Reverse proxies in front that set X-Forwarded-For/-Proto/-Host (nginx: 1). With 0 the
    # headers are ignored, so nobody can claim another address to dodge the login throttle.
    "PROXY_HOPS": 0,
    # A request waiting this long for a row lock gets the 503 page, before gunicorn kills it.
    "POSTGRES_LOCK_TIMEOUT_MS": 10_000,
    "TRAINING_VALID_YEARS": 3,
    "INVITATION_VALID_DAYS": 7,  # an invitation link works this long (once)
    "RESET_VALID_MINUTES": 60,  # a password reset link works this long (once)
    "RESET_MAX_ACCOUNT": 3,  # forgotten-password mails per account …
    "RESET_MAX_ADDRESS": 10,  # … and requests per address …
    "RESET_THROTTLE_MINUTES": 60,  # … in this many minutes: then wait
    # The forgotten-password page answers no sooner than this, so a known and an unknown
    # address take the same time.
    "RESET_ANSWER_SECONDS": 0.5,
    "MAIL_SERVER": None,  # None: mail is written to the log (or to the sink, below)
    # Development: mail goes to files in instance/mail/, shown at /dev/mail, and is sent
    # right after each request. None: on in development without a MAIL_SERVER; never in
    # production.
    "MAIL_SINK": None,
    "MAIL_PORT": 25,
    "MAIL_USE_TLS": False,
    **dict.fromkeys(("MAIL_USERNAME", "MAIL_PASSWORD")),  # None: no login at the mail server
    "MAIL_FROM": "verwijstool@localhost",
    "PUBLIC_URL": "http://127.0.0.1:5000",  # for links in mail sent from the command line
    "FOLLOW_UP_DAYS": 14,  # default follow-up date of a referral
    "QUIET_DAYS": 14,  # a referral without activity for this long is overdue
    "ESCALATION_DAYS": 14,  # overdue for this much longer: the coordinators are told
    "FEEDBACK_VALID_DAYS": 30,  # a feedback link works this long (once)
    "FEEDBACK_SESSION_MINUTES": 60,  # after opening the link, to fill in the form
    "FEEDBACK_MAX_FAILURES": 10,  # links that do not work, per address …
    "FEEDBACK_THROTTLE_MINUTES": 15,  # … in this many minutes: then wait
    "MONITOR_CACHE_SECONDS": 600,  # the monitor's figures are counted again after this
    "HSDS_API": True,  # the public read-only HSDS API at /api/hsds/ (False: it answers 404)
    "RETENTION_CLOSED_DAYS": 730,  # a family goes two years after its last referral closed
    "RETENTION_SIGNAL_DAYS": 365,  # a signal that led to no referral goes after a year
    "RETENTION_AUDIT_DAYS": 1826,  # access log entries are kept five years
    # A second, append-only copy of the access log's head outside the instance: a file on
    # another mount (checked by `audit verify`) or "syslog"; None: only instance/audit-head.log.
    "AUDIT_HEAD_SINK": None,
    "RETENTION_MAIL_DAYS": 90,  # sent mail (no personal data in it) leaves the outbox
    "RETENTION_ATTEMPT_DAYS": 30,  # failed logins and feedback links, for throttling
    # The erased families' ids and dates, outside the database and every backup, so a restore
    # erases them again. None: erased-families.log in the instance folder.
    "ERASURE_LIST": None,
    # An old wrapping key is destroyed this long after an erasure or rotation replaced it:
    # as long as the oldest backup is kept (a backup needs the keys of its day).
    "WRAPPING_KEY_RETENTION_DAYS": 35,
    "BABEL_DEFAULT_LOCALE": "nl",
    # Times are stored in UTC and shown in the alliance's own time (summer time included).
    "BABEL_DEFAULT_TIMEZONE": "Europe/Amsterdam",
    "LANGUAGES": ["nl", "en"],
    "WTF_CSRF_TIME_LIMIT": None,  # the session's own lifetime bounds the token
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "referral_session",
    "PERMANENT_SESSION_LIFETIME": timedelta(hours=12),
    # The cookie is written when the session changes, not on every response: its lifetime
    # is the absolute session period from the login, and the idle clock (seen_at) moves at
    # most once a minute (referral.web).
    "SESSION_REFRESH_EACH_REQUEST": False,
}

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def fail(message):
    """Stop the process with one line that says what to set."""
    sys.exit(f"referral: {message}")


def instance_path():
    return os.environ.get("REFERRAL_INSTANCE_PATH") or str(PROJECT_ROOT / "instance")


def load(app, test_config):
    app.config.from_mapping(DEFAULTS)
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("REFERRAL")
    else:
        # Tests say exactly what they run with, whatever the shell exports.
        app.config.from_mapping(test_config)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(PROJECT_ROOT / "translations")
    production = app.config["ENV"] == "production"
    if production:
        app.config["SESSION_COOKIE_SECURE"] = True
    if app.config["MAIL_SINK"] is None or production:
        app.config["MAIL_SINK"] = (app.config["ENV"] == "development"
                                   and not app.config["MAIL_SERVER"])
    if app.config["REQUIRE_2FA"] is None:
        app.config["REQUIRE_2FA"] = production
    if not app.config.get("SECRET_KEY"):
        key_file = Path(app.instance_path) / "secret_key"
        if key_file.exists():
            app.config["SECRET_KEY"] = key_file.read_text().strip()
        elif production:
            fail("no secret key: run 'flask --app referral init' or set REFERRAL_SECRET_KEY.")
        else:
            # Development only: a fresh key per process, so sessions end on restart.
            app.config["SECRET_KEY"] = os.urandom(32).hex()
    if not app.config["DATABASE_URL"]:
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'referral.sqlite'}"
    if (
        production
        and app.config["DATABASE_URL"].startswith("sqlite")
        and not app.config["ALLOW_SQLITE_IN_PRODUCTION"]
    ):
        fail(
            "SQLite in production: set REFERRAL_DATABASE_URL=postgresql+psycopg://… "
            "or REFERRAL_ALLOW_SQLITE_IN_PRODUCTION=true."
        )
    minutes = app.config["SESSION_ABSOLUTE_HOURS"] * 60
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(minutes=minutes)
