"""The processing register: every table and column, what it holds, whether it is about a
person, whether it is encrypted, and why it is kept. A test fails when a model column is
missing here, so the register cannot fall behind the code."""

from dataclasses import dataclass

from sqlmodel import SQLModel

from referral.i18n import lazy_gettext as _l

ENCRYPTED, PERSONAL, PSEUDONYM, NOT_PERSONAL = "encrypted", "personal", "pseudonym", "none"
KIND_LABELS = {
    ENCRYPTED: _l("about a person, encrypted"),
    PERSONAL: _l("about a person, plain"),
    PSEUDONYM: _l("a random number or keyed hash: names nobody on its own"),
    NOT_PERSONAL: _l("not about a person"),
}


@dataclass(frozen=True)
class Table:
    purpose: object
    about_people: bool
    columns: dict  # column: what it holds, or (what it holds, why it is plain)


# Columns with the same name mean the same thing in every table.
COMMON = {
    "id": _l("Random identifier of the row"),
    "created_at": _l("When it was created"),
    "created_by": _l("Who created it (staff account)"),
    "family_id": _l("Which family"),
    "organisation_id": _l("Which organisation"),
    "service_id": _l("Which service"),
    "referral_id": _l("Which referral"),
    "signal_id": _l("Which signal"),
    "child_id": _l("Which child"),
    "domain_code": _l("Which need domain"),
    "position": _l("Order on the page"),
    "last_modified": _l("When it was last changed"),
    "language": _l("Preferred language"),
    "at": _l("When it happened"),
    "address": (_l("Network address the request came from"),
                _l("needed to trace misuse; removed with the entry")),
}
COUNTED = _l("counted by the monitor in the database, without decrypting anything")
DIRECTORY = _l("The directory of services, public within the alliance (Open Referral HSDS).")

