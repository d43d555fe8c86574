"""Back up the database without its keys, export the keys apart under a passphrase, and
restore both into a fresh instance; a restore re-applies the erasures made since."""

import base64
import io
import json
import os
import pty
import select as io_select
import signal
import stat
import sys
import tarfile
import termios
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel, select

from referral import crypto, db, familykeys
from referral.audit.models import AuditEvent
from referral.auth.models import User
from referral.backup import open_keys
from referral.cases.models import Family
from referral.familykeys import FamilyKey
from referral.privacy import operations as privacy
from referral.privacy import queries as privacy_queries
from referral.privacy.models import ErasureReceipt
from tests.conftest import post_form
from tests.world import PRIVATE

# A backup reads the database with a program or connection of its own, and a restore needs a
# database to replace.
pytestmark = pytest.mark.own_database

PASSPHRASE = "paarse olifant danst zacht"


@pytest.fixture
def archive(app, world, tmp_path):  # noqa: F811
    """A backup of the world's database, made with the command line."""
    path = tmp_path / "backup.tar.gz"
    result = app.test_cli_runner().invoke(args=["backup", "create", str(path)])
    assert result.exit_code == 0, result.output
    return path


def _export(app, path, passphrase=PASSPHRASE):
    return app.test_cli_runner().invoke(args=["backup", "keys", "--out", str(path)],
                                        input=f"{passphrase}\n")


@pytest.fixture
def keys(app, tmp_path):
    """The world's keys, exported under the passphrase."""
    path = tmp_path / "keys.referral-keys"
    result = _export(app, path)
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def target(make_app, new_database):
    """An empty, migrated database in an instance folder with keys of its own (as after init)."""
    instance, url = new_database("target")
    crypto.write_private(instance / "keys.json", json.dumps(crypto.new_key_material()))
    return make_app(INSTANCE_PATH=str(instance), DATABASE_URL=url)


def _restore(app, path, *options, keys=None, passphrase=PASSPHRASE, input=""):
    with_keys = ["--keys", str(keys)] if keys else []
    return app.test_cli_runner().invoke(
        args=["backup", "restore", str(path), *with_keys, *options],
        input=(f"{passphrase}\n" if keys else "") + input)


def _users(app):
    with app.app_context():
        return len(db.session().exec(select(User)).all())


def _state(app):
    """What a refused restore must leave as it was: keys, head file and accounts."""
    instance = crypto.key_file(app).parent
    head = instance / "audit-head.log"
    return (crypto.key_file(app).read_bytes(), head.read_bytes() if head.exists() else None,
            _users(app))


def _secrets(app):
    """Every key value of the instance, as its base64 text and as raw bytes."""
    material = json.loads(crypto.key_file(app).read_text())
    texts = [entry["key"] for entry in material["encryption_keys"]] + [material["index_key"]]
    assert len(texts) >= 2
    return [form for text in texts
            for form in (text.encode(), base64.urlsafe_b64decode(text),
                         base64.b64encode(base64.urlsafe_b64decode(text)))]


def test_the_archive_is_private_and_holds_no_key_material(app, archive):
    assert stat.S_IMODE(os.stat(archive).st_mode) == 0o600
    with tarfile.open(archive) as tar:
        contents = {member.name: tar.extractfile(member).read() for member in tar.getmembers()}
    kind = "sqlite" if app.config["DATABASE_URL"].startswith("sqlite") else "postgresql"
    database = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}[kind]
    assert set(contents) == {"manifest.json", "audit-head.log", database}
    for name, data in contents.items():
        for secret in _secrets(app):
            assert secret not in data, f"key material in {name}"
    manifest = json.loads(contents["manifest.json"])
    material = json.loads(crypto.key_file(app).read_text())
    assert manifest["database"] == kind and manifest["alembic_revision"]
    assert manifest["key_ids"] == [key["id"] for key in material["encryption_keys"]]
    assert manifest["key_fingerprints"]  # lets a restore tell the matching key file


