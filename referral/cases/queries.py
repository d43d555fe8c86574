"""Reads of families, children, signals and consent; reading a family is in the access log."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import bindparam, func, literal, or_, union
from sqlmodel import select

from referral import audit, db, familykeys
from referral.audit.models import AuditEvent, AuditOutcome
from referral.auth.models import User
from referral.cases.models import (
    Child,
    Consent,
    Family,
    HistoryKind,
    Signal,
    SignalDomain,
    address_index,
    child_index,
)
from referral.directory.models import Organisation, fold
from referral.directory.queries import Page, windowed_page
from referral.familykeys import FamilyKey
from referral.referrals.models import Referral


def find_duplicates(user, *, children, postcode=None, house_number=None):
    """Families of the user's organisation with a same child or the same address."""
    session = db.session()
    org = user.organisation_id
    by_child = select(Child.family_id).where(Child.name_index.in_(
        [child_index(org, name, born) for name, born in children] or [""]))
    conditions = [Family.id.in_(by_child)]
    if postcode and house_number:
        conditions.append(Family.address_index == address_index(org, postcode, house_number))
    return session.exec(select(Family).where(Family.organisation_id == org,
                                             or_(*conditions))).all()


def split_address(address):
    """(street, house number) from the stored "street number" (for the correction form)."""
    street, _space, number = (address or "").rpartition(" ")
    if street and number[:1].isdigit():
        return street, number
    return address or "", ""


USER = bindparam("user")


def _caseload_of(*columns):
    """The families a professional (`user`) works on (created, or owns a referral of),
    newest first, each with its stored key (its names open without a statement of their
    own)."""
    # The ids from both sides first, each through its index: as one condition with OR the
    # database read every family of the country (26 ms at national scale, 3 ms so).
    mine = union(select(Family.id).where(Family.created_by == USER),
                 select(Referral.family_id).where(Referral.owner_id == USER))
    return (select(*columns, FamilyKey.wrapped)
            .outerjoin(FamilyKey, FamilyKey.family_id == Family.id)
            .where(Family.id.in_(mine))
            .order_by(Family.created_at.desc(), Family.id))


@db.prepared
def _caseload():
    return _caseload_of(Family)


@db.prepared
def _caseload_columns():  # a page of the list, read as values
    return _caseload_of(*Family.__table__.columns)


def _with_keys(rows):
    """The families of rows (family, its stored key), their keys opened for this request."""
    familykeys.take({family.id: wrapped for family, wrapped in rows})
    return [family for family, _ in rows]


def families_of(user):
    return _with_keys(db.session().exec(_caseload(), params={"user": user.id}).all())


FAMILY_PAGE_SIZE = 25
FAMILY_SORTS = ("newest", "name")


def _searchable(family, children):
    """What a search of my families looks in, folded: the parents' names, the children's
    first names and the postcode (with and without its space)."""
    postcode = family.postcode or ""
    return fold(" ".join([family.parent_names, *(c.first_name for c in children), postcode,
                          postcode.replace(" ", "")]))


