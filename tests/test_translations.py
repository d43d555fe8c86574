"""Every visible string goes through Babel, and Dutch has a translation for each."""

from pathlib import Path

from babel.messages.frontend import CommandLineInterface
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent


def _ids(path):
    with open(path, "rb") as fh:
        return {m.id if isinstance(m.id, str) else m.id[0]: m for m in read_po(fh) if m.id}


def test_dutch_catalog_has_every_string_of_the_code(tmp_path):
    pot = tmp_path / "messages.pot"
    CommandLineInterface().run(["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"),
                                "-k", "_l", "-o", str(pot), str(ROOT)])
    in_code = set(_ids(pot))
    assert {"Log in", "Find help in the directory", "There is a problem"} <= in_code
    dutch = _ids(ROOT / "translations/nl/LC_MESSAGES/messages.po")
    assert in_code - set(dutch) == set(), "run 'make messages' and translate the new strings"
    untranslated = [msgid for msgid, m in dutch.items()
                    if msgid in in_code and not (m.string if isinstance(m.string, str)
                                                 else all(m.string))]
    assert untranslated == []


# The public feedback pages speak the family's language: every string on them is translated.
PUBLIC_FEEDBACK = ["templates/feedback/" + name for name in (
    "public.html", "start.html", "form.html", "thanks.html", "closed.html", "card.html",
    "message.txt")] + ["referral/feedback/forms.py", "templates/_forms.html"]


def test_feedback_pages_are_translated_in_every_family_language(tmp_path):
    from referral.feedback import LANGUAGES

    pot = tmp_path / "messages.pot"
    CommandLineInterface().run(["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"),
                                "-k", "_l", "-o", str(pot), str(ROOT)])
    with open(pot, "rb") as fh:
        public = {m.id for m in read_po(fh) if m.id and any(
            path.endswith(page) for path, _line in m.locations for page in PUBLIC_FEEDBACK)}
    owner_only = {"Who is invited?", "Choose at least one person.", "Language of the invitation"}
    assert len(public) > 40
    for language in set(LANGUAGES) - {"en"}:
        catalog = _ids(ROOT / f"translations/{language}/LC_MESSAGES/messages.po")
        missing = [msgid for msgid in public - owner_only
                   if not (catalog.get(msgid) and catalog[msgid].string)]
        assert missing == [], language


# The family's copy of their data (privacy officer, access request) is written in the family's
# language too: its template, its code and the labels it shows.
FAMILY_COPY = ["templates/privacy/copy.html", "referral/privacy/family_copy.py"]


def _copy_labels():
    from referral.audit.labels import ACTION_LABELS, CORRECTED_LABELS, OBJECT_LABELS, SUMMARIES
    from referral.auth.models import ROLE_LABELS
    from referral.cases.models import METHOD_LABELS, SOURCE_LABELS, URGENCY_LABELS
    from referral.feedback.models import FORM_LABELS
    from referral.policy import RULE_LABELS
    from referral.privacy.models import ERASURE_REASON_LABELS
    from referral.referrals.models import OUTCOME_LABELS, REASON_LABELS, STATUS_LABELS

    # The labels the copy shows, and the codes its access log lines name (privacy.queries
    # .log_codes): a refusal names its rule, an erasure its reason.
    labels = [label for table in (STATUS_LABELS, OUTCOME_LABELS, REASON_LABELS, METHOD_LABELS,
                                  SOURCE_LABELS, URGENCY_LABELS, FORM_LABELS, ROLE_LABELS,
                                  ACTION_LABELS, OBJECT_LABELS, CORRECTED_LABELS, RULE_LABELS,
                                  ERASURE_REASON_LABELS)
              for label in table.values()] + [label for _pattern, label in SUMMARIES]
    return {label._args[0] for label in labels}


def test_the_familys_copy_is_translated_in_every_family_language(tmp_path):
    from referral.privacy.family_copy import COPY_LANGUAGES

    pot = tmp_path / "messages.pot"
    CommandLineInterface().run(["pybabel", "-q", "extract", "-F", str(ROOT / "babel.cfg"),
                                "-k", "_l", "-o", str(pot), str(ROOT)])
    with open(pot, "rb") as fh:
        copy = {m.id for m in read_po(fh) if m.id and any(
            path.endswith(page) for path, _line in m.locations for page in FAMILY_COPY)}
    assert {"What we store about you", "Who looked at your data", "Food"} <= copy
    copy |= _copy_labels()
    assert {"requested", "spoken", "referral made", "privacy officer"} <= copy
    assert {"ar", "pl", "tr", "uk"} <= set(COPY_LANGUAGES)
    for language in set(COPY_LANGUAGES) - {"en"}:
        catalog = _ids(ROOT / f"translations/{language}/LC_MESSAGES/messages.po")
        missing = sorted(msgid for msgid in copy
                         if not (catalog.get(msgid) and catalog[msgid].string))
        assert missing == [], language
