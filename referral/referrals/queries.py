"""Reads of referrals: each role's list, a family's referrals and timeline, what is overdue
or stuck, and the row lock a change takes."""

from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import Integer, and_, bindparam, case, func, or_
from sqlalchemy.orm import aliased
from sqlmodel import select

from referral import crypto, db, familykeys, policy
from referral.auth.models import Role, User
from referral.cases.models import Family, Signal, SignalDomain
from referral.directory.models import Organisation, Service, ServiceStatus
from referral.directory.queries import Page, municipality_name_of, windowed_page
from referral.familykeys import FamilyKey
from referral.policy.queries import active_consent_read
from referral.referrals import lifecycle
from referral.referrals.lifecycle import PARTNER, REFERRER
from referral.referrals.models import CLOSED, OPEN, Handover, Referral, ReferralEvent, Status

_LOCKED = "referral.locked"  # session.info: (the transaction, the ids it locked)


def default_follow_up(today=None):
    return (today or date.today()) + timedelta(days=current_app.config["FOLLOW_UP_DAYS"])


def lock(referral_id):
    """The referral, locked for a change (SQLite holds its write lock already), as it is in
    the database now, even if this request had read it before. A second call in the same
    transaction finds it locked already and asks the database nothing more."""
    session = db.session()
    transaction, held = session.info.get(_LOCKED, (None, set()))
    if transaction is not None and transaction is session.get_transaction() and (
            referral_id in held):
        referral = session.get(Referral, referral_id)
        if referral is not None:
            return referral
    found = db.rows(_lock(), {"id": referral_id}, flushed=True)  # as the ORM's read would
    referral = None
    if found:
        referral = db.as_loaded(Referral, found[0]._mapping, fresh=True)
        familykeys.take({referral.family_id: found[0].wrapped})
        familykeys.remember(Referral, referral.id, referral.family_id)
        if transaction is not session.get_transaction():
            held = set()
        held.add(referral_id)
        session.info[_LOCKED] = (session.get_transaction(), held)
    return referral


@db.prepared
def _lock():
    """The referral as it is now, locked, with its family's key: every change to a referral
    starts here (a note, a step), inside SQLite's one write lock."""
    referral = Referral.__table__
    return (select(*referral.columns, FamilyKey.wrapped)
            .outerjoin(FamilyKey, FamilyKey.family_id == referral.c.family_id)
            .where(referral.c.id == bindparam("id")).with_for_update(of=referral))


def lock_signal(signal_id):
    """Lock the signal while referrals are made from it, so two requests at once take
    turns. On SQLite there is nothing to ask: a transaction that writes holds the one write
    lock from its start."""
    session = db.session()
    if session.connection().dialect.name != "sqlite":
        session.execute(_lock_signal(), {"id": signal_id})


@db.prepared
def _lock_signal():
    return select(Signal.id).where(Signal.id == bindparam("id")).with_for_update()


def open_from(signal_id, service_ids, *, leaving_out=()):
    """The open referrals from this signal to these services (but those left out), as
    values read from the database now (what this transaction changed written first), not
    what this session read before."""
    if not service_ids:
        return []
    return db.values(Referral, _open_from(), {
        "signal": signal_id, "services": list(service_ids),
        "leaving_out": list(leaving_out)}, flushed=True)


@db.prepared
def _open_from():  # in every referral made, inside its write lock: built once
    return (select(*Referral.__table__.columns)
            .where(Referral.signal_id == bindparam("signal"),
                   Referral.service_id.in_(bindparam("services", expanding=True)),
                   db.one_of(Referral.status, [s.value for s in OPEN]),
                   Referral.id.not_in(bindparam("leaving_out", expanding=True)))
            .order_by(Referral.created_at))


def open_of_family(family_id):
    """The family's open referrals per service: the refer page warns beside each."""
    found = {}
    for row in db.session().exec(
            select(Referral.id, Referral.service_id, Referral.signal_id, Referral.status,
                   Referral.owner_id)
            .where(Referral.family_id == family_id,
                   Referral.status.in_([s.value for s in OPEN]))
            .order_by(Referral.created_at)):
        found.setdefault(row.service_id, []).append(row)
    return found