def caseload(user, *, text="", sort="newest", page=1):
    """One page of the professional's families whose parents' names, children's first names
    or postcode contain every word of the text; and the children of that page.

    The names are encrypted at rest and stay so: the caseload's rows are decrypted here and
    matched in Python. A caseload is tens, at most a few hundred families, read in the same
    two statements whatever its size or the text. A blind index (a keyed hash, as for
    duplicates) was not chosen: it finds only whole, exact values, so "jans" would never
    find "Jansen", nor a child's name without the birth date beside it. Without a text,
    newest first, nothing needs decrypting: the database pages."""
    if not text.strip() and sort == "newest":
        return _newest_page(user, page)
    families = families_of(user)
    children = children_of([f.id for f in families])
    words = fold(text).split()
    if words:
        families = [f for f in families
                    if all(word in _searchable(f, children.get(f.id, [])) for word in words)]
    if sort == "name":
        families = sorted(families, key=lambda f: fold(f.parent_names))
    total, size = len(families), FAMILY_PAGE_SIZE
    page = min(max(1, page), max(1, -(-total // size)))
    shown = families[(page - 1) * size:page * size]
    return Page(shown, total, page, size), {f.id: children.get(f.id, []) for f in shown}


def _newest_page(user, page):
    """One page of the caseload, newest first, and its children: two statements, however
    large the caseload."""
    found = windowed_page(_caseload_columns(), page, FAMILY_PAGE_SIZE,
                          params={"user": user.id})
    shown = [db.value_of(Family, row) for row in found.results]  # values: db.values
    familykeys.take({family.id: row[-1] for family, row in zip(shown, found.results, strict=True)})
    children = {}
    if shown:
        for child in db.values(Child, _children_columns(), {"ids": [f.id for f in shown]}):
            children.setdefault(child.family_id, []).append(child)
    return Page(shown, found.total, found.page, found.size), children


FAMILY, IDS = bindparam("family"), bindparam("ids", expanding=True)


@db.prepared
def _children():
    return select(Child).where(Child.family_id.in_(IDS))


@db.prepared
def _children_columns():
    return select(*Child.__table__.columns).where(Child.family_id.in_(IDS))


def signal_and_family(signal_id):
    """A signal and its family as values (db.values: neither is changed by the page or the
    post), with the family's stored key, in one statement (the post that refers reads them
    inside SQLite's write lock); (None, None) without the signal."""
    row = db.row(_signal_and_family(), {"id": signal_id})
    if row is None:
        return None, None
    signal = db.value_of(Signal, row)
    family = db.value_of(Family, row[len(Signal.__table__.columns):])
    familykeys.take({family.id: row.wrapped})
    return signal, family


def signal_and_family_read(signal_id):
    """The statement and values of signal_and_family (for db.ahead)."""
    return _signal_and_family(), {"id": signal_id}


@db.prepared
def _signal_and_family():
    return (select(*Signal.__table__.columns, *Family.__table__.columns, FamilyKey.wrapped)
            .join(Family, Family.id == Signal.family_id)
            .outerjoin(FamilyKey, FamilyKey.family_id == Signal.family_id)
            .where(Signal.id == bindparam("id")))


def children_of(family_ids):
    """Children per family id, in one query."""
    children = {}
    if family_ids:
        for child in db.session().exec(_children(), params={"ids": list(family_ids)}):
            children.setdefault(child.family_id, []).append(child)
    return children


@db.prepared
def _signals():
    """The family's signals, newest first, each with its domains' codes in one string."""
    codes = (select(func.aggregate_strings(SignalDomain.domain_code, " "))
             .where(SignalDomain.signal_id == Signal.id).scalar_subquery())
    return (select(*Signal.__table__.columns, codes.label("domain_codes"))
            .where(Signal.family_id == FAMILY).order_by(Signal.created_at.desc()))


@db.prepared
def _family_children():
    return select(*Child.__table__.columns).where(Child.family_id == FAMILY)


def family_page_reads(family_id):
    """The family page's reads of the family's own data (read_family, consents_of,
    family_history), for db.ahead."""
    params = {"family": family_id}
    return [(_signals(), params), (_family_children(), params), (_consents(), params),
            (_history(), params)]


def read_family(user, family):
    """The family page's content, as values (db.values): children and signals (with their
    domains, by code); audited."""
    params = {"family": family.id}
    signals = db.values(Signal, _signals(), params)
    domains = {signal.id: signal.domain_codes.split(" ")
               for signal in signals if signal.domain_codes}
    children = db.values(Child, _family_children(), params)
    # Logged after the reads: from the entry on, the request holds the log's head (and on
    # SQLite the write lock) until it commits.
    audit.record("read", object_type="family", object_id=family.id, family_id=family.id,
                 user=user, summary="family page read")
    return children, signals, domains


@db.prepared
def _consents():
    return select(*Consent.__table__.columns, Organisation.name.label("organisation")
                  ).outerjoin(Organisation, Organisation.id == Consent.organisation_id).where(
        Consent.family_id == FAMILY).order_by(Consent.recorded_at.desc())


def consents_of(family):
    """The family's consents, newest first, as values (db.values), each with its
    organisation's name."""
    return db.values(Consent, _consents(), {"family": family.id})


@dataclass
class HistoryEntry:
    at: datetime
    actor_id: UUID | None
    kind: HistoryKind
    fields: list  # for a correction: the fields that changed (FIELD_LABELS' keys)
    actor_name_enc: str | None = None  # stored, see auth.queries.opened_names


_KINDS = {("family", "create"): HistoryKind.created,
          ("family", "update"): HistoryKind.corrected,
          ("child", "create"): HistoryKind.child_added,
          ("child", "update"): HistoryKind.child_changed,
          ("child", "delete"): HistoryKind.child_removed}
_CORRECTED = "family data corrected: "


@db.prepared
def _history():
    """The family's entries that change its data, through the index of the family's entries
    by action (every read of the family is an entry too, skipped there). Its values are
    written into the statement: a prepared statement is planned once for any values
    (db.make_engine), and planned for values it does not know, PostgreSQL read all the
    family's entries and left out the reads. Newest first, sorted by family_history (a
    few rows): ordered here, SQLite walked the whole log in its order instead."""
    def written(values):
        return [literal(value, literal_execute=True) for value in values]

    return (select(AuditEvent.seq, AuditEvent.at, AuditEvent.user_id, AuditEvent.object_type,
                   AuditEvent.action, AuditEvent.summary, User.name_enc)
            .outerjoin(User, User.id == AuditEvent.user_id)
            .where(AuditEvent.family_id == FAMILY,
                   AuditEvent.action.in_(written(["create", "update", "delete"])),
                   AuditEvent.object_type.in_(written(["family", "child"])),
                   AuditEvent.outcome == literal(AuditOutcome.success.value,
                                                 literal_execute=True)))


def family_history(family):
    """Who registered the family and changed its data or children, when, newest first.
    The access log is the record: its entries name the fields, never their values."""
    rows = sorted(db.rows(_history(), {"family": family.id}), reverse=True)  # by seq
    history = []
    for _seq, at, user_id, object_type, action, summary, name_enc in rows:
        kind = _KINDS.get((object_type, action))
        if kind is None:
            continue
        fields = []
        if kind == HistoryKind.corrected:
            fields = summary.removeprefix(_CORRECTED).split(", ")
            if summary.startswith(_CORRECTED) and fields == ["nothing changed"]:
                continue
            if not summary.startswith(_CORRECTED):
                fields = []
        history.append(HistoryEntry(at, user_id, kind, fields, name_enc))
    return history
