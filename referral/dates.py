"""Dates and times as people read them, in the reader's language: "2 dec 2026, 13:05" in
Dutch, "2 Dec 2026, 13:05" in English. The one place pages and mail format a date."""

import functools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel import Locale, dates
from flask import has_app_context
from flask_babel import get_locale, get_timezone

from referral import i18n

DUTCH, BRITISH = Locale.parse("nl"), Locale.parse("en_GB")  # parsed once, not per date


def _reader():
    """How the request's reader reads a moment: Babel's locale for dates and the time zone,
    found once per request and language (Flask-Babel asks the app context for each, 4 µs of
    every date a list shows)."""
    return i18n.per_language("referral_dates", _find_reader)


def _find_reader():
    """Plain "en" is American ("12/2/26, 1:05 PM"); English here is written the British
    way, as in the rest of Europe."""
    locale = get_locale() or DUTCH
    zone = _zone(get_timezone()) if has_app_context() else None  # a day needs none
    return (BRITISH if locale.language == "en" else locale), zone


def _local(moment, zone):
    """A stored moment in the reader's time zone (a naive one is UTC, as SQLite gives it
    back). As Flask-Babel's to_user_timezone, through the standard library's zones: pytz's
    conversion took 10 µs of every date a list shows."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(zone or _zone(get_timezone()))


@functools.lru_cache(maxsize=16)
def _zone(pytz_zone):
    return ZoneInfo(pytz_zone.zone)


def format_date(value):
    """A day: "2 dec 2026"."""
    return _written_day(value, *_reader())


def day_writer():
    """format_date for the many days of one page (a list's rows): the reader found once."""
    locale, zone = _reader()
    return functools.partial(_written_day, locale=locale, zone=zone)


def _written_day(value, locale, zone):
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = _local(value, zone).date()
    return _day(value, locale)


@functools.lru_cache(maxsize=4096)
def _day(value, locale):
    """A list shows the same few days again and again (follow-up dates, this week's), and
    Babel takes 7 µs to write one: each written once per language and process."""
    return dates.format_date(value, "medium", locale=locale)


def format_datetime(value):
    """A moment: "2 dec 2026, 13:05" (no seconds, a 24-hour clock where the language has
    one)."""
    if value is None:
        return ""
    locale, zone = _reader()
    local = _local(value, zone)
    return _moment(local.replace(second=0, microsecond=0, tzinfo=None), locale)


@functools.lru_cache(maxsize=4096)
def _moment(local, locale):
    """A timeline shows the same moments on every visit, and Babel takes 15 µs to write one:
    each minute (in the reader's time zone) written once per language and process."""
    pattern = locale.datetime_formats["medium"].format(locale.time_formats["short"].pattern,
                                                       locale.date_formats["medium"].pattern)
    return dates.format_datetime(local, pattern, locale=locale)