def service_names(ids):
    """Names of these services (a draft's earlier ones), without a query when there are none."""
    ids = {i for i in ids if i is not None}
    if not ids:
        return {}
    return dict(db.session().exec(_service_names(), params={"ids": list(ids)}).all())


@db.prepared
def _service_names():
    return select(Service.id, Service.name).where(
        Service.id.in_(bindparam("ids", expanding=True)))


def side_for(user, referral, target):
    """The side from which this user takes this step: the referrer's where the step is the
    referrer's and the user owns the referral, else the partner's where they act for the
    partner; None when it is not theirs to take."""
    if (lifecycle.find(referral.status, target, REFERRER)
            and policy.allowed(user, "referral.as_referrer", referral)):
        return REFERRER
    if policy.allowed(user, "referral.as_partner", referral):
        return PARTNER
    return None


def refer_reads(signal_id, family_id, services, form_token, send):
    """What refer checks once the signal is locked, for db.ahead: an earlier submission of
    the form (by_submission), open referrals to the services (open_from) and, for a
    referral to be sent, the family's consent for each service's organisation."""
    consents = [active_consent_read(family_id, service.organisation_id)
                for service in services] if send else []
    return [(_submitted(), {"keys": _submission_keys(form_token, services)}),
            (_open_from(), {"signal": signal_id, "services": [s.id for s in services],
                            "leaving_out": []}),
            *consents]


def _submission_keys(form_token, services):
    return [f"{form_token}:{service.id}" for service in services]


def by_submission(form_token, services):
    """The referrals an earlier submission of this form made to these services (exact keys:
    a LIKE on the prefix would read every referral in the country). Almost always none: the
    keys are looked up first, and only referrals found are loaded as models."""
    keys = _submission_keys(form_token, services)
    if not db.rows(_submitted(), {"keys": keys}, flushed=True):
        return []
    return db.session().exec(_by_submission(), params={"keys": keys}).all()


@db.prepared
def _submitted():
    return select(Referral.id).where(Referral.submission_key.in_(bindparam("keys",
                                                                            expanding=True)))


@db.prepared
def _by_submission():
    return select(Referral).where(Referral.submission_key.in_(bindparam("keys", expanding=True)))


def overdue_clause(today=None, now=None, *, extra_days=0):
    """Open, and past the follow-up date or quiet for longer than the quiet period."""
    return overdue_where(**overdue_cutoffs(today, now, extra_days=extra_days))


def overdue_cutoffs(today=None, now=None, *, extra_days=0):
    """The follow-up date before which, and the last activity before which, a referral is
    overdue (today, or extra_days later: the escalation)."""
    today, now = today or date.today(), now or db.utcnow()
    quiet = timedelta(days=current_app.config["QUIET_DAYS"] + extra_days)
    return {"follow_up_before": today - timedelta(days=extra_days), "quiet_since": now - quiet}


def overdue_where(follow_up_before, quiet_since):
    """Overdue by the cutoffs: values, or bindparam()s of a prepared statement."""
    return and_(db.one_of(Referral.status, [s.value for s in OPEN]),
                or_(Referral.follow_up_on < follow_up_before,
                    Referral.last_activity_at < quiet_since))


def is_overdue(referral, today=None, now=None):
    today, now = today or date.today(), now or db.utcnow()
    quiet = timedelta(days=current_app.config["QUIET_DAYS"])
    return referral.status in OPEN and (referral.follow_up_on < today
                                        or db.aware(referral.last_activity_at) < now - quiet)


LIST_SIZE = 25  # rows per page of my referrals, the inbox and the bridge worker's list

# Which statuses each filter of the lists means; a single status is a filter too.
STATUS_GROUPS = {
    "open": OPEN - {Status.draft},
    "new": {Status.requested},
    "active": {Status.accepted, Status.in_progress},
    "waiting": {Status.on_hold},
    "closed": CLOSED,
}
INBOX_GROUPS = ("new", "active", "waiting", "closed")


def _statuses(status):
    """The statuses a status filter means: a group's, one status, or None for all."""
    if status in STATUS_GROUPS:
        return [s.value for s in STATUS_GROUPS[status]]
    if status in set(Status):
        return [status]
    return None


