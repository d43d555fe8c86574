"""Every family's own data key (crypto-shredding).

Each encrypted value of a family (the family, its children, signals, consents, referral
messages, events and handovers, feedback free text) is sealed with a 32-byte data key of that
family alone. The data key is stored wrapped (AES-GCM) by the ring's newest wrapping key, in
`family_key`, bound to its row like every other value. An erasure deletes the wrapped key
first: every copy of the family's values left behind (free pages, WAL, dead tuples, WAL
archives, replicas, backups) then decrypts with nothing. The wrapped key leaves copies of its
own in those places, so an erasure also moves every live family key under a new wrapping key;
the old wrapping key is destroyed once no kept backup needs it (WRAPPING_KEY_RETENTION_DAYS),
and from then on no copy of the erased family opens with any key of the instance.

Unwrapped keys are cached in the database session of one request or command only
(`session.info`), never across requests."""

import os
import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy import event, inspect
from sqlmodel import Field, SQLModel

from referral import crypto, db

CACHE = "referral.family_keys"  # family id -> AESGCM, or None: no key stored
OWNERS = "referral.family_of"  # (table, row id) -> family id


class FamilyKey(SQLModel, table=True):
    """A family's data key, wrapped by a wrapping key of the ring. No foreign key: an
    erasure deletes this row first, before the family's rows."""

    __tablename__ = "family_key"

    family_id: uuid.UUID = Field(primary_key=True)
    wrapped: str = Field(max_length=120)
    created_at: datetime = db.time_field()


def _context(family_id):
    return crypto.context_of("family_key", "wrapped", family_id)


def _cache(session):
    return session.info.setdefault(CACHE, {})


def _owners(session):
    return session.info.setdefault(OWNERS, {})


def _ring():
    ring = crypto.keyring()
    if ring.newest_wrapping is None:  # an instance from before family keys: make the first
        ring = crypto.update_wrapping_keys(
            current_app, lambda keys: keys or [crypto.new_wrapping_key()])
    return ring


class FamilyData:
    """Mixin for a model whose encrypted values belong to a family: they are sealed with the
    family's own key. `owning_family` is the row's family id (its `family_id` by default)."""

    def owning_family(self):
        return self.family_id

    def family_cipher(self, *, create=False):
        family_id = self.owning_family()
        if family_id is None:
            raise crypto.CryptoError(f"{self.__tablename__}/{self.id}: no family to seal for")
        session = db.session()
        _owners(session)[(self.__tablename__, self.id)] = family_id
        known = _cache(session).get(family_id)
        if known is not None:  # the common case, once per value shown: nothing to look up
            return known
        # A family being made needs no look-up: its key is made here.
        state = inspect(self, raiseerr=False)  # None for a value (db.values): stored
        new = self.__tablename__ == "family" and state is not None and not state.persistent
        return cipher(family_id, create=create, new=new)


def remember(model, row_id, family_id):
    """Note that a row (a referral, an invitation) belongs to a family, for the rows under it
    built in this session before it is stored (the demo loaders write them in bulk)."""
    _owners(db.session())[(model.__tablename__, row_id)] = family_id


def _loaded(target, context):
    _owners(context.session)[(target.__tablename__, target.id)] = target.family_id


def track_parents(*models):
    """Note the family of every row of these models a session loads, for the rows under
    them (the identity map forgets a row nobody holds any more; this does not)."""
    for model in models:
        event.listen(model, "load", _loaded)


def family_of(model, row_id):
    """The family of a parent row (a referral, an invitation): from this session's memory or
    identity map, else one query."""
    session = db.session()
    owners = _owners(session)
    key = (model.__tablename__, row_id)
    if key not in owners:
        parent = session.get(model, row_id)
        owners[key] = parent.family_id if parent is not None else None
    return owners[key]


def _families_in_session(session):
    """The families whose rows this session holds: their keys are loaded in one query."""
    found = set()
    for obj in list(session.identity_map.values()):
        if isinstance(obj, FamilyData):
            found.add(obj.id if obj.__tablename__ == "family" else
                      getattr(obj, "family_id", None))
    found.discard(None)
    return found