REGISTER = {
    "family": Table(_l("The family a professional works with."), True, {
        "created_by": _l("The professional who registered the family"),
        "municipality_code": (_l("Municipality (CBS code)"), COUNTED),
        "language": (_l("Language the family prefers"), _l("needed to invite feedback in "
                                                            "the right language")),
        "parent_names_enc": _l("Names of the parents or guardians"),
        "phone_enc": _l("Phone number"),
        "email_enc": _l("Email address"),
        "address_enc": _l("Street and house number"),
        "postcode_enc": _l("Postcode"),
        "address_index": _l("Keyed hash of postcode and house number, to warn of a family "
                            "registered twice"),
    }),
    "child": Table(_l("The children of a family."), True, {
        "first_name_enc": _l("First name"),
        "birth_date_enc": _l("Date of birth"),
        "age_band": (_l("Age band (0-3, 4-11, 12-15, 16-17, 18+)"), COUNTED),
        "name_index": _l("Keyed hash of first name and date of birth, to warn of doubles"),
    }),
    "signal": Table(_l("What a professional noticed about a family."), True, {
        "created_by": _l("The professional who logged the signal"),
        "urgency": (_l("How urgent"), COUNTED),
        "source": (_l("How it came up (conversation, observation, the family asked)"),
                   COUNTED),
        "observations_enc": _l("What was noticed"),
        "stress_factors_enc": _l("Stress factors"),
        "strengths_enc": _l("What goes well"),
        "parent_wishes_enc": _l("What the parents wish"),
        "child_wishes_enc": _l("What the child wishes"),
    }),
    "signal_domain": Table(_l("The need domains of a signal."), True, {}),
    "consent": Table(_l("Who agreed to share what with which organisation."), True, {
        "recorded_by": _l("Who recorded the consent"),
        "recorded_at": _l("When it was recorded"),
        "given_on": _l("The day it was given"),
        "method": _l("Spoken, written or digital"),
        "parent_agreed": _l("A parent agreed"),
        "child_agreed": _l("The child agreed"),
        "given_by_enc": _l("The names of who agreed"),
        "scope_enc": _l("What may be shared"),
        "withdrawn_at": _l("When it was withdrawn"),
        "withdrawn_by": _l("Who recorded the withdrawal"),
    }),
    "referral": Table(_l("A family referred to a service; the owner stays accountable."), True, {
        "owner_id": _l("The professional accountable for the referral"),
        "status": (_l("Status in the referral lifecycle"), COUNTED),
        "by_inbox": _l("Whether the partner answers in the tool or by letter"),
        "follow_up_on": _l("The day the owner checks how it goes"),
        "last_activity_at": _l("Last change, note or handover"),
        "requested_at": (_l("When it was sent"), COUNTED),
        "accepted_at": (_l("When the partner accepted"), COUNTED),
        "closed_at": (_l("When it was closed"), COUNTED),
        "outcome": (_l("Outcome (need met, partly, not)"), COUNTED),
        "reason_code": (_l("Kind of reason for a rejection or failure"), COUNTED),
        "bridge_id": _l("The bridge worker accompanying the family"),
        "bridge_accepted_at": _l("When the bridge worker agreed to accompany the family"),
        "version": _l("Number of changes, so a stale form is noticed"),
        "urgency_rank": _l("How urgent its signal was, for the order of the partner's inbox"),
        "submission_key": _l("Random key of the form, so a double submit counts once"),
        "message_enc": _l("The message for the partner"),
    }),
    "referral_event": Table(_l("Every step, note and reminder of a referral."), True, {
        "actor_id": _l("Who took the step"),
        "kind": _l("Kind of step"),
        "from_status": _l("Status before"),
        "to_status": _l("Status after"),
        "outcome": _l("Outcome given at closing"),
        "on_behalf": _l("Recorded by the owner for a partner outside the tool"),
        "text_enc": _l("The reason or note in words"),
        "follow_up_on": _l("The new follow-up date, when the owner moved it"),
        "from_service_id": _l("The service a draft was meant for before it was changed"),
    }),
    "handover": Table(_l("A referral handed to a colleague."), True, {
        "from_id": _l("The professional handing over"),
        "to_id": _l("The colleague taking over"),
        "decided_at": _l("When the colleague decided"),
        "accepted": _l("Whether the colleague accepted"),
        "note_enc": _l("Note for the colleague"),
    }),
    "referral_seen": Table(_l("When a user last opened a referral, so their home page shows "
                              "what changed since."), True, {
        "user_id": _l("Who opened it (staff account)"),
        "seen_at": _l("When they last opened it"),
    }),
    "feedback_invite": Table(_l("An invitation to a family to give feedback."), True, {
        "token_hash": _l("Hash of the link's secret; the link itself is not kept"),
        "created_by": _l("The professional who invited"),
        "expires_at": _l("When the link stops working"),
        "used_at": _l("When the link was used"),
        "opened_at": _l("When the link was first opened"),
        "holder_hash": _l("Hash of the secret of the browser that opened the link first, "
                          "the only one it works in"),
        "replaced_at": _l("When a new link replaced this one"),
        "form": _l("Parent or child form"),
    }),
    "feedback_response": Table(_l("What a family or child answered."), True, {
        "invite_id": _l("Which invitation"),
        "municipality_code": (_l("Municipality of the family"), COUNTED),
        "submitted_at": _l("When it was answered"),
        "form": (_l("Parent or child form"), COUNTED),
        "heard": (_l("Score: felt heard (1 to 5)"), COUNTED),
        "useful": (_l("Score: the help was useful (1 to 5)"), COUNTED),
        "easy": (_l("Score: the help was easy to get (1 to 5)"), COUNTED),
        "better": (_l("Score: things changed (1 to 5)"), COUNTED),
        "went_well_enc": _l("What went well, in words"),
        "do_better_enc": _l("What could be better, in words"),
        "to_grown_ups_enc": _l("What the child wants grown-ups to know"),
    }),
    "feedback_attempt": Table(_l("Feedback links that did not work, to stop guessing."), True, {
    }),
    "outbox_message": Table(_l("Email waiting to be sent (it names no family)."), True, {
        "recipient_enc": _l("Email address of the staff member"),
        "family_id": _l("The family the message is about, so erasure removes it"),
        "subject": _l("Subject, without personal data"),
        "body": _l("Text, without personal data: a link to the page"),
        "dedupe_key": _l("Key so a reminder is sent once a day"),
        "next_attempt_at": _l("When sending is tried again"),
        "attempts": _l("How often sending was tried"),
        "last_error": _l("Why sending failed last"),
        "sent_at": _l("When it was sent"),
    }),
    "user_account": Table(_l("The staff who use the tool."), True, {
        "email_enc": _l("Email address"),
        "email_index": _l("Keyed hash of the email address, to log in"),
        "name_enc": _l("Name"),
        "role": _l("Role"),
        "trained_on": _l("When the training was followed"),
        "training_kind": _l("Which kind of training it was"),
        "active": _l("Whether the account may log in"),
        "password_hash": _l("Password hash (argon2); the password is not kept"),
        "password_changed_at": _l("When the password was changed"),
        "session_version": _l("Raised to end every session at once"),
        "totp_secret_enc": _l("Key for two-factor codes"),
        "totp_last_step": _l("Last code used, so it cannot be used again"),
    }),
    "login_attempt": Table(_l("Login attempts, to stop password guessing."), True, {
        "email_index": _l("Keyed hash of the email address tried"),
        "succeeded": _l("Whether it succeeded"),
        "kind": _l("A login, or a request for a forgotten password"),
    }),
    "account_link": Table(_l("Links to choose a password, mailed to staff: invitations and "
                             "resets. Only a hash of each link is kept."), True, {
        "token_hash": _l("Hash of the link, so a stolen table gives no working link"),
        "user_id": _l("Which staff account"),
        "purpose": _l("An invitation or a password reset"),
        "expires_at": _l("Until when the link works"),
        "used_at": _l("When the link was used (it works once)"),
    }),
    "audit_event": Table(_l("The access log (NEN 7513): who did what with which data."), True, {
        "seq": _l("Number in the chain"),
        "user_id": _l("Who"),
        "role": _l("In which role"),
        "on_behalf_of": _l("On behalf of whom"),
        "action": _l("What (read, create, update, delete, export…)"),
        "object_type": _l("Kind of record"),
        "object_id": _l("Which record"),
        "outcome": _l("Allowed or denied"),
        "summary": _l("Short description, without personal data"),
        "request_id": _l("Which request, to find it in the server log"),
        "prev_hash": _l("Hash of the entry before"),
        "hash": _l("Hash of this entry"),
    }),
    "audit_head": Table(_l("The newest entry of the access log."), False, {
        "seq": _l("Number of the newest entry"),
        "hash": _l("Hash of the newest entry"),
    }),
    "monitor_cache": Table(_l("The monitor's figures as last counted, for a few minutes."),
                           False, {
        "key": _l("Year, municipality, organisation and language of the figures"),
        "computed_at": _l("When they were counted"),
        "tables": _l("The counts as the monitor shows them, small numbers hidden"),
    }),
    "audit_checkpoint": Table(_l("Where old access log entries were removed after five "
                                 "years."), False, {
        "seq": _l("The last entry removed"),
        "hash": _l("Its hash, so the chain can still be checked"),
        "removed": _l("How many entries were removed"),
    }),
    "family_key": Table(_l("Each family's own key, with which all its encrypted data is "
                           "sealed; an erasure deletes it first."), True, {
        "wrapped": _l("The key, encrypted with a wrapping key kept outside the database"),
    }),
    "erasure_receipt": Table(_l("Proof that a family's data was erased."), True, {
        "erased_at": _l("When"),
        "erased_by": _l("Who (none: the daily retention)"),
        "family_ref": _l("The erased family's random identifier, used in the access log"),
        "reason": _l("At the family's request or by retention"),
        "counts": _l("How many rows were removed per table"),
    }),
    "organisation": Table(DIRECTORY, False, {
        "name": _l("Name"), "alternate_name": _l("Other name"),
        "description": _l("Description"), "email": _l("General email address"),
        "website": _l("Website"), "phone": _l("General phone number"),
        "active": _l("Whether it takes part"),
    }),
    "service": Table(DIRECTORY, False, {
        "name": _l("Name"), "alternate_name": _l("Other name"),
        "description": _l("Description"), "url": _l("Website"),
        "email": _l("General email address"), "phone": _l("General phone number"),
        "status": _l("Active or not"), "application_process": _l("How to apply"),
        "fees_description": _l("Costs"), "eligibility_description": _l("Who it is for"),
        "minimum_age": _l("Minimum age"), "maximum_age": _l("Maximum age"),
        "assured_date": _l("When the partner last confirmed it"),
        "income_limit_percent": _l("Income limit (percentage of the social minimum)"),
        "referral_route": _l("How to refer (inbox, letter, phone)"),
        "professional_applies": _l("Whether the professional applies"),
        "capacity": _l("Places free"), "waiting_weeks": _l("Waiting time in weeks"),
        "search_name": _l("Name folded for searching"),
        "search_text": _l("Text folded for searching"),
    }),
    "service_area": Table(DIRECTORY, False, {
        "municipality_code": _l("Municipality (CBS code)"),
        "municipality_name": _l("Municipality name"),
    }),
    "service_domain": Table(DIRECTORY, False, {}),
    "hsds_record": Table(DIRECTORY, False, {
        "table_name": _l("HSDS table"), "fields": _l("The row as the source wrote it"),
        "used": _l("Whether the directory uses it"),
    }),
    "location": Table(DIRECTORY, False, {"name": _l("Name of the place")}),
    "address": Table(DIRECTORY, False, {
        "location_id": _l("Which place"), "address_1": _l("Street and number"),
        "city": _l("Place"), "postal_code": _l("Postcode"), "state_province": _l("Province"),
        "country": _l("Country"),
        "address_type": _l("Visiting or postal address"),
    }),
    "service_at_location": Table(DIRECTORY, False, {"location_id": _l("Which place")}),
    "schedule": Table(DIRECTORY, False, {
        "location_id": _l("Which place"), "description": _l("Opening hours, in words"),
    }),
    "service_language": Table(DIRECTORY, False, {"code": _l("Language code"),
                                                 "name": _l("Language")}),
    "service_term": Table(DIRECTORY, False, {"term_id": _l("Which taxonomy term")}),
    "taxonomy_term": Table(DIRECTORY, False, {
        "code": _l("Code"), "name": _l("Name"), "description": _l("Description"),
        "taxonomy": _l("Which taxonomy"),
        "need_domain_code": _l("The need domain it maps to"),
    }),
    "directory_version": Table(_l("A number that changes with every change of the directory, "
                                  "so pages of it are drawn again."), False, {
        "token": _l("The number"),
    }),
    "need_domain": Table(_l("The need domains of the alliance."), False, {
        "code": _l("Code"), "label_nl": _l("Name in Dutch"), "label_en": _l("Name in English"),
    }),
    "pledge": Table(_l("A partner's pledge to the alliance."), False, {
        "new_partner": _l("The new partner the organisation brought in"),
        "updated_at": _l("When it was changed"),
    }),
    "pledge_activity": Table(_l("An activity a partner pledges."), False, {
        "pledge_id": _l("Which pledge"), "what": _l("What"), "for_whom": _l("For whom"),
        "target": _l("Target"), "due": _l("By when"),
    }),
    "pledge_report": Table(_l("A partner's yearly report on an activity."), False, {
        "activity_id": _l("Which activity"), "year": _l("Year"),
        "progress": _l("Done, partly or not"), "text": _l("Short text"),
        "reported_at": _l("When reported"), "reported_by": _l("Who reported (staff account)"),
    }),
}


