"""The browser's session: Flask's signed cookie, each cookie opened once per worker.

Flask opens the session cookie on every request: it builds the signing serializer, checks
the signature (HMAC), decodes and decompresses the payload and reads its JSON, 79 µs of
every page on the bench's machine. A browser sends the same cookie until the session
changes, so the worker keeps what a cookie held once its signature was checked, keyed by
the cookie's exact text: the same text was signed by the same key and holds the same
values. Its age is checked on every request as the serializer checks it (the signing
moment is kept with the values), so a kept cookie expires as a read one does; it is read
again when the app's keys change. Each request gets its own copy: a page that changes its
session (a message, a filter) changes nothing kept. The interface is the app's own (one
per app: tests make apps with other keys), and keeps at most KEEP cookies, the oldest let
go first."""

import copy
import time

from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature

KEEP = 2048  # cookies kept per worker: a few hundred users each, and their changes


class KeptCookieSessions(SecureCookieSessionInterface):
    """Flask's signed cookie sessions, each cookie's signature checked once per worker."""

    def __init__(self):
        self._opened = {}  # the cookie's text: (signed at in whole seconds, values, keys)

    def open_session(self, app, request):
        if not app.secret_key:
            return None  # as Flask: no key, no session
        text = request.cookies.get(self.get_cookie_name(app))
        if not text:
            return self.session_class()
        max_age = int(app.permanent_session_lifetime.total_seconds())
        keys = (app.secret_key, *(app.config["SECRET_KEY_FALLBACKS"] or ()))
        kept = self._opened.get(text)
        if kept is None or kept[2] != keys:  # new, or the keys changed since
            try:
                values, signed = self.get_signing_serializer(app).loads(
                    text, max_age=max_age, return_timestamp=True)
            except BadSignature:  # expired, forged or signed with another key
                return self.session_class()
            kept = (int(signed.timestamp()), values, keys)
            if len(self._opened) >= KEEP:
                self._opened.pop(next(iter(self._opened)), None)
            self._opened[text] = kept
        else:
            age = int(time.time()) - kept[0]  # as itsdangerous' TimestampSigner counts it
            if age > max_age or age < 0:
                self._opened.pop(text, None)
                return self.session_class()
        return self.session_class(copy.deepcopy(kept[1]))
