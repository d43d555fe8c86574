"""Rotating and retiring the encryption keys: operations for the command line.

A rotation adds a key to the ring in the instance folder and re-encrypts every value that is
not a family's with it; a family's values are sealed with the family's own key
(referral.familykeys), so a rotation leaves them as they are and rewraps the family keys
under a new wrapping key instead (one short row per family). Values of a family still sealed
with the ring (from before family keys) move to their family's key. A key is retired once no
value uses it any more; old wrapping keys are destroyed after WRAPPING_KEY_RETENTION_DAYS.
Keys from REFERRAL_ENCRYPTION_KEYS are changed there, by the operator, not here."""

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app
from sqlmodel import SQLModel

from referral import audit, crypto, db, familykeys, policy
from referral.errors import Refused
from referral.i18n import lazy_gettext as _l


@dataclass(frozen=True)
class Rotation:
    key: str  # the newest key, which every value is to use
    pending: int  # values that still use an older key
    resumed: bool  # an earlier rotation was interrupted: no key was added


def _on(column, key_id):
    return column.like(f"{crypto.VERSION}.{key_id}.%")


def _not_on(column, key_id):
    return sa.and_(column.isnot(None), ~_on(column, key_id))


def _ring_columns():
    family = familykeys.family_tables()
    return [(table, column) for table, column in crypto.encrypted_columns(SQLModel.metadata)
            if table.name not in family]


def _count(condition, key_id, columns=None):
    """How many encrypted values, in every table, meet the condition about this key."""
    session = db.session()
    return sum(
        session.execute(sa.select(sa.func.count()).select_from(table)
                        .where(condition(column, key_id))).scalar_one()
        for table, column in columns or crypto.encrypted_columns(SQLModel.metadata))


def _pending(ring):
    """What a rotation still has to do: values not on the newest key (not a family's), a
    family's values still sealed with the ring, family keys not under the newest wrapping
    key."""
    return (_count(_not_on, ring.newest, _ring_columns())
            + _count(lambda column, _key: familykeys.ring_sealed(column), None,
                     familykeys.family_columns())
            + familykeys.pending(ring))


def start_rotation(actor):
    """Add a new key to the ring, unless values still wait for the newest one (then the
    interrupted rotation resumes); returns what is to be re-encrypted."""
    policy.require(actor, "keys.rotate")
    app = current_app
    if app.config.get("ENCRYPTION_KEYS"):
        raise Refused(_l("The keys come from REFERRAL_ENCRYPTION_KEYS: add a new key at the "
                         "end there, restart, then run this command again to re-encrypt."))
    ring = crypto.keyring()
    pending = _pending(ring) if ring.newest_wrapping else 0
    if pending:
        audit.record("update", object_type="keys", user=actor,
                     summary=f"key rotation to {ring.newest} resumed")
        return Rotation(ring.newest, pending, resumed=True)
    material = crypto.read_material(app)
    material["encryption_keys"].append(crypto.new_key())
    crypto.write_material(app, material)
    crypto.load_keyring(app)
    ring = app.extensions["referral.keyring"] = familykeys.add_wrapping_key()
    audit.record("create", object_type="keys", user=actor,
                 summary=f"key {ring.newest} and wrapping key {ring.newest_wrapping} added")
    return Rotation(ring.newest, _pending(ring), resumed=False)


def reencrypt(actor, *, batch=500, progress=None, commit=None):
    """Re-encrypt every value (not a family's) that does not use the newest key yet, move a
    family's values sealed with the ring to the family's key, and rewrap every family key
    under the newest wrapping key, `batch` rows at a time; then destroy the wrapping keys
    past their retention, once that holds.

    `commit`: called after each batch by a caller that wants it to hold on its own (the
    command line: an interrupted rotation then resumes where it stopped). Without it
    everything is in the caller's transaction."""
    policy.require(actor, "keys.rotate")
    ring = crypto.keyring()
    session = db.session()
    for table, column in _ring_columns():
        while True:
            rows = session.execute(
                sa.select(table.c.id, column).where(_not_on(column, ring.newest))
                .order_by(table.c.id).limit(batch)).all()
            if not rows:
                break
            for row_id, stored in rows:
                context = crypto.context_of(table.name, column.name, row_id)
                fresh = ring.seal(ring.open(stored, context), context)
                # Only if unchanged meanwhile: a concurrent write used the newest key.
                session.execute(sa.update(table).where(table.c.id == row_id, column == stored)
                                .values({column.name: fresh}))
            (commit or session.flush)()
            if progress:
                progress(len(rows))
    familykeys.to_family_keys(batch=batch, progress=progress, commit=commit)
    familykeys.rewrap(batch=batch, progress=progress, commit=commit)
    familykeys.destroy_after_commit(session, familykeys.expired_wrapping_keys())
    audit.record("update", object_type="keys", user=actor,
                 summary=f"every value re-encrypted with key {ring.newest}, every family key "
                         f"rewrapped with {crypto.keyring().newest_wrapping}")


def retire(actor, key_id):
    """Remove a key from the ring; refused while any value still uses it."""
    policy.require(actor, "keys.rotate")
    app = current_app
    if app.config.get("ENCRYPTION_KEYS"):
        raise Refused(_l("The keys come from REFERRAL_ENCRYPTION_KEYS: remove the key there."))
    ring = crypto.keyring()
    if key_id not in ring.keys:
        raise Refused(_l("There is no key %(key)s.", key=key_id))
    if key_id == ring.newest:
        raise Refused(_l("Key %(key)s is the newest key: rotate first.", key=key_id))
    in_use = _count(_on, key_id)
    if in_use:
        raise Refused(_l("%(num)d values still use key %(key)s: run 'keys rotate' first.",
                         num=in_use, key=key_id))
    material = crypto.read_material(app)
    material["encryption_keys"] = [k for k in material["encryption_keys"] if k["id"] != key_id]
    crypto.write_material(app, material)
    app.extensions["referral.keyring"] = crypto.load_keyring(app)
    audit.record("delete", object_type="keys", user=actor, summary=f"key {key_id} retired")