def test_the_key_export_is_private_and_unreadable_without_the_passphrase(app, keys):
    assert stat.S_IMODE(os.stat(keys).st_mode) == 0o600
    data = keys.read_bytes()
    for secret in _secrets(app):
        assert secret not in data
    exported = json.loads(data)
    assert exported["version"] == 1 and exported["kdf"]["name"] == "argon2id"
    assert exported["cipher"] == "aes-256-gcm"


def _at_a_terminal(command, env, answers):
    """Run `command` in a pseudo-terminal and type each answer once it asks with echo off
    (as getpass does: typed sooner, the input would be flushed); return its exit status and
    everything the terminal showed."""
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the command, with the terminal as its input and output
        try:
            os.execvpe(command[0], command, env)  # noqa: S606  # our own flask, our arguments
        finally:
            os._exit(127)
    shown, fresh, answers = b"", b"", list(answers)
    try:
        while io_select.select([terminal], [], [], 60)[0]:
            try:
                chunk = os.read(terminal, 1024)
            except OSError:  # the command ended and closed the terminal
                break
            shown, fresh = shown + chunk, fresh + chunk
            asking = not termios.tcgetattr(terminal)[3] & termios.ECHO
            # A new prompt since the last answer: not the line end getpass writes after
            # an answer while echo is still off (typed then, an answer would be flushed).
            if answers and asking and fresh.strip().endswith(b":"):
                os.write(terminal, answers.pop(0).encode() + b"\n")
                fresh = b""
        else:
            os.kill(pid, signal.SIGKILL)
    finally:
        _pid, status = os.waitpid(pid, 0)
        os.close(terminal)
    return os.waitstatus_to_exitcode(status), shown.decode(errors="replace")


@pytest.mark.own_database
def test_at_a_terminal_the_passphrase_is_asked_twice_and_never_shown(app, tmp_path):
    out = tmp_path / "keys.referral-keys"
    flask = str(Path(sys.executable).with_name("flask"))
    env = {**os.environ, "REFERRAL_INSTANCE_PATH": app.config["INSTANCE_PATH"],
           "REFERRAL_DATABASE_URL": app.config["DATABASE_URL"]}
    status, shown = _at_a_terminal([flask, "--app", "referral", "backup", "keys", "--out",
                                    str(out)], env, [PASSPHRASE, PASSPHRASE])
    assert status == 0, shown
    assert "Passphrase of the key export:" in shown and "Repeat for confirmation:" in shown
    assert PASSPHRASE not in shown  # not echoed
    material = open_keys(out.read_text(), PASSPHRASE)
    assert material == crypto.read_material(app)
    # A slip in the repetition: asked again, from the start.
    status, shown = _at_a_terminal([flask, "--app", "referral", "backup", "keys", "--out",
                                    str(tmp_path / "other")], env,
                                   [PASSPHRASE, "paarse olifant danst zach", PASSPHRASE,
                                    PASSPHRASE])
    assert status == 0 and "do not match" in shown and shown.count("Repeat") == 2
    assert open_keys((tmp_path / "other").read_text(), PASSPHRASE) == material


def test_a_short_passphrase_is_refused(app, world, tmp_path):  # noqa: F811
    path = tmp_path / "keys.referral-keys"
    result = _export(app, path, passphrase="kort wachtw")  # 11 characters
    assert result.exit_code == 1 and "at least 12 characters" in result.output
    assert not path.exists()


def test_restore_into_a_fresh_instance_shows_the_family_to_its_owner(archive, keys, target,
                                                                     world):  # noqa: F811
    result = _restore(target, archive, "--yes", keys=keys)
    assert result.exit_code == 0, result.output
    assert "the access log is intact" in result.output and "decrypt" in result.output
    assert "Kept the keys that were here" in result.output
    client = target.test_client()
    post_form(client, "/login", {"email": world.owner.email, "password": world.owner.password})
    page = client.get(f"/families/{world.family_id}")
    assert page.status_code == 200 and "Zeynep Yilmaz" in page.text
    verified = target.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output


def test_restore_without_the_key_file_is_refused(archive, target):
    before = _state(target)
    result = _restore(target, archive, "--yes")
    assert result.exit_code == 1 and "--keys" in result.output
    assert "Nothing was changed" in result.output
    assert _state(target) == before


