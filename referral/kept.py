"""What pages draw once and keep: HTML that is the same for every reader who gives the same
key (directory data, a list's filters, the monitor's figures), kept per app, language and
script root. Never a user's personal data: everything the HTML shows must come from the key
(or, for the directory, from data whose version is in the key)."""

from flask import current_app, request
from flask_babel import get_locale


def kept(name, key, draw, *, size):
    """(what `draw()` drew for this key, whether it was kept from before). At most `size`
    per name, then all of that name are let go."""
    store = current_app.extensions.setdefault(f"referral.kept.{name}", {})
    full = (str(get_locale()), request.script_root, *key)
    if full in store:
        return store[full], True
    if len(store) >= size:
        store.clear()
    store[full] = drawn = draw()
    return drawn, False


def store_of(app, name):
    """What is kept under a name (for tests)."""
    return app.extensions.setdefault(f"referral.kept.{name}", {})
