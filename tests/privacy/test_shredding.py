"""Erasure reaches every copy (issue 16, finding 2): the outsider captured every ciphertext
of a family and its blind indexes, erased the family, and found them in the SQLite file and
its WAL, four of them decrypting with keys.json. Now every value of a family is sealed with
the family's own key, which the erasure destroys first; the wrapped key's own copies go
with the wrapping key, destroyed once no kept backup needs it (retention 0 here)."""

import base64
import json
import subprocess
import uuid
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlmodel import SQLModel, select

from referral import crypto, db, familykeys
from referral.auth.models import User
from referral.cases.models import Family, address_index
from referral.cases.operations import create_family, log_signal
from referral.familykeys import FamilyKey
from referral.feedback import operations as feedback
from referral.privacy import operations, queries
from referral.referrals.models import Referral
from referral.referrals.operations import add_note

NOTE = "Qwixote-notitie: vader werkt nachtdiensten"
FEEDBACK = "Qwixote-antwoord: fijn dat iemand luisterde"
INDEXES = ("address_index", "name_index")


@pytest.fixture
def app(make_app):
    return make_app(WRAPPING_KEY_RETENTION_DAYS=0)


def _fill(app, world):
    """Give the world's family an address (a blind index), a note, feedback free text; and
    make a second family that must stay readable."""
    with app.app_context():
        session = db.session()
        owner, partner = session.get(User, world.owner.id), session.get(User, world.partner.id)
        family = session.get(Family, world.family_id)
        family.address, family.postcode, family.address_index = (
            "Qwixotestraat 12", "1011AB", address_index(family.organisation_id, "1011AB", "12"))
        referral = session.get(Referral, world.inbox_referral)
        add_note(partner, referral, NOTE)
        invitation, _token = feedback.invite(owner, family, referral=referral)
        feedback.submit(invitation, language="nl", scores={"heard": 5},
                        texts={"went_well": FEEDBACK})
        other = create_family(owner, parent_names="Bram Anders", phone="06-99999999",
                              children=[("Noor", date(2016, 5, 5))])
        log_signal(owner, other, domains=["food"], source="conversation",
                   observations="Anders gezien.")
        db.commit()
        return other.id


def _captured(app, family_id):
    """Every ciphertext of the family, with its table/column/row, its blind indexes and its
    wrapped key, read raw from the database."""
    values, indexes = [], []
    with app.app_context():
        session = db.session()
        for model, conditions, _order in queries.family_rows(family_id):
            for row in session.exec(select(model).where(*conditions)).all():
                for column in model.__table__.columns:
                    stored = getattr(row, column.name)
                    if column.info.get("encrypted") and stored and model.__tablename__ in (
                            familykeys.family_tables()):
                        values.append((crypto.context_of(model.__tablename__, column.name,
                                                         row.id), stored))
                    if column.name in INDEXES and stored:
                        indexes.append(stored)
        wrapped = session.get(FamilyKey, family_id).wrapped
    return values, indexes, wrapped


def _every_key(app):
    """Every 32-byte key the instance holds after the erasure: the ring's, the index key, the
    wrapping keys, and every live family's data key."""
    material = json.loads((Path(app.instance_path) / "keys.json").read_text())
    raw = [base64.urlsafe_b64decode(entry["key"]) for entry in
           material["encryption_keys"] + material["wrapping_keys"]]
    raw.append(base64.urlsafe_b64decode(material["index_key"]))
    with app.app_context():
        ring = crypto.keyring()
        for family_id, wrapped in db.session().execute(
                sa.select(FamilyKey.family_id, FamilyKey.wrapped)).all():
            raw.append(ring.unwrap(wrapped, crypto.context_of("family_key", "wrapped",
                                                              family_id)))
    return raw


def _opens(key, stored, context):
    body = stored.rsplit(".", 1)[1]
    data = base64.urlsafe_b64decode(body)
    try:
        AESGCM(key).decrypt(data[:12], data[12:], context.encode())
    except InvalidTag:
        return False
    return True