def test_a_wrong_passphrase_is_refused(archive, keys, target):
    before = _state(target)
    result = _restore(target, archive, "--yes", keys=keys, passphrase="een ander wachtwoord")
    assert result.exit_code == 1 and "passphrase does not open" in result.output
    assert "Nothing was changed" in result.output
    assert _state(target) == before


def test_keys_of_another_instance_are_refused(archive, target, tmp_path):
    other = tmp_path / "other.referral-keys"
    exported = _export(target, other)  # the target's own keys, not the backup's
    assert exported.exit_code == 0, exported.output
    before = _state(target)
    result = _restore(target, archive, "--yes", keys=other)
    assert result.exit_code == 1 and "do not belong to this backup" in result.output
    assert "Nothing was changed" in result.output
    assert _state(target) == before


def test_a_target_with_data_is_refused_without_force_and_asked_with_it(app, archive, keys,
                                                                       world):  # noqa: F811
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "nieuw@example.org", "--name", "Nieuw",
                                 "--role", "coordinator", "--password-stdin"],
                           input="paarse-olifant-danst-zacht\n")
    assert result.exit_code == 0, result.output
    before = _state(app)
    refused = _restore(app, archive, "--yes", keys=keys)
    assert refused.exit_code == 1 and "already holds data" in refused.output
    declined = _restore(app, archive, "--force", keys=keys, input="n\n")
    assert declined.exit_code == 1 and "Replace the database" in declined.output
    assert _state(app) == before
    forced = _restore(app, archive, "--force", "--yes", keys=keys)
    assert forced.exit_code == 0, forced.output
    assert _users(app) == before[2] - 1  # back to the moment of the backup


def _family_rows(app, family_id):
    with app.app_context():
        return {model.__tablename__: len(db.session().exec(select(model).where(*conditions)).all())
                for model, conditions, _order in privacy_queries.family_rows(family_id)}


def _every_decrypted_value(app):
    """Every encrypted value in the database, decrypted with the instance's keys."""
    with app.app_context():
        session = db.session()
        families = session.exec(select(FamilyKey.family_id)).all()
        return [_open_any(stored, crypto.context_of(table.name, column.name, row_id), families)
                for table, column in crypto.encrypted_columns(SQLModel.metadata)
                for row_id, stored in session.execute(
                    sa.select(table.c.id, column).where(column.isnot(None)))]


def _open_any(stored, context, families):
    """A value sealed with the ring, or with whichever family's key opens it."""
    if not crypto.is_family_value(stored):
        return crypto.keyring().open(stored, context)
    for family_id in families:
        try:
            return crypto.open_family(familykeys.cipher(family_id), stored, context)
        except crypto.CryptoError:
            continue
    raise crypto.CryptoError(f"{context}: opens with no family's key")


def test_a_restore_from_before_an_erasure_erases_the_family_again(app, archive, keys, world):  # noqa: F811
    assert sum(_family_rows(app, world.family_id).values()) > 5
    assert any("Zeynep" in value for value in _every_decrypted_value(app))
    with app.app_context():
        session = db.session()
        privacy.erase(session.get(User, world.privacy.id), session.get(Family, world.family_id))
        db.commit()
    listed = Path(app.instance_path) / "erased-families.log"  # the default ERASURE_LIST
    assert stat.S_IMODE(os.stat(listed).st_mode) == 0o600
    [line] = listed.read_text().splitlines()
    assert line.split()[0] == str(world.family_id)
    assert not any(text in line for text in PRIVATE)

    result = _restore(app, archive, "--force", "--yes", keys=keys)
    assert result.exit_code == 0, result.output
    assert "Re-applied 1 erasure" in result.output
    assert sum(_family_rows(app, world.family_id).values()) == 0
    assert not any(text in value for value in _every_decrypted_value(app) for text in PRIVATE)
    with app.app_context():
        session = db.session()
        assert session.get(Family, world.family_id) is None
        [receipt] = session.exec(select(ErasureReceipt).where(
            ErasureReceipt.family_ref == world.family_id)).all()
        assert receipt.reason == "restore" and receipt.erased_by is None
        entry = session.exec(select(AuditEvent).where(
            AuditEvent.family_id == world.family_id, AuditEvent.action == "delete")).one()
        assert entry.user_id is None and entry.summary == "family erased (restore)"
    client = app.test_client()
    post_form(client, "/login", {"email": world.owner.email, "password": world.owner.password})
    page = client.get(f"/families/{world.family_id}")
    assert page.status_code == 404 and not any(text in page.text for text in PRIVATE)
    assert listed.read_text().splitlines() == [line]  # listed once, not again
    verified = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    again = _restore(app, archive, "--force", "--yes", keys=keys)  # every restore, again
    assert again.exit_code == 0 and "Re-applied 1 erasure" in again.output