@db.prepared
def _keys():
    return sa.select(FamilyKey.family_id, FamilyKey.wrapped).where(
        FamilyKey.family_id.in_(sa.bindparam("ids", expanding=True)))


def _load(session, family_ids):
    cache = _cache(session)
    wanted = [family_id for family_id in family_ids if family_id not in cache]
    for start in range(0, len(wanted), 500):
        part = wanted[start:start + 500]
        found = dict(session.execute(_keys(), {"ids": part}).all())
        _open(cache, {family_id: found.get(family_id) for family_id in part})


def _open(cache, stored_keys):
    """Unwrap families' stored keys (None: the family has none) into a session's cache."""
    if not stored_keys:
        return
    ring = crypto.keyring()
    for family_id, stored in stored_keys.items():
        if stored is not None and crypto.key_id_of(stored) not in ring.wrapping:
            ring = crypto.load_keyring(current_app)  # another process added it
            current_app.extensions["referral.keyring"] = ring
        cache[family_id] = None if stored is None else crypto.family_cipher(
            ring.unwrap(stored, _context(family_id)))


@db.prepared
def _with_key(model):
    family_id = model.id if model.__tablename__ == "family" else model.family_id
    return sa.select(model, FamilyKey.wrapped).outerjoin(
        FamilyKey, FamilyKey.family_id == family_id).where(model.id == sa.bindparam("id"))


def get(model, row_id):
    """A row of a family's data (a family, a referral) by its id, read with the family's
    stored key: its values open without a statement of their own. None if there is none."""
    session = db.session()
    row = session.execute(_with_key(model), {"id": row_id}).first()
    if row is None:
        return None
    found, stored = row
    take({found.owning_family(): stored})
    return found


@db.prepared
def _columns_with_key(model, extra=()):
    family_id = model.id if model.__tablename__ == "family" else model.family_id
    return sa.select(*model.__table__.columns, *extra, FamilyKey.wrapped).outerjoin(
        FamilyKey, FamilyKey.family_id == family_id).where(model.id == sa.bindparam("id"))


def value(model, row_id, *, extra=()):
    """`get` as a value (db.values), for a page that only shows the row: its values open
    with the family's key read with it. `extra`: labelled columns the page reads with the
    row (built once: a prepared statement is kept per model and extra), set on the value
    by their labels. None if there is none."""
    found = db.rows(_columns_with_key(model, extra), {"id": row_id})
    if not found:
        return None
    row = db.value_of(model, found[0])
    row.__dict__.update({column.name: found[0]._mapping[column.name] for column in extra})
    take({row.owning_family(): found[0][-1]})
    remember(model, row.id, row.owning_family())  # as a loaded one (track_parents)
    return row


def take(stored_keys):
    """Families' stored keys (family id: wrapped key, or None), read with a page's rows: a
    statement less. Opened into this session's cache, as `cipher` would."""
    cache = _cache(db.session())
    _open(cache, {family_id: stored for family_id, stored in stored_keys.items()
                  if family_id not in cache})


def cipher(family_id, *, create=False, new=False):
    """The family's data key (an AESGCM), from this session's cache, else unwrapped from
    `family_key` together with the keys of every family the session holds; with `create`,
    made and stored when the family has none yet."""
    session = db.session()
    cache = _cache(session)
    if not new and family_id not in cache:
        _load(session, {family_id} | _families_in_session(session))
    if cache.get(family_id) is None:
        if not create:
            raise crypto.CryptoError(f"family {family_id}: no family key (erased?)")
        data_key = os.urandom(32)
        session.add(FamilyKey(family_id=family_id,
                              wrapped=_ring().wrap(data_key, _context(family_id))))
        cache[family_id] = crypto.family_cipher(data_key)
    return cache[family_id]


def preload(family_ids):
    """Read these families' keys now, with a page's other reads: a page that logs its read
    commits before it renders, and its values are opened as it renders."""
    _load(db.session(), set(family_ids))


def load_all(session):
    """Every family's key into this session's cache, in one statement (a search that reads
    every family's name)."""
    ring, cache = crypto.keyring(), _cache(session)
    for family_id, wrapped in session.execute(sa.select(FamilyKey.family_id,
                                                        FamilyKey.wrapped)):
        if cache.get(family_id) is None:
            cache[family_id] = crypto.family_cipher(ring.unwrap(wrapped, _context(family_id)))


