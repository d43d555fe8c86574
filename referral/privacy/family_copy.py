"""The family's copy of their data: the access request's record (queries.family_record) in
words a family reads, in their language, with local dates and without the technical fields
(keys, retries, codes). The JSON download keeps everything; this is what to hand over."""

from dataclasses import dataclass, field
from datetime import date, datetime

from sqlmodel import select

from referral import db
from referral.audit.labels import ACTION_LABELS, OBJECT_LABELS, describe
from referral.auth.models import ROLE_LABELS
from referral.cases.models import LANGUAGES, METHOD_LABELS, SOURCE_LABELS, URGENCY_LABELS
from referral.dates import format_date, format_datetime
from referral.directory import queries as directory
from referral.directory.models import NeedDomain
from referral.feedback.models import FORM_LABELS
from referral.i18n import gettext as _
from referral.i18n import lazy_gettext as _l
from referral.referrals.models import OUTCOME_LABELS, REASON_LABELS, STATUS_LABELS, EventKind

# The copy is written in these languages (the family languages of the feedback pages); a
# family that speaks another gets it in Dutch. Arabic reads right to left.
COPY_LANGUAGES = ("nl", "en", "ar", "pl", "tr", "uk")
RTL = {"ar"}

# The need domains in the family's language where the directory has no column for it (it
# holds Dutch and English): the seeded domains by their code; a newer one shows in English.
DOMAIN_LABELS = {"money": _l("Money and debts"), "food": _l("Food"),
                 "clothing": _l("Clothing"), "housing": _l("Housing"),
                 "sport_culture": _l("Sport and culture"), "school_costs": _l("School costs"),
                 "health_costs": _l("Health insurance and care costs"),
                 "stress_parenting": _l("Stress and parenting"),
                 "digital": _l("Digital access"), "transport": _l("Transport")}

# Columns that say nothing to a family (ids, codes kept for counting, mail retries); they
# stay in the JSON download.
TECHNICAL = {"id", "family_id", "organisation_id", "created_by", "signal_id", "service_id",
             "owner_id", "referral_id", "invite_id", "child_id", "recorded_by", "actor_id",
             "from_id", "to_id", "bridge_id", "withdrawn_by", "version", "by_inbox",
             "last_activity_at", "requested_at", "accepted_at", "closed_at", "age_band",
             "dedupe_key", "next_attempt_at", "attempts", "last_error", "body", "language",
             "municipality_code", "form", "expires_at", "used_at", "on_behalf", "from_status",
             "to_status", "kind", "outcome", "reason_code", "status", "accepted", "decided_at",
             "urgency_rank"}

QUESTIONS = {"heard": _l("felt heard"), "useful": _l("help was useful"),
             "easy": _l("easy to get"), "better": _l("things changed")}


@dataclass
class Section:
    key: str
    heading: str
    intro: str = ""
    entries: list = field(default_factory=list)  # each a list of (label, value)


def language_of(family_language, asked=None):
    """The copy's language: the one asked for, else the family's own, else Dutch."""
    for language in (asked, family_language):
        if language in COPY_LANGUAGES:
            return language
    return "nl"


def _when(value, *, moment=False):
    if not value:
        return None
    parsed = (date.fromisoformat(value) if len(value) == 10
              else datetime.fromisoformat(value))
    return format_datetime(parsed) if moment and isinstance(parsed, datetime) \
        else format_date(parsed)


def _yes(value):
    return None if value is None else _("yes") if value else _("no")


def _rest(table, row, used, described):
    """Columns a newer version stores that this copy does not know yet: shown as they are,
    under the processing register's words, so nothing is left out."""
    return [(described.get((table, name), name), value) for name, value in row.items()
            if name not in used and name not in TECHNICAL and value not in (None, "")]


def _items(pairs):
    """Leave out what is empty."""
    return [(str(label), value) for label, value in pairs if value not in (None, "", [])]


