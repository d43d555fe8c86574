"""The referral tool: signal, refer and follow up families in a child poverty alliance."""

import io
import secrets

import flask
from flask import Flask, current_app, g, has_request_context, session
from flask_babel import Babel
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.utils import cached_property

from referral import config, crypto, db, i18n


class _Babel(Babel):
    @cached_property
    def domain_instance(self):
        return i18n.Domain(domain=self.domain)


csrf = CSRFProtect()
babel = _Babel()
login_manager = LoginManager()


def _clean(values):
    """Form and query values as the forms should see them: without NUL bytes (PostgreSQL
    refuses them in text), and a value of only spaces as empty (so an optional field's
    length limit cannot be skipped)."""
    return ImmutableMultiDict((key, value.replace("\x00", "") if value.strip() else "")
                              for key, value in values.items(multi=True))


class Request(flask.Request):
    def _load_form_data(self):
        limit = self.max_content_length
        if (self.content_length is None and limit is not None and "stream" not in self.__dict__
                and self.mimetype == "application/x-www-form-urlencoded"):
            # A chunked body has no length: Werkzeug would cut it off at the limit and go
            # on with what it read. Read one byte more than allowed, and refuse it whole.
            body = self.environ["wsgi.input"].read(limit + 1)
            if len(body) > limit:
                raise RequestEntityTooLarge()
            self.__dict__["stream"] = io.BytesIO(body)
        super()._load_form_data()
        self.__dict__["form"] = _clean(self.__dict__["form"])

    @cached_property
    def args(self):
        return _clean(super().args)


def create_app(test_config=None):
    """Build the application: configuration, keys, database, blueprints."""
    app = Flask(
        __name__,
        instance_path=(test_config or {}).get("INSTANCE_PATH") or config.instance_path(),
        instance_relative_config=True,
        template_folder=str(config.PROJECT_ROOT / "templates"),
    )
    app.request_class = Request
    app.jinja_environment = i18n.Environment  # before anything builds app.jinja_env
    config.load(app, test_config)
    if hops := app.config["PROXY_HOPS"]:
        # Behind nginx: the client's address (throttling, the access log) and scheme.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    try:
        app.extensions["referral.keyring"] = crypto.load_keyring(app)
    except crypto.CryptoError as exc:
        config.fail(f"the encryption keys are malformed ({exc}): fix or restore "
                    f"{crypto.key_file(app)} or REFERRAL_ENCRYPTION_KEYS.")
    if app.extensions["referral.keyring"] is None and app.config["ENV"] == "production":
        config.fail("no encryption keys: run 'flask --app referral init' or set "
                    "REFERRAL_ENCRYPTION_KEYS and REFERRAL_INDEX_KEY.")
    if (app.config["ENV"] == "production" and app.extensions["referral.keyring"] is not None
            and app.extensions["referral.keyring"].log_key is None):
        config.fail("no log key for the access log: run 'flask --app referral init' (REFERRAL_ENV "
                    "unset) to add one to keys.json, or set REFERRAL_LOG_KEY.")

    app.before_request(_request_id)
    db.init_app(app)
    csrf.init_app(app)
    babel.init_app(app, locale_selector=_locale)
    login_manager.init_app(app)

    from referral import models, web  # noqa: F401  (models: every table in the metadata)
    from referral.auth import queries as auth_queries
    from referral.auth import views as auth_views
    from referral.cases import views as case_views
    from referral.cli import register as register_cli
    from referral.directory import api as directory_api
    from referral.directory import views as directory_views
    from referral.feedback import views as feedback_views
    from referral.monitor import views as monitor_views
    from referral.privacy import views as privacy_views
    from referral.referrals import views as referral_views

    login_manager.user_loader(db.user_apart(auth_queries.load_user))
    login_manager.login_view = "auth.login"
    login_manager.login_message = None
    web.init_app(app)
    app.register_blueprint(auth_views.bp)
    app.register_blueprint(case_views.bp)
    app.register_blueprint(directory_views.bp)
    app.register_blueprint(directory_api.bp)
    app.register_blueprint(referral_views.bp)
    app.register_blueprint(feedback_views.bp)
    app.register_blueprint(monitor_views.bp)
    app.register_blueprint(privacy_views.bp)
    app.register_blueprint(web.bp)
    register_cli(app)
    return app


def _request_id():
    g.request_id = secrets.token_hex(8)


def _locale():
    languages = current_app.config["LANGUAGES"]
    if not has_request_context():
        return "en"  # the command line speaks English throughout; mail uses force_locale
    if g.get("feedback_language"):  # the public feedback pages: the family's own language
        return g.feedback_language
    if current_user.is_authenticated and current_user.language in languages:
        return current_user.language
    if session.get("language") in languages:
        return session["language"]
    return current_app.config["BABEL_DEFAULT_LOCALE"]