def _chosen(values):
    """The filters given (not None), as a kept statement's key: their names, and the
    statuses themselves, which are the code's words (_statuses) and are written into the
    statement (db.one_of): as a list parameter SQLAlchemy wrote them into its SQL again on
    every run. The values of the others go with each run; these are not values."""
    return frozenset(("statuses", tuple(value)) if name == "statuses" else name
                     for name, value in values.items() if value is not None)


def _by_status(chosen):
    return [db.one_of(Referral.status, item[1]) for item in chosen if isinstance(item, tuple)]


def _values(values):
    return {name: value for name, value in values.items() if name != "statuses"}


def _since(days, now=None):
    return (now or db.utcnow()) - timedelta(days=days)


MINE_SORTS = ("due", "newest", "oldest", "service")
OWNER = bindparam("owner")


@dataclass
class MineRow:
    """A referral as its owner's list shows it."""

    id: object
    status: str
    follow_up_on: date
    requested_at: object  # None while it is a draft
    service: str
    organisation: str
    family_name: str
    overdue: bool


def mine(user, *, status=None, overdue=False, service_id=None, organisation_id=None,
         days=None, sort="due", page=1, today=None, counted=None):
    """One page of the owner's referrals (MineRows), filtered: by default overdue first,
    then by follow-up date. `counted`: the owner's referrals per status (my_overview), read
    already: filtered by status alone, the page's total is their sum, not counted again."""
    statuses = _statuses(status)
    values = {"statuses": statuses, "overdue": overdue or None, "service": service_id,
              "organisation": organisation_id, "since": _since(days) if days else None}
    chosen = _chosen(values)
    sort = sort if sort in MINE_SORTS else "due"
    params = {**_values(values), "owner": user.id, **overdue_cutoffs(today)}
    if counted is not None and not (overdue or service_id or organisation_id or days):
        params["known_total"] = sum(number for status, number in counted.items()
                                    if statuses is None or status in statuses)
    found = windowed_page(_mine(chosen, sort), page, LIST_SIZE, params=params,
                          key=Referral.id, keys=_mine_keys(chosen, sort),
                          total=_known_total() if "known_total" in params else None)
    # Each row's family key came with it (its last column; the family is the fifth): the
    # names open without a read.
    familykeys.take({row[4]: row[-1] for row in found.results})
    names, rows = {}, []  # each family's name opened once: a family has several referrals
    for (referral_id, status, follow_up_on, requested_at, family_id, service, organisation,
         sealed, late, _key) in found.results:
        if family_id not in names:
            names[family_id] = familykeys.parent_names(sealed, family_id)
        rows.append(MineRow(referral_id, status, follow_up_on, requested_at, service,
                            organisation, names[family_id], bool(late)))
    return Page(rows, found.total, found.page, found.size)


@db.prepared
def _mine(chosen, sort):
    """My referrals' statement for the filters chosen (a few dozen combinations, each built
    once): the values are bind parameters."""
    return (select(Referral.id, Referral.status, Referral.follow_up_on, Referral.requested_at,
                   Referral.family_id, Service.name, Organisation.name,
                   Family.parent_names_enc, _LATE, FamilyKey.wrapped)
            .join(Service, Service.id == Referral.service_id)
            .join(Organisation, Organisation.id == Referral.organisation_id)
            .join(Family, Family.id == Referral.family_id)
            .outerjoin(FamilyKey, FamilyKey.family_id == Referral.family_id)
            .where(*_mine_conditions(chosen)).order_by(*_mine_order(sort), Referral.id))


@db.prepared
def _mine_keys(chosen, sort):
    """The same referrals in the same order, from the referral alone (and the service, to
    sort by its name): the page is chosen on these, and the other tables are read for its
    rows only."""
    keys = select(Referral.id)
    if sort == "service":
        keys = keys.join(Service, Service.id == Referral.service_id)
    return keys.where(*_mine_conditions(chosen)).order_by(*_mine_order(sort), Referral.id)


_LATE = overdue_where(bindparam("follow_up_before"), bindparam("quiet_since"))


