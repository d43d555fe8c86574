"""Back up the database with its keys, and restore both into a fresh instance."""

import io
import json
import os
import stat
import tarfile

import pytest
import sqlalchemy as sa
from sqlmodel import select

from referral import crypto, db
from referral.auth.models import User
from tests.conftest import post_form

# A backup reads the database with a program or connection of its own, and a restore needs a
# database to replace.
pytestmark = pytest.mark.own_database


@pytest.fixture
def archive(app, world, tmp_path):  # noqa: F811
    """A backup of the world's database, made with the command line."""
    path = tmp_path / "backup.tar.gz"
    result = app.test_cli_runner().invoke(args=["backup", "create", str(path)])
    assert result.exit_code == 0, result.output
    return path


@pytest.fixture
def target(make_app, new_database):
    """An empty, migrated database in an instance folder with keys of its own (as after init)."""
    instance, url = new_database("target")
    crypto.write_private(instance / "keys.json", json.dumps(crypto.new_key_material()))
    return make_app(INSTANCE_PATH=str(instance), DATABASE_URL=url)


def _restore(app, path, *options, input=None):
    return app.test_cli_runner().invoke(args=["backup", "restore", str(path), *options],
                                        input=input)


def _users(app):
    with app.app_context():
        return len(db.session().exec(select(User)).all())


def _state(app):
    """What a refused restore must leave as it was: keys, head file and accounts."""
    instance = crypto.key_file(app).parent
    head = instance / "audit-head.log"
    return (crypto.key_file(app).read_bytes(), head.read_bytes() if head.exists() else None,
            _users(app))


def test_archive_is_private_and_its_manifest_names_keys_without_material(app, archive):
    assert stat.S_IMODE(os.stat(archive).st_mode) == 0o600
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        manifest = json.loads(tar.extractfile("manifest.json").read())
    kind = "sqlite" if app.config["DATABASE_URL"].startswith("sqlite") else "postgresql"
    database = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}[kind]
    assert names == {"manifest.json", "keys.json", "audit-head.log", database}
    material = json.loads(crypto.key_file(app).read_text())
    assert manifest["database"] == kind and manifest["alembic_revision"]
    assert manifest["key_ids"] == [key["id"] for key in material["encryption_keys"]]
    text = json.dumps(manifest)
    assert material["index_key"] not in text
    assert not any(key["key"] in text for key in material["encryption_keys"])


def test_restore_into_a_fresh_instance_shows_the_family_to_its_owner(archive, target, world):  # noqa: F811
    result = _restore(target, archive, "--yes")
    assert result.exit_code == 0, result.output
    assert "the access log is intact" in result.output and "decrypt" in result.output
    assert "Kept the keys that were here" in result.output
    client = target.test_client()
    post_form(client, "/login", {"email": world.owner.email, "password": world.owner.password})
    page = client.get(f"/families/{world.family_id}")
    assert page.status_code == 200 and "Zeynep Yilmaz" in page.text
    verified = target.test_cli_runner().invoke(args=["audit", "verify"])
    assert verified.exit_code == 0, verified.output


def test_a_target_with_data_is_refused_without_force_and_asked_with_it(app, archive, world):  # noqa: F811
    runner = app.test_cli_runner()
    result = runner.invoke(args=["users", "create", "nieuw@example.org", "--name", "Nieuw",
                                 "--role", "coordinator", "--password-stdin"],
                           input="paarse-olifant-danst-zacht\n")
    assert result.exit_code == 0, result.output
    before = _state(app)
    refused = _restore(app, archive, "--yes")
    assert refused.exit_code == 1 and "already holds data" in refused.output
    declined = _restore(app, archive, "--force", input="n\n")
    assert declined.exit_code == 1 and "Replace the database" in declined.output
    assert _state(app) == before
    forced = _restore(app, archive, "--force", "--yes")
    assert forced.exit_code == 0, forced.output
    assert _users(app) == before[2] - 1  # back to the moment of the backup


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
def test_a_bad_archive_leaves_the_target_untouched(archive, target, tmp_path, spoil, message):
    before = _state(target)
    result = _restore(target, spoil(archive, tmp_path / "spoilt.tar.gz"), "--force", "--yes")
    assert result.exit_code == 1 and message in result.output
    assert "Nothing was changed" in result.output or "nothing was changed" in result.output
    assert _state(target) == before
    with target.app_context():
        tables = sa.inspect(db.engine()).get_table_names()
    assert "user_account" in tables  # the empty database is still there


def test_only_postgresql_needs_pg_dump(app, world, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setenv("PATH", str(tmp_path))  # no pg_dump anywhere
    path = tmp_path / "backup.tar.gz"
    result = app.test_cli_runner().invoke(args=["backup", "create", str(path)])
    if app.config["DATABASE_URL"].startswith("sqlite"):
        assert result.exit_code == 0 and path.exists()
    else:
        assert result.exit_code == 1 and "pg_dump is not installed" in result.output
        assert not path.exists()
