"""Back up and restore the database together with its keys: flask --app referral backup.

One archive (tar.gz, mode 0600) holds the database, the key file, the access log's head
file and a manifest. The database and the keys belong together: without the keys the
encrypted values cannot be read, with other keys they do not decrypt.
"""

import json
import os
import shutil
import sqlite3
import subprocess  # nosec B404
import sys
import tarfile
import tempfile
import zlib
from datetime import UTC, datetime
from pathlib import Path

import click
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from flask import current_app
from flask.cli import AppGroup
from sqlmodel import SQLModel

from referral import audit, crypto, db, familykeys
from referral.audit.chain import HEAD_FILE, verify

FORMAT = 1
MANIFEST = "manifest.json"
DATABASE = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}
SAMPLE = 5  # values per encrypted column decrypted after a restore

backup_cli = AppGroup("backup", help="Back up and restore the database with its keys.")


def _fail(message):
    raise click.ClickException(str(message))


def _kind(url):
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def _sqlite_path(url):
    return Path(sa.engine.make_url(url).database)


def _require(program):
    """The full path of a PostgreSQL client program, or a clear refusal."""
    found = shutil.which(program)
    if found is None:
        _fail(f"{program} is not installed (it comes with the PostgreSQL client, e.g. "
              f"apt-get install postgresql-client); nothing was changed.")
    return found


def _pg_command(program, url, *args):
    """A pg_dump or pg_restore call and its environment: the password never in argv."""
    executable = _require(program)
    parsed = sa.engine.make_url(url)
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = parsed.password
    conninfo = parsed.set(drivername="postgresql", password=None).render_as_string()
    return [executable, f"--dbname={conninfo}", *args], env


def _run(argv, env, marker):
    """Run a PostgreSQL tool; show each table it reaches as progress; fail with its errors."""
    # An argument list, no shell; the only outside value is the configured database URL.
    errors = []
    with subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL,  # noqa: S603  # nosec B603
                          stderr=subprocess.PIPE, text=True) as process:
        for line in process.stderr:
            if marker in line:
                table = line.split(marker, 1)[1].strip().strip('"')
                click.echo(f"  {table}", err=True)
            elif "error" in line.lower():
                errors.append(line.strip())
    if process.returncode != 0:
        _fail(f"{Path(argv[0]).name} failed: "
              f"{' '.join(errors[-3:]) or f'exit code {process.returncode}'}")


def _copy_sqlite(source, target, label):
    """A consistent copy through SQLite's backup API, page by page with a progress bar."""
    src, dst = sqlite3.connect(source, isolation_level=None), sqlite3.connect(target)
    try:
        # A read transaction held over every step: the copy is one snapshot, and writers
        # in other processes neither wait nor restart it.
        src.execute("BEGIN")
        total = src.execute("PRAGMA page_count").fetchone()[0]
        with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
            src.backup(dst, pages=1024,
                       progress=lambda _status, remaining, _total:
                       bar.update(total - remaining - bar.pos))
        src.execute("COMMIT")
    finally:
        src.close()
        dst.close()


def _revision(connection):
    return MigrationContext.configure(connection).get_current_revision()


def _key_ids(material):
    return [key["id"] for key in material["encryption_keys"]] if material else []


def _add(tar, name, path):
    info = tar.gettarinfo(str(path), arcname=name)
    info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
    with open(path, "rb") as fh:
        tar.addfile(info, fh)


