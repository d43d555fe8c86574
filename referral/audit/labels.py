"""The access log in the reader's language: labels for its actions, parts and outcomes, and a
translated description of each stored summary. The summary itself is stored untranslated
(it is part of the hash chain); only the page translates it."""

import re

from referral.audit.models import AuditOutcome
from referral.i18n import lazy_gettext as _l

ACTION_LABELS = {"read": _l("read"), "create": _l("create"), "update": _l("change"),
                 "delete": _l("delete"), "search": _l("search"), "export": _l("export"),
                 "print": _l("print"), "login": _l("log in"), "logout": _l("log out")}

# The parts of the tool an entry is about (its object_type).
OBJECT_LABELS = {
    "audit_log": _l("access log"),
    "child": _l("child"),
    "backup": _l("backup"),
    "consent": _l("consent"),
    "demo": _l("demo data"),
    "directory": _l("directory"),
    "erasure_receipt": _l("erasure receipt"),
    "family": _l("family"),
    "feedback_invite": _l("feedback invitation"),
    "handover": _l("handover"),
    "keys": _l("encryption keys"),
    "monitor": _l("monitor"),
    "note": _l("note"),
    "organisation": _l("organisation"),
    "pledge": _l("pledge"),
    "referral": _l("referral"),
    "service": _l("service"),
    "signal": _l("signal"),
    "taxonomy_term": _l("directory category"),
    "user": _l("account"),
}

# The fields named in "family data corrected: …" (referral/cases/operations.py).
CORRECTED_LABELS = {"parent names": _l("parent names"), "phone": _l("phone number"),
                    "email": _l("email address"), "address": _l("address"),
                    "postcode": _l("postcode"), "municipality": _l("municipality"),
                    "language": _l("language"), "child": _l("children")}

OUTCOME_LABELS = {AuditOutcome.success: _l("allowed"), AuditOutcome.denied: _l("denied"),
                  AuditOutcome.failure: _l("failed")}

