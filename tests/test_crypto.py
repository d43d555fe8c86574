"""Encryption at rest: nothing readable on disk, nothing that decrypts in the wrong place."""

import json
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from referral import crypto, db
from referral.auth.models import User
from referral.auth.queries import find_user
from tests.conftest import PG_URL, audit_entries

MARKERS = ("Zwanenburg-Qwixote", "marker.qwixote@example.org")


@pytest.fixture
def marked(app, runner):
    """Two accounts created through the CLI, one carrying marker values."""
    for email, name in ((MARKERS[1], f"Anouk {MARKERS[0]}"), ("other@example.org", "Bram Ander")):
        result = runner.invoke(args=["users", "create", email, "--name", name, "--role",
                                     "partner", "--password-stdin"],
                               input="een-lang-genoeg-wachtwoord\n")
        assert result.exit_code == 0, result.output
    with app.app_context():
        return {user.email: user.id for user in
                db.session().exec(sa.select(User)).scalars()}


def _raw(app, user_id, column):
    with app.app_context():
        return db.session().execute(sa.text(f"SELECT {column} FROM user_account WHERE id = :id"),
                                    {"id": user_id.hex if db.engine().dialect.name == "sqlite"
                                     else user_id}).scalar_one()


def _write_raw(app, user_id, column, value):
    with app.app_context():
        db.session().execute(sa.update(User).where(User.id == user_id).values({column: value}))
        db.commit()


def _read(app, user_id, attribute):
    with app.app_context():
        return getattr(db.session().get(User, user_id), attribute)


def test_values_round_trip_and_lookup_is_normalised(app, marked):
    user_id = marked[MARKERS[1]]
    assert _read(app, user_id, "name") == f"Anouk {MARKERS[0]}"
    with app.app_context():
        assert find_user("  MARKER.Qwixote@Example.org ").id == user_id


def test_same_value_encrypts_differently_each_time(app):
    with app.app_context():
        ring = crypto.keyring()
        assert ring.seal("Jansen", "t/c/1") != ring.seal("Jansen", "t/c/1")


def test_stored_values_are_not_readable(app, marked):
    stored = _raw(app, marked[MARKERS[1]], "name_enc")
    assert stored.startswith("v1.") and MARKERS[0] not in stored


def test_value_swapped_between_rows_is_refused(app, marked):
    marker_id, other_id = marked[MARKERS[1]], marked["other@example.org"]
    _write_raw(app, other_id, "name_enc", _raw(app, marker_id, "name_enc"))
    with pytest.raises(crypto.CryptoError, match="copied from another row or column"):
        _read(app, other_id, "name")


def test_value_moved_to_another_column_is_refused(app, marked):
    user_id = marked[MARKERS[1]]
    _write_raw(app, user_id, "name_enc", _raw(app, user_id, "email_enc"))
    with pytest.raises(crypto.CryptoError):
        _read(app, user_id, "name")


def test_flipped_bit_is_refused(app, marked):
    user_id = marked[MARKERS[1]]
    stored = _raw(app, user_id, "name_enc")
    head, body = stored.rsplit(".", 1)
    flipped = body[:20] + ("A" if body[20] != "A" else "B") + body[21:]
    _write_raw(app, user_id, "name_enc", f"{head}.{flipped}")
    with pytest.raises(crypto.CryptoError):
        _read(app, user_id, "name")


def test_unknown_key_is_refused(app, marked):
    user_id = marked[MARKERS[1]]
    _, _, body = _raw(app, user_id, "name_enc").split(".", 2)
    _write_raw(app, user_id, "name_enc", f"v1.kunknown.{body}")
    with pytest.raises(crypto.CryptoError, match="unknown key"):
        _read(app, user_id, "name")


def test_no_marker_on_disk(app, marked):
    """Neither the database files (with the WAL) nor a dump contain the marker values."""
    if PG_URL:
        url = sa.engine.make_url(app.config["DATABASE_URL"]).set(drivername="postgresql")
        dump = subprocess.run(["pg_dump", "--no-owner", url.render_as_string(False)],
                              capture_output=True, check=True).stdout
        assert b"user_account" in dump
        blobs = [dump]
    else:
        # Read before any checkpoint: the WAL file must hold no marker either.
        database = Path(sa.engine.make_url(app.config["DATABASE_URL"]).database)
        blobs = [path.read_bytes() for path in (database, Path(f"{database}-wal"))
                 if path.exists()]
    for blob in blobs:
        for marker in MARKERS:
            assert marker.encode() not in blob
            assert marker.lower().encode() not in blob.lower()


