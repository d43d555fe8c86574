"""Details every page shares: dates as people in Europe write them, and a favicon."""

import re
from datetime import UTC, date, datetime

import pytest
from babel import dates as babel_dates
from flask_babel import force_locale, get_timezone

from referral.dates import day_writer, format_date, format_datetime
from tests.conftest import post_form

MOMENT = datetime(2026, 12, 2, 13, 5, 40, 123456, tzinfo=UTC)


@pytest.mark.parametrize(("language", "moment", "day"), [
    ("nl", "2 dec 2026, 14:05", "2 dec 2026"),  # stored 13:05 UTC: Dutch winter time
    ("en", "2 Dec 2026, 14:05", "2 Dec 2026"),
])
def test_dates_read_the_european_way(app, language, moment, day):
    with app.test_request_context(), force_locale(language):
        assert format_datetime(MOMENT) == moment
        assert format_date(MOMENT) == day
        assert format_date(date(2026, 12, 2)) == day


@pytest.mark.parametrize("language", ["nl", "en"])
def test_a_lists_days_are_written_as_every_other_day(app, language):
    """A list writes its rows' days with the reader found once (day_writer): the same as
    format_date writes each, for moments (in the reader's time zone), days and none."""
    late = datetime(2026, 12, 2, 23, 30, tzinfo=UTC)  # already the 3rd in the Netherlands
    with app.test_request_context(), force_locale(language):
        day = day_writer()
        for value in (MOMENT, late, datetime(2026, 7, 1, 23, 30), date(2026, 12, 2), None):
            assert day(value) == format_date(value)
        assert day(late) == {"nl": "3 dec 2026", "en": "3 Dec 2026"}[language]


def test_a_day_is_written_without_a_request_too():
    """A command writes a day with no app around it (a day needs no time zone): Dutch."""
    assert format_date(date(2026, 12, 2)) == "2 dec 2026"


def test_times_are_the_netherlands_own(app):
    """Stored in UTC, shown as a clock in the Netherlands shows them: summer time too, and
    a late evening's day is the next day there."""
    with app.test_request_context():
        assert format_datetime(datetime(2026, 7, 1, 10, 0, tzinfo=UTC)) == "1 jul 2026, 12:00"
        assert format_datetime(datetime(2026, 12, 2, 23, 30)) == "3 dec 2026, 00:30"  # naive
        assert format_date(datetime(2026, 12, 2, 23, 30, tzinfo=UTC)) == "3 dec 2026"


@pytest.mark.parametrize("moment", [
    datetime(2026, 3, 29, 0, 59, 59, tzinfo=UTC),  # the last minute of winter time …
    datetime(2026, 3, 29, 1, 0, 1, tzinfo=UTC),  # … and the first of summer time
    datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # the hour that comes twice
    datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 59, 30),  # naive, as SQLite gives it back: UTC
])
def test_moments_kept_once_written_read_as_babel_writes_them(app, moment):
    """Moments are kept once written, per minute and language: the same words as Babel's
    in the reader's time zone (the Netherlands', with summer time), in turns."""
    shown = set()
    with app.test_request_context():
        for language in ["nl", "en", "nl", "en"]:
            with force_locale(language):
                expected = babel_dates.format_datetime(
                    moment if moment.tzinfo else moment.replace(tzinfo=UTC), "d MMM y, HH:mm",
                    tzinfo=get_timezone(), locale="en_GB" if language == "en" else language)
                assert format_datetime(moment) == expected
                shown.add(expected)
    assert len(shown) == 2  # both languages, each its own words


def test_a_day_written_once_is_written_again_in_each_language(app):
    """Days are kept once written, per language: readers in turns each get theirs."""
    day = date(2026, 12, 2)
    with app.test_request_context():
        for language, written in [("nl", "2 dec 2026"), ("en", "2 Dec 2026"),
                                  ("nl", "2 dec 2026"), ("en", "2 Dec 2026")]:
            with force_locale(language):
                assert format_date(day) == written
                assert format_date(MOMENT) == written  # a moment: its day where the reader is


@pytest.mark.parametrize(("language", "counted", "made"), [
    ("nl", r"Geteld op \d{1,2} [a-z]{3} \d{4}, \d{2}:\d{2};", r"gemaakt op \d{1,2} [a-z]{3} \d{4}<"),
    ("en", r"Counted at \d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2};", r"made on \d{1,2} [A-Z][a-z]{2} \d{4}<"),
])
def test_pages_show_dates_in_the_readers_language(client, login, make_user, language, counted,
                                                  made):
    login(make_user("coordinator", organisation="Alliantie"))
    post_form(client, "/language", {"language": language, "next": "/"}, page="/")
    dashboard = client.get("/monitor/").text
    assert re.search(counted, dashboard), dashboard
    shown = re.sub(r"<[^>]+>", " ", dashboard)  # what a reader sees, not a token's letters
    assert not re.search(r"\d+/\d+/\d+|[AP]M\b", shown)  # no American dates
    assert re.search(made, client.get("/monitor/report").text)


def test_every_page_links_a_favicon_that_exists(client, world, login):
    for page in (client.get("/login"), client.get("/f/not-a-link")):
        link = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page.text)
        assert link, page.text[:500]
        with client.get(link.group(1)) as icon:
            assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
            assert b"<svg" in icon.data and b"<title>" in icon.data
