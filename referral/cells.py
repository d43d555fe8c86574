"""What a list's rows write beside their values — an address, a label, a day — worked out
by the view once per page rather than called from the template for every row: a call from
a template (four to six a row) cost about as much as the rest of its cell, a fifth of a
list's page. Each label is translated once per page, each day (dates.day_writer) and each
count written once, every address built from one pattern."""

import re
import uuid

from flask import current_app, request

_patterns = {}  # (script root, endpoint, names): its address in parts, see `pattern`


def pattern(endpoint, names):
    """The address of an endpoint for ids under these names, as its first text and then
    (name, text after that id) pairs; () when each id does not stand in it exactly once.
    Built once per script root with stand-in ids: a UUID is written the same way wherever
    it stands (the lists' rows here, and web._url_for for templates)."""
    key = (request.script_root, endpoint, names)
    parts = _patterns.get(key)
    if parts is None:
        parts = _patterns[key] = _pattern(endpoint, names)
    return parts


def _pattern(endpoint, names):
    stand_ins = {str(uuid.UUID(int=number + 1)): name for number, name in enumerate(names)}
    address = current_app.url_for(endpoint, **{name: uuid.UUID(stand_in)
                                               for stand_in, name in stand_ins.items()})
    pieces = re.split(f"({'|'.join(stand_ins)})", address)  # text, id, text, id, …, text
    if sorted(pieces[1::2]) != sorted(stand_ins):
        return ()
    return pieces[0], tuple((stand_ins[stand_in], text)
                            for stand_in, text in zip(pieces[1::2], pieces[2::2], strict=True))


def addresses(endpoint, name):
    """The address of `endpoint` for the id given as `name`, written from its `pattern`."""
    parts = pattern(endpoint, (name,))
    if not parts:
        return lambda value: current_app.url_for(endpoint, **{name: value})
    first, ((_name, after),) = parts
    return lambda value: f"{first}{value}{after}"


def once(make):
    """`make` of a value, made once per value for the page."""
    made = {}
    return lambda value: made[value] if value in made else made.setdefault(value, make(value))


def labels(label):
    """The text of `label` (a value's lazy label) for each value, translated once per page."""
    return once(lambda value: str(label(value)))