# Every summary the code writes, as a pattern, and its description; a named part that is a
# code (a status, a rule, a role …) is shown by its label (see `describe`).
_N = r"(?P<n>\d+)"
SUMMARIES = [(re.compile(pattern + r"\Z"), label) for pattern, label in [
    # referrals
    (r"referral created", _l("referral made")),
    (r"referral (?P<source>[\w-]+) -> (?P<target>[\w-]+)",
     _l("referral changed from %(source)s to %(target)s")),
    (r"note on a referral", _l("note added to a referral")),
    (r"handover proposed", _l("handover to a colleague proposed")),
    (r"handover accepted", _l("handover accepted")),
    (r"handover declined", _l("handover declined")),
    (r"bridge worker assigned", _l("bridge worker assigned")),
    (r"bridge worker asked", _l("bridge worker asked to accompany the family")),
    (r"bridge request accepted", _l("bridge worker said yes")),
    (r"bridge request declined", _l("bridge worker said no")),
    (r"follow-up date (?P<before>[\d-]+) -> (?P<after>[\d-]+)",
     _l("follow-up date moved from %(before)s to %(after)s")),
    (r"draft changed: (?P<changes>.+)", _l("draft changed: %(changes)s")),
    (r"reminders: (?P<owners>\d+) owners, (?P<coordinators>\d+) coordinators",
     _l("reminders: %(owners)s to professionals, %(coordinators)s to coordinators")),
    (r"referral read", _l("referral viewed")),
    (r"referral letter printed", _l("referral letter printed")),
    # families, signals, consent
    (r"family page read", _l("family page viewed")),
    (r"family created with " + _N + r" children", _l("family registered with %(n)s children")),
    (r"family data corrected: nothing changed", _l("family data checked: nothing changed")),
    (r"family data corrected: (?P<fields>.+)", _l("family data corrected: %(fields)s")),
    (r"signal logged \(" + _N + r" need domains\)",
     _l("signal logged (%(n)s need domains)")),
    (r"consent recorded \((?P<method>\w+)\)", _l("consent recorded (%(method)s)")),
    (r"consent withdrawn", _l("consent withdrawn")),
    (r"child added", _l("child added")),
    (r"child data corrected", _l("child's data corrected")),
    (r"child removed", _l("child removed")),
    # accounts and logins
    (r"account created with role (?P<role>\w+)", _l("account made with the role %(role)s")),
    (r"account deactivated", _l("account deactivated")),
    (r"account reactivated", _l("account reactivated")),
    (r"account invited with role (?P<role>\w+)",
     _l("account made with the role %(role)s, invitation sent")),
    (r"invitation sent again", _l("invitation sent again")),
    (r"account changed: (?P<changes>.+)", _l("account changed: %(changes)s")),
    (r"training recorded \((?P<kind>[\w-]+), (?P<when>[\d-]+)\)",
     _l("training recorded (%(kind)s, %(when)s)")),
    (r"password reset started", _l("new password started for the account")),
    (r"password chosen after invitation", _l("password chosen with the invitation link")),
    (r"password reset by link", _l("new password chosen with a link")),
    (r"password reset asked by mail", _l("new password asked for by mail")),
    (r"password reset asked for an unknown or deactivated account",
     _l("new password asked for an unknown or deactivated account")),
    (r"password reset throttled", _l("new password requests paused after too many")),
    (r"login throttled", _l("login paused after too many attempts")),
    (r"password accepted", _l("password accepted")),
    (r"wrong password or unknown account", _l("wrong password or unknown account")),
    (r"two-factor code throttled", _l("two-factor login paused after too many attempts")),
    (r"two-factor code refused", _l("two-factor code refused")),
    (r"two-factor code accepted", _l("two-factor code accepted")),
    (r"two-factor enrolled", _l("two-factor login set up")),
    (r"logged out", _l("logged out")),
    (r"password changed", _l("password changed")),
    # access
    (r"denied: (?P<rule>[\w.]+) needs two-factor",
     _l("refused: %(rule)s needs a two-factor login")),
    (r"denied: (?P<rule>[\w.]+)", _l("refused: %(rule)s")),
    # feedback, monitor, directory
    (r"feedback invitation \((?P<form>\w+)\)", _l("feedback invitation (%(form)s)")),
    (r"feedback invitation replaced by a new link", _l("feedback invitation replaced by a new "
                                                        "link")),
    (r"feedback link opened in another browser", _l("feedback link opened in another browser "
                                                     "than the first")),
    (r"monitor (?P<year>\d{4})", _l("monitor %(year)s viewed")),
    (r"monitor export (?P<year>\d{4})", _l("monitor %(year)s exported")),
    (r"monitor export (?P<year>\d{4}) \(CLI\)",
     _l("monitor %(year)s exported on the command line")),
    (r"pledge saved \(" + _N + r" activities\)", _l("pledge saved (%(n)s activities)")),
    (r"pledge report (?P<year>\d{4})", _l("pledge report on %(year)s")),
    (r"pledge reminders (?P<year>\d{4}): " + _N + r" organisations",
     _l("reminders to report on the pledge of %(year)s: %(n)s organisations")),
    (r"directory search, " + _N + r" results", _l("directory searched: %(n)s results")),
    (r"HSDS export", _l("directory exported (HSDS)")),
    (r"HSDS import: (?P<created>\d+) created, (?P<updated>\d+) updated",
     _l("directory imported (HSDS): %(created)s new, %(updated)s changed")),
    (r"organisation created", _l("organisation added")),
    (r"organisation changed", _l("organisation changed")),
    (r"organisation merged into (?P<into>[\w-]+)",
     _l("organisation merged into %(into)s")),
    (r"service created", _l("service added")),
    (r"service changed", _l("service changed")),
    (r"service confirmed still correct", _l("service confirmed as still correct")),
    (r"taxonomy term mapped to need domain (?P<domain>\w+)",
     _l("directory category linked to need domain %(domain)s")),
    # privacy
    (r"privacy: family looked up \(" + _N + r" found\)",
     _l("family looked up for a request (%(n)s found)")),
    (r"privacy: family looked up by (?P<how>\w+) \(" + _N + r" found\)",
     _l("family looked up for a request by %(how)s (%(n)s found)")),
    (r"access request: everything stored, decrypted",
     _l("access request: everything stored shown")),
    (r"family erased \((?P<reason>\w+)\)", _l("family erased (%(reason)s)")),
    (r"signal without a referral erased \(retention\)",
     _l("signal without a referral erased (retention period passed)")),
    (r"access log read \(" + _N + r" entries\)", _l("access log read (%(n)s entries)")),
    (r"entries up to (?P<seq>\d+) removed after retention; last hash (?P<hash>\S+)",
     _l("entries up to %(seq)s removed after the retention period; last hash %(hash)s")),
    # operations
    (r"backup of the (?P<kind>\w+) database", _l("backup of the %(kind)s database")),
    (r"database restored from the backup of (?P<when>.+)",
     _l("database restored from the backup of %(when)s")),
    (r"keys exported, under a passphrase", _l("keys exported, encrypted with a passphrase")),
    (r"key rotation to (?P<key>\S+) resumed", _l("key rotation to %(key)s resumed")),
    (r"key (?P<key>\S+) added", _l("key %(key)s added")),
    (r"every value re-encrypted with key (?P<key>\S+)",
     _l("every value encrypted again with key %(key)s")),
    (r"key (?P<key>\S+) retired", _l("key %(key)s retired")),
    (r"log key added", _l("log key added: the access log is sealed with it from here on")),
    (r"scaled demo data generated .*", _l("demo data generated at scale")),
]]


def describe(summary, codes=None):
    """The stored summary in the reader's language; a code in it (a status, a rule …) by its
    label from `codes`. A summary no pattern knows is shown as it was stored."""
    codes = CORRECTED_LABELS | (codes or {})

    def word(value):
        if ", " in value:  # a list of codes, such as the fields that were corrected
            return ", ".join(word(part) for part in value.split(", "))
        return str(codes.get(value, value))

    for pattern, label in SUMMARIES:
        match = pattern.match(summary or "")
        if match:
            return str(label) % {name: word(value) for name, value in match.groupdict().items()}
    return summary