def _mine_conditions(chosen):
    conditions = [Referral.owner_id == OWNER, *_by_status(chosen)]
    if "overdue" in chosen:
        conditions.append(_LATE)
    if "service" in chosen:
        conditions.append(Referral.service_id == bindparam("service"))
    if "organisation" in chosen:
        conditions.append(Referral.organisation_id == bindparam("organisation"))
    if "since" in chosen:
        conditions.append(Referral.created_at >= bindparam("since"))
    return conditions


def _mine_order(sort):
    return {
        "due": (case((_LATE, 0), else_=1), case((db.one_of(
            Referral.status, [s.value for s in CLOSED]), 1), else_=0), Referral.follow_up_on,
            Referral.created_at),
        "newest": (Referral.created_at.desc(),),
        "oldest": (Referral.created_at,),
        "service": (Service.name, Referral.created_at.desc()),
    }[sort]


def my_overview(user):
    """What the owner's list shows above its rows, read together: how many of the owner's
    referrals are in each status, and the services and organisations referred to, for the
    filters ((service id, service name, organisation id, organisation name), by name)."""
    counts, services = {}, {}
    for service_id, service, organisation_id, organisation, status, number in db.rows(
            _my_overview(), {"owner": user.id}):
        counts[status] = counts.get(status, 0) + number
        services[service_id, organisation_id] = (service_id, service, organisation_id,
                                                  organisation)
    return counts, list(services.values())


@db.prepared
def _my_overview():
    return (select(Service.id, Service.name, Organisation.id, Organisation.name,
                   Referral.status, func.count())
            .join(Referral, Referral.service_id == Service.id)
            .join(Organisation, Organisation.id == Referral.organisation_id)
            .where(Referral.owner_id == OWNER)
            .group_by(Service.id, Service.name, Organisation.id, Organisation.name,
                      Referral.status)
            .order_by(Service.name, Organisation.name))


@dataclass
class ListRow:
    """A referral as the inbox and the bridge worker's list show it: the family only as its
    consent allows (else None), who referred it from which organisation, how long it
    waits."""

    id: object
    status: str
    sent: object  # when it was sent (made, for one never sent)
    closed_at: object
    service: str
    organisation: str
    urgency: str
    referrer: str
    referrer_organisation: str | None
    family_name: str | None
    municipality: str | None  # its name (its code, where no service area names it)
    days_waiting: int | None  # since it was sent, while it is open

    @property
    def closed(self):
        return self.status in CLOSED


def _list_rows(rows, today=None):
    """ListRows of the list's columns: a family's name and municipality only where it is
    shared, its key opened only then; the referrers' names with the ring."""
    today = today or date.today()
    familykeys.take({row[5]: row[15] for row in rows if row[14]})  # where shared: its key
    ring = crypto.keyring()
    referrers, families = {}, {}  # each opened once: a page names a few of each many times
    made = []
    for (referral_id, status, requested_at, created_at, closed_at, family_id, owner_id,
         service, organisation, urgency, names, municipality, referrer, referrer_org,
         shared, _stored_key, municipality_name) in rows:
        if owner_id not in referrers:
            referrers[owner_id] = ring.open(referrer, crypto.context_of(
                "user_account", "name_enc", owner_id))
        if shared and family_id not in families:
            families[family_id] = familykeys.parent_names(names, family_id)
        sent = requested_at or created_at
        made.append(ListRow(
            referral_id, status, sent, closed_at, service, organisation, urgency,
            referrers[owner_id], referrer_org, families[family_id] if shared else None,
            (municipality_name or municipality) if shared else None,
            None if status in CLOSED else (today - db.aware(sent).date()).days))
    return made


def _listed(*conditions):
    """The columns of a ListRow, for referrals that meet the conditions: values, not models
    (a page of whole referrals, families and users took a third of the inbox's time). The
    family's stored key and its municipality's name are subqueries of the row, not joins:
    one more join takes this statement past PostgreSQL's join_collapse_limit (8), and its
    prepared plan took 7 ms instead of 1.5; read as the page's rows, they cost no statement
    of their own."""
    owner_org = aliased(Organisation)
    stored_key = (select(FamilyKey.wrapped).where(FamilyKey.family_id == Referral.family_id)
                  .scalar_subquery())
    return (select(Referral.id, Referral.status, Referral.requested_at, Referral.created_at,
                   Referral.closed_at, Referral.family_id, Referral.owner_id,
                   Service.name.label("service"), Organisation.name.label("organisation"),
                   Signal.urgency, Family.parent_names_enc.label("names"),
                   Family.municipality_code, User.name_enc.label("referrer"),
                   owner_org.name.label("referrer_organisation"),
                   policy.content_shared().label("shared"), stored_key.label("stored_key"),
                   municipality_name_of(Family.municipality_code).label("municipality_name"))
            .join(Service, Service.id == Referral.service_id)
            .join(Organisation, Organisation.id == Referral.organisation_id)
            .join(Signal, Signal.id == Referral.signal_id)
            .join(Family, Family.id == Referral.family_id)
            .join(User, User.id == Referral.owner_id)
            .outerjoin(owner_org, owner_org.id == User.organisation_id)
            .where(*conditions))


