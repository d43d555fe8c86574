"""What a list's rows write beside their values — an address, a label, a day — worked out
by the view once per page rather than called from the template for every row: a call from
a template (four to six a row) cost about as much as the rest of its cell, a fifth of a
list's page. Each label is translated once per page, each day (dates.day_writer) and each
count written once, every address built from one pattern."""

import uuid

from flask import url_for


def addresses(endpoint, name):
    """The address of `endpoint` for an id given as `name`, from one address built with a
    stand-in id (a UUID is written the same way wherever it stands)."""
    stand_in = str(uuid.UUID(int=0))
    around = url_for(endpoint, **{name: uuid.UUID(stand_in)}).split(stand_in)
    return lambda value: str(value).join(around)


def once(make):
    """`make` of a value, made once per value for the page."""
    made = {}
    return lambda value: made[value] if value in made else made.setdefault(value, make(value))


def labels(label):
    """The text of `label` (a value's lazy label) for each value, translated once per page."""
    return once(lambda value: str(label(value)))