def open_stored(stored, context, family_id):
    """A value of a family read straight from its column: with its key, or with the ring
    when it is from before family keys."""
    if crypto.is_family_value(stored):
        return crypto.open_family(cipher(family_id), stored, context)
    return crypto.keyring().open(stored, context)


def parent_names(stored, family_id):
    """A family's parents' names read straight from `family.parent_names_enc` (a list's
    column, not a Family object)."""
    return open_stored(stored, crypto.context_of("family", "parent_names_enc", family_id),
                       family_id)


def sample_unwraps(session, limit):
    """Unwrap a few family keys (a restore's check); returns how many."""
    ring = crypto.keyring()
    rows = session.execute(sa.select(FamilyKey.family_id, FamilyKey.wrapped).limit(limit)).all()
    for family_id, wrapped in rows:
        ring.unwrap(wrapped, _context(family_id))
    return len(rows)


def forget(session, family_id):
    """Delete a family's key, first of all its rows (an erasure)."""
    _cache(session).pop(family_id, None)
    session.execute(sa.delete(FamilyKey).where(FamilyKey.family_id == family_id))


# --- wrapping keys: rewrapping and destroying ---------------------------------------------

def _on(key_id):
    return FamilyKey.wrapped.like(f"{crypto.WRAP_VERSION}.{key_id}.%")


def pending(ring=None):
    """How many family keys are not under the newest wrapping key."""
    ring = ring or crypto.keyring()
    if ring.newest_wrapping is None:
        return 0
    return db.session().execute(sa.select(sa.func.count()).select_from(FamilyKey).where(
        ~_on(ring.newest_wrapping))).scalar_one()


def add_wrapping_key():
    """A new newest wrapping key; the one before is marked superseded now."""
    now = datetime.now(UTC).isoformat(timespec="seconds")

    def change(keys):
        for entry in keys:
            entry.setdefault("superseded", now)
        return [*keys, crypto.new_wrapping_key()]

    return crypto.update_wrapping_keys(current_app, change)


def rewrap(*, batch=1000, progress=None, commit=None):
    """Move every family key under the newest wrapping key, `batch` rows a statement (one
    short row per family). `commit`: called after each batch by a caller that wants it to
    hold on its own."""
    ring = _ring()
    session = db.session()
    table = FamilyKey.__table__
    while True:
        rows = session.execute(sa.select(table.c.family_id, table.c.wrapped)
                               .where(~_on(ring.newest_wrapping))
                               .order_by(table.c.family_id).limit(batch)).all()
        if not rows:
            break
        fresh = [{"fid": family_id, "old": stored,
                  "new": ring.wrap(ring.unwrap(stored, _context(family_id)),
                                   _context(family_id))}
                 for family_id, stored in rows]
        # Only if unchanged meanwhile (an erasure deleted it, or another process rewrapped).
        session.connection().execute(
            table.update().where(table.c.family_id == sa.bindparam("fid"),
                                 table.c.wrapped == sa.bindparam("old"))
            .values(wrapped=sa.bindparam("new")), fresh)
        (commit or session.flush)()
        if progress:
            progress(len(rows))


def expired_wrapping_keys(now=None):
    """The wrapping keys no kept backup needs any more and no family key uses: superseded
    longer than WRAPPING_KEY_RETENTION_DAYS ago. Read in the caller's transaction, so call
    it after rewrap() and destroy them after the commit."""
    ring = crypto.keyring()
    days = current_app.config.get("WRAPPING_KEY_RETENTION_DAYS", 35)
    cut = (now or datetime.now(UTC)) - timedelta(days=days)
    material = crypto.read_material(current_app) or {}
    session = db.session()
    return [entry["id"] for entry in material.get("wrapping_keys", [])
            if entry["id"] != ring.newest_wrapping and entry.get("superseded")
            and datetime.fromisoformat(entry["superseded"]) <= cut
            and not session.execute(sa.select(sa.func.count()).select_from(FamilyKey)
                                    .where(_on(entry["id"]))).scalar_one()]


def destroy_wrapping_keys(key_ids):
    """Remove wrapping keys from the key file for good."""
    if key_ids:
        crypto.update_wrapping_keys(
            current_app, lambda keys: [k for k in keys if k["id"] not in set(key_ids)])