@backup_cli.command("create")
@click.argument("path", type=click.Path(dir_okay=False))
def backup_create(path):
    """Write one archive (tar.gz, mode 0600) with the database, the keys and the log's head."""
    app = current_app
    url, instance = app.config["DATABASE_URL"], Path(app.instance_path)
    kind = _kind(url)
    if kind == "postgresql":
        _require("pg_dump")  # before anything is written
    audit.record("export", object_type="backup", summary=f"backup of the {kind} database")
    db.commit()  # first, so the head file below is not ahead of the copied database
    with db.engine().connect() as connection:
        revision = _revision(connection)
    material = crypto.read_material(app)
    manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "alembic_revision": revision, "database": kind, "key_ids": _key_ids(material),
                "keys_in_archive": crypto.key_file(app).exists()
                and not app.config.get("ENCRYPTION_KEYS")}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = {}
        if manifest["keys_in_archive"]:
            files["keys.json"] = crypto.key_file(app)
        if (instance / HEAD_FILE).exists():
            shutil.copyfile(instance / HEAD_FILE, work / HEAD_FILE)  # before the database
            files[HEAD_FILE] = work / HEAD_FILE
        copy = work / DATABASE[kind]
        if kind == "sqlite":
            _copy_sqlite(_sqlite_path(url), copy, "Copying the database")
        else:
            argv, env = _pg_command("pg_dump", url, "--format=custom", "--verbose",
                                    f"--file={copy}")
            click.echo("Dumping the database:", err=True)
            _run(argv, env, "dumping contents of table ")
        files[DATABASE[kind]] = copy
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2))
        target = Path(path)
        partial = target.with_name(target.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh, tarfile.open(fileobj=fh, mode="w:gz") as tar:
            _add(tar, MANIFEST, work / MANIFEST)
            for name, source in files.items():
                _add(tar, name, source)
        os.replace(partial, target)
    click.echo(f"Wrote {target}: the {kind} database at revision {revision}, "
               + ("the keys " + ", ".join(manifest["key_ids"]) if manifest["keys_in_archive"]
                  else "no keys (they come from REFERRAL_ENCRYPTION_KEYS: keep them with "
                       "this backup)")
               + " and the access log's head. Store it encrypted, where only operators can "
               "read it, and try a restore now and then.")


def _read_archive(path, work):
    """Check the archive and unpack what it holds into work; return the manifest."""
    try:
        with tarfile.open(path, mode="r:gz") as tar:
            names = set(tar.getnames())
            if MANIFEST not in names:
                _fail(f"{path} is not a backup of this tool (no {MANIFEST}); nothing was changed.")
            manifest = json.loads(tar.extractfile(MANIFEST).read())
            wanted = [DATABASE.get(manifest.get("database"), "?")]
            wanted += [name for name in ("keys.json", HEAD_FILE) if name in names]
            if wanted[0] not in names:
                _fail(f"{path} holds no database; nothing was changed.")
            for name in wanted:
                with tar.extractfile(name) as source, open(work / name, "wb") as fh:
                    shutil.copyfileobj(source, fh)
    except (tarfile.TarError, EOFError, OSError, zlib.error, ValueError) as exc:
        _fail(f"{path} is not a readable backup archive ({exc}); nothing was changed.")
    return manifest


def _check_database_file(kind, copy):
    if kind == "sqlite":
        try:
            with sqlite3.connect(copy) as check:
                result = check.execute("PRAGMA integrity_check").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            result = str(exc)
        if result != "ok":
            _fail(f"The database in the archive is damaged ({result}); nothing was changed.")
    else:
        command = [_require("pg_restore"), "--list", str(copy)]
        listed = subprocess.run(command, capture_output=True, text=True)  # noqa: S603  # nosec B603
        if listed.returncode != 0:
            _fail(f"The database in the archive is damaged ({listed.stderr.strip()}); "
                  "nothing was changed.")


def _has_data(engine):
    """Whether the target holds accounts, families or access log entries."""
    inspector = sa.inspect(engine)
    tables = [t for t in ("user_account", "family", "audit_event") if inspector.has_table(t)]
    with engine.connect() as connection:
        return any(connection.execute(sa.select(sa.func.count()).select_from(sa.table(t)))
                   .scalar_one() for t in tables)


def _sample_decrypts(session):
    """Open a few values of every encrypted column; return how many."""
    ring, opened = crypto.keyring(), 0
    for table, column in crypto.encrypted_columns(SQLModel.metadata):
        for row_id, stored in session.execute(
                sa.select(table.c.id, column).where(column.isnot(None)).limit(SAMPLE)):
            if not crypto.is_family_value(stored):  # a family's: its key is checked below
                ring.open(stored, crypto.context_of(table.name, column.name, row_id))
                opened += 1
    return opened + familykeys.sample_unwraps(session, SAMPLE)


@backup_cli.command("restore")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def backup_restore(path, force, yes):
    """Restore the database, keys and log head of an archive here, then check them."""
    app = current_app
    url, instance = app.config["DATABASE_URL"], Path(app.instance_path)
    kind = _kind(url)
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)  # a restore on a new machine
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        manifest = _read_archive(path, work)
        if manifest.get("database") != kind:
            _fail(f"The archive holds a {manifest.get('database')} database, but this "
                  f"instance uses {kind}; nothing was changed.")
        revision = manifest.get("alembic_revision")
        scripts = ScriptDirectory.from_config(db.alembic_config())
        try:
            known = revision is None or scripts.get_revision(revision) is not None
        except CommandError:
            known = False
        if not known:
            _fail(f"The archive's database is at revision {revision}, which this version of "
                  "the tool does not know (it was made by a newer version): install that "
                  "version to restore it. Nothing was changed.")
        copy = work / DATABASE[kind]
        _check_database_file(kind, copy)
        if "keys.json" in os.listdir(work):
            crypto.KeyRing(json.loads((work / "keys.json").read_text()))  # well-formed?
        elif not app.config.get("ENCRYPTION_KEYS"):
            _fail("The archive holds no keys and none are configured "
                  "(REFERRAL_ENCRYPTION_KEYS): the data could not be read. Nothing was changed.")
        engine = db.engine()
        if _has_data(engine) and not force:
            _fail("The target database already holds data: restoring replaces all of it. "
                  "Back it up first, then use --force. Nothing was changed.")
        target = _sqlite_path(url) if kind == "sqlite" else sa.engine.make_url(url).database
        if not yes:
            click.confirm(f"Replace the database {target} and the keys in {instance} with the "
                          f"backup of {manifest.get('created_at')}?", abort=True)
        db.session().close()
        engine.dispose()
        if kind == "sqlite":
            _copy_sqlite(copy, _sqlite_path(url), "Restoring the database")
            _sqlite_path(url).chmod(0o600)
        else:
            argv, env = _pg_command("pg_restore", url, "--clean", "--if-exists", "--no-owner",
                                    "--no-privileges", "--single-transaction",
                                    "--exit-on-error", "--verbose", str(copy))
            click.echo("Restoring the database:", err=True)
            _run(argv, env, "processing data for table ")
        engine.dispose()
        click.echo(f"Restored the {kind} database at revision {revision}.")
        if (work / "keys.json").exists():
            old = crypto.key_file(app)
            if old.exists() and old.read_bytes() != (work / "keys.json").read_bytes():
                kept = old.with_name(f"{old.name}.replaced-{datetime.now(UTC):%Y%m%d%H%M%S}")
                os.replace(old, kept)
                click.echo(f"Kept the keys that were here as {kept}.")
            crypto.write_private(old, (work / "keys.json").read_text())
            click.echo(f"Restored the keys {', '.join(manifest.get('key_ids', []))}.")
        if app.config.get("ENCRYPTION_KEYS"):
            click.echo("The keys come from REFERRAL_ENCRYPTION_KEYS: they must be the keys "
                       f"{', '.join(manifest.get('key_ids', []))}.")
        head = instance / HEAD_FILE
        if (work / HEAD_FILE).exists():
            crypto.write_private(head, (work / HEAD_FILE).read_text())
        else:
            head.unlink(missing_ok=True)
        click.echo("Restored the access log's head.")
    app.extensions["referral.keyring"] = crypto.load_keyring(app)
    if revision != scripts.get_current_head():
        from alembic import command

        command.upgrade(db.alembic_config(), "head")
        click.echo(f"Upgraded the database from revision {revision} to the code's.")
    session = db.session()
    problem = verify(session, instance)
    if problem:
        _fail(f"Restored, but the access log is broken: {problem}.")
    try:
        opened = _sample_decrypts(session)
    except crypto.CryptoError as exc:
        _fail(f"Restored, but the keys do not fit the database: {exc}.")
    audit.record("create", object_type="backup",
                 summary=f"database restored from the backup of {manifest.get('created_at')}")
    db.commit()
    click.echo(f"Checked: the access log is intact and {opened} sampled encrypted values "
               "decrypt.")