def sections(record, names, described, language):
    """The copy's sections in the current language (call it under force_locale)."""
    municipalities = dict(directory.municipalities())
    domains = {code: nl if language == "nl" else en if language == "en"
               else str(DOMAIN_LABELS.get(code, en)) for code, nl, en in db.session().exec(
                   select(NeedDomain.code, NeedDomain.label_nl, NeedDomain.label_en))}

    def name(value):
        return names.get(value, value) if value else None

    def label(labels, code):
        return str(labels.get(code, code)) if code else None

    out = []
    about = Section("family", _("About you"))
    for row in record.get("family", []):
        used = {"parent_names", "phone", "email", "address", "postcode", "created_at"}
        about.entries.append(_items([
            (_("Names"), row.get("parent_names")),
            (_("Phone"), row.get("phone")),
            (_("Email address"), row.get("email")),
            (_("Address"), row.get("address")),
            (_("Postcode"), row.get("postcode")),
            (_("Municipality"), municipalities.get(row.get("municipality_code"),
                                                   row.get("municipality_code"))),
            (_("Language"), LANGUAGES.get(row.get("language"), row.get("language"))),
            (_("Registered on"), _when(row.get("created_at"))),
            (_("Registered by"), name(row.get("created_by"))),
        ]) + _rest("family", row, used, described))
    out.append(about)

    children = Section("child", _("Your children"))
    for row in record.get("child", []):
        children.entries.append(_items([
            (_("First name"), row.get("first_name")),
            (_("Date of birth"), _when(row.get("birth_date"))),
        ]) + _rest("child", row, {"first_name", "birth_date"}, described))
    out.append(children)

    signal_domains = {}
    for row in record.get("signal_domain", []):
        signal_domains.setdefault(row["signal_id"], []).append(
            domains.get(row["domain_code"], row["domain_code"]))
    signals = Section("signal", _("What a professional noticed"),
                      _("A professional writes down what they notice, to find the right help "
                        "with you."))
    texts = {"observations": _("What was noticed"), "stress_factors": _("Worries"),
             "strengths": _("What goes well"), "parent_wishes": _("What the parents want"),
             "child_wishes": _("What the children want")}
    for row in record.get("signal", []):
        signals.entries.append(_items([
            (_("Date"), _when(row.get("created_at"))),
            (_("By"), name(row.get("created_by"))),
            (_("Need domains"), ", ".join(signal_domains.get(row.get("id"), []))),
            (_("How it came up"), label(SOURCE_LABELS, row.get("source"))),
            (_("Urgency"), label(URGENCY_LABELS, row.get("urgency"))),
        ] + [(text, row.get(column)) for column, text in texts.items()])
            + _rest("signal", row, {"created_at", "urgency", "source", *texts}, described))
    out.append(signals)

    consents = Section("consent", _("Your permission to share"),
                       _("Only with your permission may a professional share your data with "
                         "an organisation."))
    for row in record.get("consent", []):
        consents.entries.append(_items([
            (_("With"), name(row.get("organisation_id"))),
            (_("Given on"), _when(row.get("given_on"))),
            (_("Given by"), row.get("given_by")),
            (_("What may be shared"), row.get("scope")),
            (_("How"), label(METHOD_LABELS, row.get("method"))),
            (_("A parent or guardian agreed"), _yes(row.get("parent_agreed"))),
            (_("The child or young person agreed"), _yes(row.get("child_agreed"))),
            (_("Written down by"), name(row.get("recorded_by"))),
            (_("Withdrawn on"), _when(row.get("withdrawn_at"))),
        ]) + _rest("consent", row, {"given_on", "given_by", "scope", "method", "recorded_at",
                                    "parent_agreed", "child_agreed", "withdrawn_at"},
                   described))
    out.append(consents)

    history = {}
    for row in record.get("referral_event", []):
        history.setdefault(row["referral_id"], []).append(_event(row, name, label))
    referrals = Section("referral", _("Referrals"),
                        _("A referral asks an organisation to help you."))
    for row in record.get("referral", []):
        referrals.entries.append(_items([
            (_("To"), " — ".join(filter(None, (name(row.get("service_id")),
                                               name(row.get("organisation_id")))))),
            (_("Made on"), _when(row.get("created_at"))),
            (_("Status"), label(STATUS_LABELS, row.get("status"))),
            (_("Outcome"), label(OUTCOME_LABELS, row.get("outcome"))),
            (_("Reason"), label(REASON_LABELS, row.get("reason_code"))),
            (_("Follow-up date"), _when(row.get("follow_up_on"))),
            (_("Message to the organisation"), row.get("message")),
            (_("Professional responsible"), name(row.get("owner_id"))),
            (_("Bridge worker"), name(row.get("bridge_id"))),
            (_("What happened"), history.get(row.get("id"), [])),
        ]) + _rest("referral", row, {"created_at", "follow_up_on", "message"}, described))
    out.append(referrals)

    handovers = Section("handover", _("Handovers to a colleague"))
    for row in record.get("handover", []):
        answer = {True: _("accepted"), False: _("declined")}.get(row.get("accepted"),
                                                                 _("not answered yet"))
        handovers.entries.append(_items([
            (_("Proposed on"), _when(row.get("created_at"))),
            (_("From"), name(row.get("from_id"))),
            (_("To"), name(row.get("to_id"))),
            (_("Answer"), answer),
            (_("Note"), row.get("note")),
        ]) + _rest("handover", row, {"created_at", "note"}, described))
    if handovers.entries:
        out.append(handovers)

    answers = {row.get("invite_id"): row for row in record.get("feedback_response", [])}
    feedback = Section("feedback", _("Your feedback"))
    for row in record.get("feedback_invite", []):
        response = answers.get(row.get("id"), {})
        feedback.entries.append(_items([
            (_("Invited on"), _when(row.get("created_at"))),
            (_("For"), label(FORM_LABELS, row.get("form"))),
            (_("Answered on"), _when(response.get("submitted_at"))),
        ] + [(text, f"{response[score]} / 5" if response.get(score) else None)
             for score, text in QUESTIONS.items()] + [
            (_("What went well?"), response.get("went_well")),
            (_("What should we do better?"), response.get("do_better")),
            (_("For the grown-ups"), response.get("to_grown_ups")),
        ]))
    if feedback.entries:
        out.append(feedback)

    messages = Section("outbox_message", _("Messages to staff about you"),
                       _("The tool tells staff by email that something waits for them. These "
                         "messages never hold your name."))
    for row in record.get("outbox_message", []):
        messages.entries.append(_items([
            (_("Subject"), row.get("subject")),
            (_("Made on"), _when(row.get("created_at"))),
            (_("Sent on"), _when(row.get("sent_at"), moment=True) or _("not sent yet")),
        ]))
    out.append(messages)
    return out