def checkpoint():
    """On SQLite, move the WAL into the database file and truncate it, so deleted rows
    (zeroed by secure_delete) leave no copy in the WAL. Skipped when a reader holds it."""
    engine = db.engine()
    if not isinstance(engine, sa.Engine) or engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:
        raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        raw.close()


# --- moving values: to their family's key (keys rotate), back to the ring (downgrade) ------

PARENTS = {"referral_event": ("referral", "referral_id"), "handover": ("referral", "referral_id"),
           "feedback_response": ("feedback_invite", "invite_id")}


def family_tables():
    """The tables whose encrypted values are a family's: their models have FamilyData."""
    return {model.__tablename__ for model in FamilyData.__subclasses__()}


def with_family(table, column, condition):
    """A select of (id, value, family id) of the rows of a family table that meet condition."""
    if table.name == "family":
        family, source = table.c.id, table
    elif table.name in PARENTS:
        name, link = PARENTS[table.name]
        parent = table.metadata.tables[name]
        family, source = parent.c.family_id, table.join(parent, parent.c.id == table.c[link])
    else:
        family, source = table.c.family_id, table
    return (sa.select(table.c.id, column, family).select_from(source).where(condition)
            .order_by(table.c.id))


def ring_sealed(column):
    return sa.and_(column.isnot(None), ~column.like(f"{crypto.FAMILY_VERSION}.%"))


def family_sealed(column):
    return column.like(f"{crypto.FAMILY_VERSION}.%")


def family_columns():
    tables = family_tables()
    return [(table, column) for table, column in crypto.encrypted_columns(SQLModel.metadata)
            if table.name in tables]


def to_family_keys(*, batch=500, progress=None, commit=None):
    """Seal every value of a family that the ring sealed (from before family keys) with the
    family's own key, `batch` rows at a time."""
    ring = crypto.keyring()
    session = db.session()
    for table, column in family_columns():
        while True:
            rows = session.execute(with_family(table, column, ring_sealed(column))
                                   .limit(batch)).all()
            if not rows:
                break
            for row_id, stored, family_id in rows:
                context = crypto.context_of(table.name, column.name, row_id)
                fresh = crypto.seal_family(cipher(family_id, create=True),
                                           ring.open(stored, context), context)
                session.execute(sa.update(table).where(table.c.id == row_id, column == stored)
                                .values({column.name: fresh}))
            (commit or session.flush)()
            if progress:
                progress(len(rows))


def to_ring(connection, ring):
    """Seal every family value with the ring again (a downgrade below family keys)."""
    keys = {}
    for family_id, wrapped in connection.execute(
            sa.select(FamilyKey.family_id, FamilyKey.wrapped)):
        keys[family_id] = crypto.family_cipher(ring.unwrap(wrapped, _context(family_id)))
    for table, column in family_columns():
        for row_id, stored, family_id in connection.execute(
                with_family(table, column, family_sealed(column))).all():
            context = crypto.context_of(table.name, column.name, row_id)
            plain = crypto.open_family(keys[family_id], stored, context)
            connection.execute(sa.update(table).where(table.c.id == row_id)
                               .values({column.name: ring.seal(plain, context)}))


def destroy_after_commit(session, expired, *, wal=False):
    """Destroy wrapping keys (and on SQLite checkpoint the WAL) once the transaction that
    moved every family key off them has committed; never after a rollback."""
    app = current_app._get_current_object()
    live = [True]

    @event.listens_for(session, "after_commit", once=True)
    def _done(_session):
        if live[0]:
            live[0] = False
            with app.app_context():
                destroy_wrapping_keys(expired)
                if wal:
                    checkpoint()

    @event.listens_for(session, "after_rollback", once=True)
    def _undone(_session):
        live[0] = False


def after_erasure():
    """What an erasure does besides deleting rows, once per transaction: a new wrapping
    key, every live family key rewrapped under it, and after the commit the wrapping keys
    past their retention destroyed and (SQLite) the WAL checkpointed."""
    add_wrapping_key()
    rewrap()
    destroy_after_commit(db.session(), expired_wrapping_keys(), wal=True)
