"""Details every page shares: dates as people in Europe write them, and a favicon."""

import re
from datetime import UTC, date, datetime

import pytest
from flask_babel import force_locale

from referral.dates import format_date, format_datetime
from tests.conftest import post_form

MOMENT = datetime(2026, 12, 2, 13, 5, 40, 123456, tzinfo=UTC)


@pytest.mark.parametrize(("language", "moment", "day"), [
    ("nl", "2 dec 2026, 13:05", "2 dec 2026"),
    ("en", "2 Dec 2026, 13:05", "2 Dec 2026"),
])
def test_dates_read_the_european_way(app, language, moment, day):
    with app.test_request_context(), force_locale(language):
        assert format_datetime(MOMENT) == moment
        assert format_date(MOMENT) == day
        assert format_date(date(2026, 12, 2)) == day


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
    assert not re.search(r"\d+/\d+/\d+|[AP]M\b", dashboard)  # no American dates
    assert re.search(made, client.get("/monitor/report").text)


def test_every_page_links_a_favicon_that_exists(client, world, login):
    for page in (client.get("/login"), client.get("/f/not-a-link")):
        link = re.search(r'<link rel="icon" href="([^"]+)" type="image/svg\+xml">', page.text)
        assert link, page.text[:500]
        with client.get(link.group(1)) as icon:
            assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
            assert b"<svg" in icon.data and b"<title>" in icon.data
