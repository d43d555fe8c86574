"""The family's copy of their data (an access request): readable by the family, in their
language, with local dates and plain words, printable; the JSON beside it stays complete.
The erasure confirmation names the family on the page, never in the address or the log."""

import json
import re

import pytest

from referral import db
from referral.cases.models import Family
from tests.conftest import audit_entries, post_form

TECHNICAL = ("attempts", "next_attempt_at", "dedupe_key", "last_error", "submission_key",
             "organisation_id", "created_by", "by_inbox", "version", "age_band")


def _copy(html):
    """The family's copy on the officer's page: (its language, its visible text)."""
    match = re.search(r'<article class="family-copy" lang="(\w+)"[^>]*>(.*?)</article>', html,
                      re.S)
    assert match, html[:2000]
    return match.group(1), re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", match.group(2)))


def _speaks(app, world, language):
    with app.app_context():
        db.session().get(Family, world.family_id).language = language
        db.commit()


def test_the_copy_reads_like_a_letter_in_dutch(client, world, officer):
    page = client.get(f"/privacy/families/{world.family_id}").text
    language, text = _copy(page)
    assert language == "nl"
    for words in ("Wat wij over u bewaren", "Zeynep Yilmaz", "06-12345678", "Elif",
                  "1 mrt 2017", "Elif heeft vaak honger op school.", "naam en telefoon",
                  "Voedselbank", "Voedselpakket", "aangevraagd", "Voeding", "een gesprek",
                  "Wie uw gegevens bekeek", "verwijzing gemaakt", "Nederlands"):
        assert words in text, words
    assert not re.search(r"\d{4}-\d{2}-\d{2}|T\d{2}:\d{2}|:\d{2}\.\d{6}", text)  # no ISO dates
    for word in TECHNICAL:
        assert word not in text, word
    assert not re.search(r"\b(nl|GM0363|food|requested|spoken)\b", text)  # no codes
    assert f'href="/privacy/families/{world.family_id}.json"' in page
    assert "Print" in page or "print" in page


@pytest.mark.parametrize(("language", "expected", "words"), [
    ("en", "en", ("What we store about you", "1 Mar 2017", "requested", "Food")),
    ("tr", "tr", ("Sizin hakkınızda sakladıklarımız", "1 Mar 2017", "talep edildi", "Gıda",
                  "bir görüşme", "Verilerinize kimler baktı", "yönlendirme yapıldı")),
    ("pl", "pl", ("Co o Państwu przechowujemy", "1 mar 2017", "wysłane", "Jedzenie")),
    ("uk", "uk", ("Що ми зберігаємо про Вас", "1 бер. 2017 р.", "надіслано", "Харчування")),
    ("ar", "ar", ("ما نحفظه عنكم", "01\u200f/03\u200f/2017", "مطلوبة", "الطعام")),
])
def test_the_copy_is_in_the_familys_language(client, world, officer, app, language, expected,
                                             words):
    _speaks(app, world, language)
    got, text = _copy(client.get(f"/privacy/families/{world.family_id}").text)
    assert got == expected
    for word in words:
        assert word in text, word
    assert not re.search(r"\b(requested|Food|referral made)\b", text) or expected == "en"


def test_arabic_copy_reads_right_to_left(client, world, officer, app):
    _speaks(app, world, "ar")
    page = client.get(f"/privacy/families/{world.family_id}").text
    assert re.search(r'<article class="family-copy" lang="ar" dir="rtl"', page)
    assert "Wat wij over u bewaren" not in page
    _speaks(app, world, "tr")
    page = client.get(f"/privacy/families/{world.family_id}").text
    assert re.search(r'<article class="family-copy" lang="tr" dir="ltr"', page)


def test_the_officer_may_choose_the_copys_language(client, world, officer):
    got, text = _copy(client.get(f"/privacy/families/{world.family_id}?language=en").text)
    assert got == "en" and "Who looked at your data" in text
    got, _text = _copy(client.get(f"/privacy/families/{world.family_id}?language=xx").text)
    assert got == "nl"


def test_the_json_beside_it_stays_complete(client, world, officer):
    record = json.loads(client.get(f"/privacy/families/{world.family_id}.json").text)
    message = record["outbox_message"][0]
    assert {"attempts", "next_attempt_at", "sent_at", "subject"} <= set(message)
    assert record["family"][0]["language"] == "nl"
    assert record["referral"][0]["status"] == "requested"


def test_the_erasure_confirmation_names_the_family(client, world, officer, app):
    path = f"/privacy/families/{world.family_id}/erase"
    page = client.get(path)
    assert "Zeynep Yilmaz" in page.text
    refused = post_form(client, path, {})
    assert refused.status_code == 400 and "Zeynep Yilmaz" in refused.text
    done = post_form(client, path, {"confirm": "y"})
    assert "Zeynep" not in done.headers["Location"]
    assert not any("Zeynep" in entry.summary for entry in audit_entries(app))