@dataclass(frozen=True)
class Entry:
    table: str
    column: str
    what: object
    kind: str
    why: object


def entries():
    """The register, table by table in the database's order, as it is shown."""
    rows = []
    for table in SQLModel.metadata.sorted_tables:
        spec = REGISTER.get(table.name)
        if spec is None:
            continue
        for column in table.columns:
            described = spec.columns.get(column.name, COMMON.get(column.name))
            if described is None:
                continue
            what, why = described if isinstance(described, tuple) else (described, None)
            if column.info.get("encrypted"):
                kind = ENCRYPTED
            elif not spec.about_people:
                kind = NOT_PERSONAL
            elif column.name in ("id", "family_id", "signal_id", "child_id", "referral_id") \
                    or column.name.endswith(("_index", "_hash")) or column.name == "family_ref":
                kind = PSEUDONYM
            else:
                kind = PERSONAL
            rows.append(Entry(table.name, column.name, what, kind, why or spec.purpose))
    return rows


def missing():
    """Model columns the register does not describe (a test keeps this empty)."""
    return [f"{table.name}.{column.name}" for table in SQLModel.metadata.sorted_tables
            for column in table.columns
            if table.name not in REGISTER or (column.name not in REGISTER[table.name].columns
                                              and column.name not in COMMON)]
