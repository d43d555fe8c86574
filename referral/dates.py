"""Dates and times as people read them, in the reader's language: "2 dec 2026, 13:05" in
Dutch, "2 Dec 2026, 13:05" in English. The one place pages and mail format a date."""

import functools
from datetime import datetime

from babel import Locale, dates
from flask_babel import get_locale, to_user_timezone

DUTCH, BRITISH = Locale.parse("nl"), Locale.parse("en_GB")  # parsed once, not per date


def _locale():
    """Babel's locale for dates. Plain "en" is American ("12/2/26, 1:05 PM"); English here is
    written the British way, as in the rest of Europe."""
    locale = get_locale() or DUTCH
    return BRITISH if locale.language == "en" else locale


def format_date(value):
    """A day: "2 dec 2026"."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_user_timezone(value).date()
    return _day(value, _locale())


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
    local = to_user_timezone(value)
    return _moment(local.replace(second=0, microsecond=0, tzinfo=None), _locale())


@functools.lru_cache(maxsize=4096)
def _moment(local, locale):
    """A timeline shows the same moments on every visit, and Babel takes 15 µs to write one:
    each minute (in the reader's time zone) written once per language and process."""
    pattern = locale.datetime_formats["medium"].format(locale.time_formats["short"].pattern,
                                                       locale.date_formats["medium"].pattern)
    return dates.format_datetime(local, pattern, locale=locale)