def _event(row, name, label):
    """One line of a referral's history."""
    kind = row.get("kind")
    what = {
        EventKind.created: _("referral made"),
        EventKind.status: _("status changed from %(before)s to %(after)s",
                            before=label(STATUS_LABELS, row.get("from_status")) or "—",
                            after=label(STATUS_LABELS, row.get("to_status")) or "—"),
        EventKind.note: _("note"),
        EventKind.reminder: _("reminder to the professional"),
        EventKind.escalation: _("reminder to the coordinator"),
        EventKind.handover: _("handover to a colleague"),
        EventKind.bridge: _("bridge worker assigned"),
        EventKind.consent: _("permission changed"),
    }.get(kind, kind)
    parts = [_when(row.get("at"), moment=True), what, name(row.get("actor_id")),
             row.get("text")]
    return " — ".join(str(part) for part in parts if part)


def accesses(record, codes):
    """Who looked at the data: (when, who, what) in the current language."""
    rows = []
    for access in record.get("accesses", []):
        who = access.get("user") or _("the system")
        if access.get("role"):
            who = f"{who} ({ROLE_LABELS.get(access['role'], access['role'])})"
        what = describe(access["summary"], codes) if access.get("summary") else \
            f"{ACTION_LABELS.get(access['action'], access['action'])}: " \
            f"{OBJECT_LABELS.get(access.get('object'), access.get('object') or '—')}"
        rows.append((_when(access.get("at"), moment=True), who, what))
    return rows