INBOX_SORTS = ("urgency", "waiting", "newest")
# What reached the partner: sent at least once (a draft cancelled before it was sent never
# did), as the policy's partner rule.
SENT_ONCE = Referral.requested_at.is_not(None)
WAITING_DAYS = (3, 7, 14, 30)


def _sent(whose):
    """When a listed referral was sent: for the inbox, which lists only what was sent,
    requested_at itself (its index's order); made, for a bridge worker's never-sent one."""
    return (Referral.requested_at if whose == "inbox"
            else func.coalesce(Referral.requested_at, Referral.created_at))


def _list_order(whose, sort):
    sent = _sent(whose)
    return {"urgency": (Referral.urgency_rank, sent), "waiting": (sent,),
            "newest": (sent.desc(),)}.get(sort, (Referral.urgency_rank, sent))


def inbox(user, *, status="open", waiting_days=None, service_id=None, sort="urgency", page=1,
          today=None, counted=None):
    """One page of what was sent to the partner's organisation through the tool (never
    drafts), filtered; by default the open ones, most urgent and longest waiting first.
    `counted`: the inbox's referrals per status (inbox_statuses), read already: filtered by
    status alone, the page's total is their sum, not counted again."""
    values = {"statuses": _statuses(status), "service": service_id,
              "waited_since": _since(waiting_days) if waiting_days else None}
    known = None
    if counted is not None and service_id is None and not waiting_days:
        known = sum(number for status, number in counted.items()
                    if values["statuses"] is None or status in values["statuses"])
    return _list_page("inbox", values, {"organisation": user.organisation_id}, sort, page,
                      today, known_total=known)


def accompanied_by(user, *, status="open", sort="newest", page=1, today=None):
    """One page of the referrals a bridge worker accompanies, filtered."""
    return _list_page("accompanied", {"statuses": _statuses(status)}, {"bridge": user.id},
                      sort, page, today)


def _list_page(whose, values, params, sort, page, today, known_total=None):
    """One page of ListRows of the inbox or the bridge worker's list, filtered by the values
    that are not None, in the sort's order, with their count (given as `known_total`, or
    counted with the page)."""
    chosen = _chosen(values)
    sort = sort if sort in INBOX_SORTS else "urgency"
    if known_total is not None:
        params = {**params, "known_total": known_total}
    found = windowed_page(_list(whose, chosen, sort), page, LIST_SIZE,
                          params={**_values(values), **params}, key=Referral.id,
                          keys=_list_keys(whose, chosen, sort),
                          total=None if known_total is None else _known_total())
    return Page(_list_rows(found.results, today), found.total, found.page, LIST_SIZE)


@db.prepared
def _list(whose, chosen, sort):
    """The inbox's or the bridge worker's statement for the filters chosen, built once."""
    return _listed(*_list_conditions(whose, chosen)).order_by(*_list_order(whose, sort),
                                                              Referral.id)


@db.prepared
def _list_keys(whose, chosen, sort):
    """The same referrals in the same order, from the referral alone (the inbox's default
    order through its index, ix_referral_inbox)."""
    return select(Referral.id).where(*_list_conditions(whose, chosen)).order_by(
        *_list_order(whose, sort), Referral.id)


def _list_conditions(whose, chosen):
    if whose == "inbox":
        conditions = [Referral.organisation_id == bindparam("organisation"), Referral.by_inbox,
                      SENT_ONCE]
    else:
        conditions = [Referral.bridge_id == bindparam("bridge")]
    conditions += _by_status(chosen)
    if "waited_since" in chosen:
        conditions.append(_sent(whose) <= bindparam("waited_since"))
    if "service" in chosen:
        conditions.append(Referral.service_id == bindparam("service"))
    return conditions