def test_rotation_leaves_every_value_readable_and_the_old_key_unused(app, runner, marked):
    with app.app_context():
        old = crypto.keyring().newest
    refused = runner.invoke(args=["keys", "retire", old])
    assert refused.exit_code != 0 and "newest" in refused.output
    result = runner.invoke(args=["keys", "rotate"])
    assert result.exit_code == 0, result.output
    new = app.extensions["referral.keyring"].newest
    assert new != old
    for user_id in marked.values():
        assert _raw(app, user_id, "name_enc").startswith(f"v1.{new}.")
        assert _raw(app, user_id, "email_enc").startswith(f"v1.{new}.")
    assert _read(app, marked[MARKERS[1]], "name") == f"Anouk {MARKERS[0]}"
    retired = runner.invoke(args=["keys", "retire", old])
    assert retired.exit_code == 0, retired.output
    stored = json.loads((crypto.key_file(app)).read_text())
    assert [k["id"] for k in stored["encryption_keys"]] == [new]
    assert _read(app, marked["other@example.org"], "email") == "other@example.org"


def test_rotation_and_retirement_are_in_the_access_log(app, runner, marked):
    with app.app_context():
        old = crypto.keyring().newest
    assert runner.invoke(args=["keys", "rotate"]).exit_code == 0
    assert runner.invoke(args=["keys", "retire", old]).exit_code == 0
    new = app.extensions["referral.keyring"].newest
    wrapping = app.extensions["referral.keyring"].newest_wrapping
    entries = [(e.action, e.summary, e.user_id) for e in audit_entries(app, object_type="keys")]
    assert entries == [("create", f"key {new} and wrapping key {wrapping} added", None),
                       ("update", f"every value re-encrypted with key {new}, every family "
                                  f"key rewrapped with {wrapping}", None),
                       ("delete", f"key {old} retired", None)]
    assert runner.invoke(args=["audit", "verify"]).exit_code == 0


def test_retire_refused_while_a_value_uses_the_key(app, runner, marked, monkeypatch):
    with app.app_context():
        old = crypto.keyring().newest
    calls = {"n": 0}
    real_seal = crypto.KeyRing.seal

    def interrupted(self, plaintext, context):
        calls["n"] += 1
        if calls["n"] > 1:
            raise KeyboardInterrupt
        return real_seal(self, plaintext, context)

    monkeypatch.setattr(crypto.KeyRing, "seal", interrupted)
    first = runner.invoke(args=["keys", "rotate", "--batch", "1"])
    assert first.exit_code != 0  # interrupted after one value
    monkeypatch.setattr(crypto.KeyRing, "seal", real_seal)
    refused = runner.invoke(args=["keys", "retire", old])
    assert refused.exit_code != 0 and "still use" in refused.output
    resumed = runner.invoke(args=["keys", "rotate"])
    assert resumed.exit_code == 0 and "Resuming" in resumed.output, resumed.output
    keys = json.loads(crypto.key_file(app).read_text())["encryption_keys"]
    assert len(keys) == 2  # resuming added no third key
    assert runner.invoke(args=["keys", "retire", old]).exit_code == 0
    assert _read(app, marked[MARKERS[1]], "name") == f"Anouk {MARKERS[0]}"


def test_each_encrypted_column_is_declared_once_with_its_plain_property():
    """`x_enc = encrypted_field()` alone gives the stored column and the property `x`."""
    from sqlmodel import SQLModel

    import referral.models  # noqa: F401  (every table)

    classes = {mapper.local_table.name: mapper.class_
               for mapper in SQLModel._sa_registry.mappers}
    found = crypto.encrypted_columns(SQLModel.metadata)
    assert len(found) >= 20
    for table, column in found:
        plain = column.info["plain"] or column.name.removesuffix("_enc")
        attribute = getattr(classes[table.name], plain)
        assert isinstance(attribute, property), (table.name, plain)
