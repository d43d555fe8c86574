"""The access log in the reader's language: every part, action, outcome and description in
words, not codes ("denied: referral.view"); the stored summary stays as it was written."""

import re
from pathlib import Path

from flask_babel import force_locale

from referral import policy
from referral.audit.labels import OBJECT_LABELS, SUMMARIES, describe
from tests.conftest import audit_entries, post_form

ROOT = Path(__file__).resolve().parents[2]


def _cells(html, column):
    """The text of one column of the log's table, per row."""
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return [re.sub(r"<[^>]+>", "", cells[column]).strip()
            for cells in (re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
                          for row in re.findall(r"<tr>(.*?)</tr>", body, re.S))
            if len(cells) > column]


def test_the_log_reads_in_dutch_and_in_english(client, world, officer, login, app):
    stranger = app.test_client()
    post_form(stranger, "/login", {"email": world.stranger.email,
                                   "password": world.stranger.password})
    assert stranger.get(f"/referrals/{world.inbox_referral}").status_code == 404
    page = client.get("/privacy/log").text
    parts, descriptions = _cells(page, 3), _cells(page, 6)
    assert "verwijzing" in parts and "gezin" in parts
    assert not set(parts) & set(OBJECT_LABELS) - {"monitor"}  # no codes such as audit_log
    assert "geweigerd: een verwijzing bekijken" in descriptions
    assert "verwijzing gemaakt" in descriptions and "gezin geregistreerd met 1 kinderen" in descriptions
    assert not any(re.search(r"denied|\w+\.\w+|->", text) for text in descriptions), descriptions
    post_form(client, "/language", {"language": "en", "next": "/"}, page="/")
    english = client.get("/privacy/log").text
    assert "refused: look at a referral" in _cells(english, 6)
    assert "referral" in _cells(english, 3)
    # What is stored is what was written.
    assert audit_entries(app, outcome="denied", user_id=world.stranger.id)[-1].summary == \
        "denied: referral.view"


def test_every_part_and_rule_has_its_words():
    used = set(re.findall(r'object_type="(\w+)"', "".join(
        path.read_text() for path in (ROOT / "referral").rglob("*.py"))))
    assert used - set(OBJECT_LABELS) == set(), "give these parts a label in audit/labels.py"
    assert set(policy.RULES) - set(policy.RULE_LABELS) == set()


def test_every_summary_the_code_writes_has_a_description(app):
    literal = set()
    for path in (ROOT / "referral").rglob("*.py"):
        text = path.read_text()
        literal |= set(re.findall(r'summary="([^"{}]+)"', text))
        literal |= set(re.findall(r'summary="([^"{}]+)" if', text))
        literal |= set(re.findall(r'else "([^"{}]+)"\)', text)) & {
            "handover declined", "organisation changed", "service changed"}
    literal = {text for text in literal if not text.endswith(": ")}  # the start of a join
    written = literal | {
        "referral requested -> accepted", "reminders: 2 owners, 1 coordinators",
        "family created with 2 children", "family data corrected: parent names, phone",
        "family data corrected: nothing changed", "signal logged (3 need domains)",
        "consent recorded (spoken)", "account created with role partner",
        "backup of the sqlite database", "database restored from the backup of 2026-12-01",
        "denied: referral.view", "denied: audit.read needs two-factor",
        "feedback invitation (child_8_11)", "monitor 2026", "monitor export 2026",
        "monitor export 2026 (CLI)", "pledge saved (3 activities)", "pledge report 2026",
        "pledge reminders 2026: 4 organisations", "directory search, 12 results",
        "HSDS import: 3 created, 1 updated", "organisation merged into 1234",
        "taxonomy term mapped to need domain food", "privacy: family looked up (1 found)",
        "family erased (request)", "privacy: family looked up by name (2 found)",
        "account invited with role partner", "training recorded (course, 2026-11-02)",
        "account changed: role partner -> professional, organisation 12 -> -",
        "follow-up date 2026-12-01 -> 2026-12-15", "draft changed: service, message", "access log read (50 entries)",
        "entries up to 12 removed after retention; last hash abc123",
        "key rotation to k2 resumed", "key k2 added",
        "every value re-encrypted with key k2", "key k1 retired",
        "scaled demo data generated (factor 1): 5 families, 3 referrals, 2 services, 1 accounts"}
    assert len(literal) > 20
    unknown = [summary for summary in written
               if not any(pattern.match(summary) for pattern, _label in SUMMARIES)]
    assert unknown == [], "describe these summaries in audit/labels.py"
    with app.test_request_context(), force_locale("nl"):
        assert describe("referral requested -> accepted", {"requested": "aangevraagd",
                                                            "accepted": "aangenomen"}) == \
            "verwijzing veranderd van aangevraagd naar aangenomen"
        assert describe("family data corrected: parent names, phone") == \
            "gezinsgegevens verbeterd: namen van de ouders, telefoonnummer"
        assert describe("something new") == "something new"  # as stored, rather than nothing