@db.prepared
def _known_total():
    """A list's total known before its page is read (windowed_page's `total`)."""
    return select(bindparam("known_total", type_=Integer))


def inbox_statuses(user):
    """How many referrals of the partner's inbox are in each status."""
    return dict(db.rows(_inbox_counts(), {"organisation": user.organisation_id}))


def inbox_counts(counted):
    """How many referrals of the partner's inbox (inbox_statuses) are new, in progress,
    waiting or closed."""
    counts = dict.fromkeys(INBOX_GROUPS, 0)
    for status, number in counted.items():
        for group in INBOX_GROUPS:
            if status in STATUS_GROUPS[group]:
                counts[group] += number
    return counts


@db.prepared
def _inbox_counts():
    return (select(Referral.status, func.count())
            .where(Referral.organisation_id == bindparam("organisation"), Referral.by_inbox,
                   SENT_ONCE).group_by(Referral.status))


def inbox_page_reads(user):
    """The inbox's reads that need no filter (organisation_services, inbox_statuses), for
    db.ahead: the list itself is read after, by the filters the services allow."""
    params = {"organisation": user.organisation_id}
    return [(_organisation_services(), params), (_inbox_counts(), params)]


def organisation_services(user):
    """The services of the user's organisation, for the inbox filter: (id, name)."""
    return db.rows(_organisation_services(), {"organisation": user.organisation_id})


@db.prepared
def _organisation_services():
    return (select(Service.id, Service.name)
            .where(Service.organisation_id == bindparam("organisation")).order_by(Service.name))


@db.prepared
def _of_family():
    return (select(Referral.id, Referral.status, Referral.outcome, Referral.follow_up_on,
                   Service.name.label("service"))
            .join(Service, Service.id == Referral.service_id)
            .where(Referral.family_id == bindparam("family"))
            .order_by(Referral.created_at.desc()))


def family_page_reads(family_id):
    """The family page's reads of the family's referrals (of_family, family_timeline), for
    db.ahead."""
    params = {"family": family_id}
    return [(_of_family(), params), (_family_timeline(), params)]


def of_family(family_id):
    """The family's referrals, newest first, as values: id, status, outcome, follow-up
    date and service name (a page's list, not models: the ORM doubled the statement's cost)."""
    return db.rows(_of_family(), {"family": family_id})


@db.prepared
def _family_timeline():
    return (select(ReferralEvent.at, ReferralEvent.actor_id, ReferralEvent.kind,
                   ReferralEvent.from_status, ReferralEvent.to_status, ReferralEvent.outcome,
                   ReferralEvent.on_behalf, ReferralEvent.follow_up_on,
                   ReferralEvent.from_service_id, Service.name.label("service"),
                   User.name_enc.label("actor_name_enc"))
            .join(Referral, Referral.id == ReferralEvent.referral_id)
            .join(Service, Service.id == Referral.service_id)
            .outerjoin(User, User.id == ReferralEvent.actor_id)
            .where(Referral.family_id == bindparam("family"))
            .order_by(ReferralEvent.at, ReferralEvent.id))


def family_timeline(family_id):
    """Every event of the family's referrals, oldest first, with its service's name and its
    actor's stored name (auth.queries.opened_names), as values: what
    `referrals/_event.html` tells, never a note's or reason's text."""
    return db.rows(_family_timeline(), {"family": family_id})


@db.prepared
def _events():
    return (select(*ReferralEvent.__table__.columns, User.name_enc.label("actor_name_enc"))
            .outerjoin(User, User.id == ReferralEvent.actor_id)
            .where(ReferralEvent.referral_id == bindparam("referral"))
            .order_by(ReferralEvent.at, ReferralEvent.id))


def events_of(referral):
    """The referral's timeline, oldest first, as values (db.values): step 1 is its
    creation. Each brings its actor's stored name (`actor_name_enc`, opened by
    auth.queries.opened_names): the page names them without a statement of its own."""
    return db.values(ReferralEvent, *events_read(referral.id))