def test_a_key_export_made_after_an_erasure_restores_a_backup_from_before_it(app, archive,
                                                                           world, tmp_path):  # noqa: F811
    with app.app_context():
        session = db.session()
        privacy.erase(session.get(User, world.privacy.id), session.get(Family, world.family_id))
        db.commit()
    later = tmp_path / "later.referral-keys"  # the old wrapping key is kept for the retention
    assert _export(app, later).exit_code == 0
    result = _restore(app, archive, "--force", "--yes", keys=later)
    assert result.exit_code == 0, result.output
    assert "Re-applied 1 erasure" in result.output
    assert sum(_family_rows(app, world.family_id).values()) == 0


def test_the_erasure_list_is_written_only_when_the_erasure_commits(app, world):  # noqa: F811
    listed = os.path.join(app.instance_path, "erased-families.log")
    with app.app_context():
        session = db.session()
        privacy.erase(session.get(User, world.privacy.id), session.get(Family, world.family_id))
        db.session().rollback()
    assert not os.path.exists(listed)


def _rewrite(path, out, **manifest_changes):
    with tarfile.open(path) as source, tarfile.open(out, "w:gz") as tar:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name == "manifest.json":
                data = json.dumps({**json.loads(data), **manifest_changes}).encode()
                member.size = len(data)
            tar.addfile(member, io.BytesIO(data))
    return out