def _snapshot(app):
    """A copy of the whole database as it is now (a backup before the erasure): the SQLite
    file and its WAL, or a PostgreSQL dump."""
    url = app.config["DATABASE_URL"]
    if url.startswith("sqlite"):
        path = Path(url.removeprefix("sqlite:///"))
        return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal")) if p.exists())
    plain = sa.engine.make_url(url).set(drivername="postgresql").render_as_string(
        hide_password=False)
    return subprocess.run(["pg_dump", "--dbname", plain], check=True,  # noqa: S603, S607
                          capture_output=True).stdout


@pytest.mark.own_database
def test_an_erased_family_decrypts_from_no_copy_with_any_key_the_instance_has(app, world):
    other_id = _fill(app, world)
    values, indexes, wrapped = _captured(app, world.family_id)
    tables = {context.split("/")[0] for context, _stored in values}
    assert tables == {"family", "child", "signal", "consent", "referral", "referral_event",
                      "feedback_response"}
    assert all(stored.startswith("f1.") for _context, stored in values)
    assert len(indexes) >= 2  # the address and the child
    before = _snapshot(app)  # a backup made before the erasure
    assert all(stored.encode() in before for _context, stored in values)
    assert wrapped.encode() in before
    # Before the erasure the instance opens all of it: the checks below can fail.
    with app.app_context():
        ring = crypto.keyring()
        family_key = ring.unwrap(wrapped, crypto.context_of("family_key", "wrapped",
                                                            world.family_id))
        old_wrapping = crypto.key_id_of(wrapped)
    assert all(_opens(family_key, stored, context) for context, stored in values)

    with app.app_context():
        officer = db.session().get(User, world.privacy.id)
        operations.erase(officer, db.session().get(Family, world.family_id))
        db.commit()

    # The old wrapping key is gone from keys.json (retention 0), a new one wraps the rest.
    material = json.loads((Path(app.instance_path) / "keys.json").read_text())
    assert [entry["id"] for entry in material["wrapping_keys"]] != [old_wrapping]
    assert old_wrapping not in {entry["id"] for entry in material["wrapping_keys"]}
    keys = _every_key(app)
    assert family_key not in keys
    # Nothing captured opens with any key the instance has: not in the backup made before,
    # not anywhere.
    for context, stored in values:
        assert not any(_opens(key, stored, context) for key in keys), context
    family_context = crypto.context_of("family_key", "wrapped", world.family_id)
    assert not any(_opens(key, wrapped, family_context) for key in keys)
    # The raw database (and on SQLite its WAL) holds none of it any more.
    after = _snapshot(app)
    for _context, stored in values:
        assert stored.encode() not in after
        assert stored.rsplit(".", 1)[1][:40].encode() not in after
    assert wrapped.encode() not in after and wrapped.rsplit(".", 1)[1][:40].encode() not in after
    for index in indexes:
        assert index.encode() not in after
    for marker in (NOTE, FEEDBACK, "Zeynep"):
        assert marker.encode() not in after
    url = app.config["DATABASE_URL"]
    if url.startswith("sqlite"):
        wal = Path(f"{url.removeprefix('sqlite:///')}-wal")
        assert not wal.exists() or wal.stat().st_size == 0  # checkpointed and truncated

    # Another family reads as before, after the erasure and after a key rotation, which
    # rewraps family keys and leaves the family's values as they are.
    with app.app_context():
        assert db.session().get(Family, other_id).parent_names == "Bram Anders"
        raw_before = _raw_values(other_id)
        key_before = db.session().get(FamilyKey, other_id).wrapped
    runner = app.test_cli_runner()
    rotated = runner.invoke(args=["keys", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    with app.app_context():
        assert _raw_values(other_id) == raw_before
        assert db.session().get(FamilyKey, other_id).wrapped != key_before
        family = db.session().get(Family, other_id)
        assert family.parent_names == "Bram Anders" and family.phone == "06-99999999"


def _raw_values(family_id):
    session = db.session()
    return sorted(stored for model, conditions, _order in queries.family_rows(family_id)
                  for row in session.exec(select(model).where(*conditions)).all()
                  for column in model.__table__.columns
                  if column.info.get("encrypted") and (stored := getattr(row, column.name)))


def test_every_value_of_a_family_is_sealed_with_its_own_key(app, world):
    _fill(app, world)
    values, _indexes, wrapped = _captured(app, world.family_id)
    with app.app_context():
        ring = crypto.keyring()
        key = ring.unwrap(wrapped, crypto.context_of("family_key", "wrapped", world.family_id))
        ring_keys = [base64.urlsafe_b64decode(entry["key"]) for entry in json.loads(
            (Path(app.instance_path) / "keys.json").read_text())["encryption_keys"]]
    for context, stored in values:
        assert _opens(key, stored, context)
        assert not any(_opens(other, stored, context) for other in ring_keys)
    # Staff data is not a family's: it stays on the key ring.
    with app.app_context():
        user = db.session().get(User, world.owner.id)
        assert user.email_enc.startswith("v1.")
    assert {m.__tablename__ for m in SQLModel.__subclasses__()} >= familykeys.family_tables()


def test_values_sealed_with_the_ring_still_open_and_rotation_moves_them_to_the_family_key(
        app, world, runner):
    with app.app_context():  # a value as the code before family keys sealed it
        ring = crypto.keyring()
        context = crypto.context_of("family", "phone_enc", world.family_id)
        db.session().execute(sa.update(Family).where(Family.id == world.family_id)
                             .values(phone_enc=ring.seal("06-11111111", context)))
        db.commit()
    with app.app_context():
        assert db.session().get(Family, world.family_id).phone == "06-11111111"
    assert runner.invoke(args=["keys", "rotate"]).exit_code == 0
    with app.app_context():
        family = db.session().get(Family, world.family_id)
        assert family.phone_enc.startswith("f1.") and family.phone == "06-11111111"


def test_a_rollback_keeps_the_old_wrapping_key(app, world):
    with app.app_context():
        old = crypto.keyring().newest_wrapping
        officer = db.session().get(User, world.privacy.id)
        operations.erase(officer, db.session().get(Family, world.family_id))
        db.session().rollback()
        assert old in [entry["id"] for entry in crypto.read_material(app)["wrapping_keys"]]
        assert crypto.keyring().unwrap(
            db.session().get(FamilyKey, world.family_id).wrapped,
            crypto.context_of("family_key", "wrapped", world.family_id))


def test_the_retention_keeps_old_wrapping_keys_for_backups(make_app, world):
    app = make_app(WRAPPING_KEY_RETENTION_DAYS=35)
    with app.app_context():
        old = crypto.keyring().newest_wrapping
        officer = db.session().get(User, world.privacy.id)
        operations.erase(officer, db.session().get(Family, world.family_id))
        db.commit()
    with app.app_context():
        ids = [entry["id"] for entry in crypto.read_material(app)["wrapping_keys"]]
        assert old in ids and len(ids) == 2  # a backup of yesterday still opens
        later = db.utcnow() + timedelta(days=36)
        assert familykeys.expired_wrapping_keys(now=later) == [old]


def test_no_key_is_made_for_a_family_that_does_not_exist(app):
    with app.app_context(), pytest.raises(crypto.CryptoError):
        familykeys.cipher(uuid.uuid4())


@pytest.mark.own_database
def test_the_migration_goes_down_with_every_value_sealed_by_the_ring_again(app, world, runner):
    _fill(app, world)
    # Below family keys: the revision before them.
    assert runner.invoke(args=["db", "downgrade", "b7d41c9e2f60"]).exit_code == 0
    with app.app_context():
        session = db.session()
        assert not sa.inspect(session.connection()).has_table("family_key")
        ring = crypto.keyring()
        stored = session.execute(sa.select(Family.parent_names_enc).where(
            Family.id == world.family_id)).scalar_one()
        assert stored.startswith("v1.") and ring.open(stored, crypto.context_of(
            "family", "parent_names_enc", world.family_id)) == "Zeynep Yilmaz"
        notes = session.execute(sa.text(
            "SELECT id, text_enc FROM referral_event WHERE text_enc IS NOT NULL")).all()
        assert notes and all(text.startswith("v1.") for _id, text in notes)
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    with app.app_context():  # readable as it is, then moved to a new family key
        assert db.session().get(Family, world.family_id).parent_names == "Zeynep Yilmaz"
    assert runner.invoke(args=["keys", "rotate"]).exit_code == 0
    with app.app_context():
        family = db.session().get(Family, world.family_id)
        assert family.parent_names_enc.startswith("f1.")
        assert family.parent_names == "Zeynep Yilmaz"
        assert familykeys.pending() == 0