def events_read(referral_id):
    """The statement and values of events_of (for db.ahead)."""
    return _events(), {"referral": referral_id}


STUCK_PAGE_SIZE = 100
STUCK_SORTS = ("organisation", "longest")


def _stuck_conditions(today, organisation_id, status):
    conditions = [overdue_clause(today, extra_days=current_app.config["ESCALATION_DAYS"])]
    if organisation_id:
        conditions.append(Referral.organisation_id == organisation_id)
    if status in set(Status):
        conditions.append(Referral.status == status)
    return conditions


def stuck(today=None, *, organisation_id=None, status=None, sort="organisation", page=1):
    """Referrals overdue beyond the escalation period, per partner organisation: which and
    whose, never what they are about. One page of them: a country has thousands."""
    session, size = db.session(), STUCK_PAGE_SIZE
    conditions = _stuck_conditions(today, organisation_id, status)
    total = session.exec(select(func.count()).select_from(Referral).where(*conditions)).one()
    page = min(max(1, page), max(1, -(-total // size)))
    order = ((Referral.follow_up_on, Organisation.name) if sort == "longest"
             else (Organisation.name, Referral.follow_up_on))
    rows = session.exec(
        select(Referral.id, Referral.status, Referral.follow_up_on, Referral.owner_id,
               Organisation.name.label("organisation"), Service.name.label("service"))
        .join(Organisation, Organisation.id == Referral.organisation_id)
        .join(Service, Service.id == Referral.service_id)
        .where(*conditions)
        .order_by(*order, Referral.id)
        .offset((page - 1) * size).limit(size)).all()
    return Page(rows, total, page, size)


def stuck_organisations(today=None):
    """The partner organisations that have stuck referrals, for the filter: (id, name)."""
    return db.session().exec(
        select(Organisation.id, Organisation.name)
        .join(Referral, Referral.organisation_id == Organisation.id)
        .where(*_stuck_conditions(today, None, None)).distinct()
        .order_by(Organisation.name)).all()


def by_organisation(rows):
    """Stuck rows per partner organisation, in the order they came."""
    groups = {}
    for row in rows:
        groups.setdefault(row.organisation, []).append(row)
    return groups


def colleagues(user):
    """Active professionals of the user's organisation who could take a referral over."""
    if user.organisation_id is None:
        return []
    return db.session().exec(select(User).where(
        User.organisation_id == user.organisation_id, User.role == Role.professional,
        User.active, User.id != user.id)).all()


def bridge_workers():
    return db.session().exec(select(User).where(User.role == Role.bridge, User.active)).all()


def open_referrals_owned_by(user_id):
    return db.session().exec(select(Referral).where(
        Referral.owner_id == user_id, Referral.status.in_([s.value for s in OPEN]))).all()


def my_page_reads(user):
    """My referrals' reads that need no filter (my_overview, handovers_for), for db.ahead:
    the list itself is read after, by the filters the overview's services allow."""
    return [(_my_overview(), {"owner": user.id}), (_handovers_for(), {"to": user.id})]


def handovers_for(user):
    """The referrals the user is asked to take over, undecided: (referral id, its status,
    the service's name); as columns, since the list shows nothing else."""
    return db.rows(_handovers_for(), {"to": user.id})


@db.prepared
def _handovers_for():
    return (select(Referral.id, Referral.status, Service.name)
            .select_from(Handover)
            .join(Referral, Referral.id == Handover.referral_id)
            .join(Service, Service.id == Referral.service_id)
            .where(Handover.to_id == bindparam("to"), Handover.decided_at.is_(None)))


def signal_domains(signal_id):
    return list(db.session().exec(select(SignalDomain.domain_code).where(
        SignalDomain.signal_id == signal_id)).all())


def active_services(ids):
    """The services among these ids that take referrals now, in one query, as values."""
    if not ids:
        return []
    return db.values(Service, *active_services_read(ids))


def active_services_read(ids):
    """The statement and values of active_services (for db.ahead)."""
    return _active_services(), {"ids": list(ids)}


@db.prepared
def _active_services():
    return select(*Service.__table__.columns).where(
        Service.id.in_(bindparam("ids", expanding=True)), Service.status == ServiceStatus.active)