def _truncated(path, out):
    out.write_bytes(path.read_bytes()[: os.path.getsize(path) // 2])
    return out


def _garbage(_path, out):
    out.write_bytes(b"dit is geen archief\n" * 100)
    return out


@pytest.mark.parametrize(("spoil", "message"), [
    (lambda path, out: _rewrite(path, out, alembic_revision="ffffffffffff"),
     "revision ffffffffffff, which this version of the tool does not know"),
    (_truncated, "not a readable backup archive"),
    (_garbage, "not a readable backup archive"),
], ids=["newer revision", "truncated", "not an archive"])
def test_a_bad_archive_leaves_the_target_untouched(archive, keys, target, tmp_path, spoil,
                                                   message):
    before = _state(target)
    result = _restore(target, spoil(archive, tmp_path / "spoilt.tar.gz"), "--force", "--yes",
                      keys=keys)
    assert result.exit_code == 1 and message in result.output
    assert "Nothing was changed" in result.output or "nothing was changed" in result.output
    assert _state(target) == before
    with target.app_context():
        tables = sa.inspect(db.engine()).get_table_names()
    assert "user_account" in tables  # the empty database is still there


def test_an_altered_key_export_is_refused(archive, keys, target):
    exported = json.loads(keys.read_text())
    exported["key_ids"] = ["kanders"]  # the header is bound to the ciphertext
    keys.write_text(json.dumps(exported))
    before = _state(target)
    result = _restore(target, archive, "--yes", keys=keys)
    assert result.exit_code == 1 and "passphrase does not open" in result.output
    assert _state(target) == before


def test_only_postgresql_needs_pg_dump(app, world, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump anywhere
    path = tmp_path / "backup.tar.gz"
    result = app.test_cli_runner().invoke(args=["backup", "create", str(path)])
    if app.config["DATABASE_URL"].startswith("sqlite"):
        assert result.exit_code == 0 and path.exists()
    else:
        assert result.exit_code == 1 and "pg_dump is not installed" in result.output
        assert not path.exists()



def test_a_restore_on_a_new_machine_reads_the_configured_erasure_list(app, archive, keys, world,
                                                                      make_app, new_database,
                                                                      tmp_path):  # noqa: F811
    listed = tmp_path / "elsewhere" / "erased.log"  # another mount, say
    listed.parent.mkdir()
    app.config["ERASURE_LIST"] = str(listed)
    with app.app_context():
        session = db.session()
        privacy.erase(session.get(User, world.privacy.id), session.get(Family, world.family_id))
        db.commit()
    assert listed.exists() and not (Path(app.instance_path) / "erased-families.log").exists()

    instance, url = new_database("new")
    new = make_app(INSTANCE_PATH=str(instance), DATABASE_URL=url, ERASURE_LIST=str(listed))
    result = _restore(new, archive, "--yes", keys=keys)
    assert result.exit_code == 0, result.output
    assert "Re-applied 1 erasure" in result.output
    assert sum(_family_rows(new, world.family_id).values()) == 0


def test_configured_keys_are_checked_against_the_backup(app, world, make_app, new_database,
                                                        tmp_path):  # noqa: F811
    material = json.loads(crypto.key_file(app).read_text())
    configured = {"ENCRYPTION_KEYS": material["encryption_keys"],
                  "INDEX_KEY": material["index_key"], "LOG_KEY": material["log_key"]}
    archive = tmp_path / "backup.tar.gz"
    made = make_app(**configured).test_cli_runner().invoke(args=["backup", "create",
                                                                 str(archive)])
    assert made.exit_code == 0, made.output

    other = crypto.new_key_material()
    instance, url = new_database("wrong")
    wrong = make_app(INSTANCE_PATH=str(instance), DATABASE_URL=url,
                     ENCRYPTION_KEYS=other["encryption_keys"], INDEX_KEY=other["index_key"],
                     LOG_KEY=other["log_key"])
    refused = _restore(wrong, archive, "--yes")
    assert refused.exit_code == 1 and "do not belong to this backup" in refused.output
    with_file = _restore(wrong, archive, "--yes", keys=archive)
    assert with_file.exit_code == 1 and "restore without --keys" in with_file.output

    instance, url = new_database("right")
    right = make_app(INSTANCE_PATH=str(instance), DATABASE_URL=url, **configured)
    result = _restore(right, archive, "--yes")
    assert result.exit_code == 0, result.output
    assert "they fit" in result.output and "decrypt" in result.output
    with right.app_context():
        family = db.session().get(Family, world.family_id)
        assert "Zeynep" in family.parent_names


def test_a_key_export_from_before_a_rotation_does_not_fit_a_later_backup(app, world, keys,
                                                                         target, tmp_path):  # noqa: F811
    runner = app.test_cli_runner()
    rotated = runner.invoke(args=["keys", "rotate"])
    assert rotated.exit_code == 0, rotated.output
    newest = json.loads(crypto.key_file(app).read_text())["encryption_keys"][-1]["id"]
    archive = tmp_path / "after-rotation.tar.gz"
    assert runner.invoke(args=["backup", "create", str(archive)]).exit_code == 0
    before = _state(target)
    refused = _restore(target, archive, "--yes", keys=keys)  # exported before the rotation
    assert refused.exit_code == 1 and "do not belong to this backup" in refused.output
    assert f"encryption_keys/{newest}" in refused.output
    assert _state(target) == before
    fresh = tmp_path / "keys-after-rotation.json"
    assert _export(app, fresh).exit_code == 0
    result = _restore(target, archive, "--yes", keys=fresh)
    assert result.exit_code == 0, result.output


def test_the_daily_retention_lists_its_erasures_too(app, world):  # noqa: F811
    from datetime import UTC, datetime, timedelta

    from referral import policy
    from referral.referrals.models import Referral, Status

    with app.app_context():
        session = db.session()
        for referral in session.exec(select(Referral).where(
                Referral.family_id == world.family_id)):
            referral.status, referral.closed_at = Status.completed, db.utcnow()
            session.add(referral)
        db.commit()
        privacy.purge(policy.COMMAND_LINE, now=datetime.now(UTC) + timedelta(days=731))
        db.commit()
    listed = (Path(app.instance_path) / "erased-families.log").read_text().split()
    assert listed[0] == str(world.family_id)
