"""Back up and restore the database and, apart from it, its keys: flask --app referral backup.

One archive (tar.gz, mode 0600) holds the database, the access log's head file and a
manifest — never key material: whoever holds the archive reads no encrypted value. The keys
are exported on their own (`backup keys`), encrypted with a passphrase (Argon2id, AES-GCM).
A restore takes both and refuses a pair that does not belong together: the manifest holds a
one-way fingerprint of every key the database needs. It then erases again every family of
the erasure list (kept outside the database and the backups) that the backup still holds.
"""

import base64
import binascii
import hashlib
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
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from flask import current_app
from flask.cli import AppGroup
from sqlmodel import SQLModel

from referral import audit, crypto, db, familykeys, policy
from referral.audit.chain import HEAD_FILE, verify
from referral.privacy import erasure_list

FORMAT = 2  # 1: the archive held keys.json
MANIFEST = "manifest.json"
DATABASE = {"sqlite": "database.sqlite", "postgresql": "database.pgdump"}
SAMPLE = 5  # values per encrypted column decrypted after a restore
KEY_EXPORT = {"format": "referral-keys", "version": 1}
MIN_PASSPHRASE = 12
# Argon2id as RFC 9106 recommends where memory is scarce: 64 MiB, 3 passes, 4 lanes.
ARGON2 = {"iterations": 3, "memory_kib": 64 * 1024, "lanes": 4}

backup_cli = AppGroup("backup", help="Back up and restore the database; export its keys apart.")


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


def _canonical(value):
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def fingerprints(material):
    """A one-way fingerprint (SHA-256) of every key: per id in a list of keys with ids, else
    per entry of the key material. It tells whether a key file holds the keys a backup
    needs, and gives away nothing of 256-bit random keys."""
    prints = {}
    for name, value in sorted(material.items()):
        if value is None:
            continue
        if value and isinstance(value, list) and all(isinstance(e, dict) and "id" in e
                                                     for e in value):
            # Only the key itself: an erasure marks a wrapping key superseded, and the
            # export made after it must still fit a backup made before.
            items = [(f"{name}/{entry['id']}", entry.get("key", entry)) for entry in value]
        else:
            items = [(name, value)]
        for label, item in items:
            prints[label] = hashlib.sha256(b"referral key fingerprint\0"
                                           + _canonical(item)).hexdigest()
    return prints


def _argon2(passphrase, kdf):
    return Argon2id(salt=base64.b64decode(kdf["salt"]), length=32,
                    iterations=kdf["iterations"], lanes=kdf["lanes"],
                    memory_cost=kdf["memory_kib"]).derive(passphrase.encode())


def seal_keys(material, passphrase):
    """The key material as a versioned JSON text, encrypted with a key derived from the
    passphrase; the readable header (ids, KDF parameters) is bound to the ciphertext."""
    kdf = {"name": "argon2id", "salt": base64.b64encode(os.urandom(16)).decode(), **ARGON2}
    nonce = os.urandom(12)
    header = {**KEY_EXPORT, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
              "key_ids": _key_ids(material), "kdf": kdf, "cipher": "aes-256-gcm",
              "nonce": base64.b64encode(nonce).decode()}
    body = AESGCM(_argon2(passphrase, kdf)).encrypt(nonce, _canonical(material),
                                                    _canonical(header))
    return json.dumps({**header, "ciphertext": base64.b64encode(body).decode()}, indent=2)


def open_keys(text, passphrase):
    """The key material of an export; CryptoError when it is none or does not open."""
    try:
        exported = json.loads(text)
        header = {name: value for name, value in exported.items() if name != "ciphertext"}
        kdf = header["kdf"]
        if ({k: header[k] for k in KEY_EXPORT} != KEY_EXPORT or kdf["name"] != "argon2id"
                or header["cipher"] != "aes-256-gcm"):
            raise ValueError("unknown format")
        if not (1 <= kdf["iterations"] <= 16 and 1 <= kdf["lanes"] <= 16
                and 8 * kdf["lanes"] <= kdf["memory_kib"] <= 1024 * 1024):
            raise ValueError("unreasonable key derivation parameters")
        nonce, body = (base64.b64decode(exported[name], validate=True)
                       for name in ("nonce", "ciphertext"))
    except (ValueError, KeyError, TypeError, AttributeError, binascii.Error) as exc:
        raise crypto.CryptoError(f"it is not a key export of this tool ({exc})") from exc
    try:
        plain = AESGCM(_argon2(passphrase, kdf)).decrypt(nonce, body, _canonical(header))
    except (InvalidTag, ValueError) as exc:
        raise crypto.CryptoError("the passphrase does not open it (or it was altered)") from exc
    return json.loads(plain)


def _passphrase(confirm):
    """The passphrase: one line of standard input, or asked at a terminal."""
    if sys.stdin.isatty():
        return click.prompt("Passphrase of the key export", hide_input=True,
                            confirmation_prompt=confirm)
    return sys.stdin.readline().rstrip("\r\n")


def _add(tar, name, path):
    info = tar.gettarinfo(str(path), arcname=name)
    info.mode, info.uid, info.gid, info.uname, info.gname = 0o600, 0, 0, "", ""
    with open(path, "rb") as fh:
        tar.addfile(info, fh)


@backup_cli.command("create")
@click.argument("path", type=click.Path(dir_okay=False))
def backup_create(path):
    """Write one archive (tar.gz, mode 0600) with the database and the log's head, no keys."""
    app = current_app
    url, instance = app.config["DATABASE_URL"], Path(app.instance_path)
    kind = _kind(url)
    if kind == "postgresql":
        _require("pg_dump")  # before anything is written
    audit.record("export", object_type="backup", summary=f"backup of the {kind} database")
    db.commit()  # first, so the head file below is not ahead of the copied database
    with db.engine().connect() as connection:
        revision = _revision(connection)
    material = crypto.read_material(app) or {}
    manifest = {"format": FORMAT, "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
                "alembic_revision": revision, "database": kind, "key_ids": _key_ids(material),
                "key_fingerprints": fingerprints(material)}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files = {}
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
    click.echo(f"Wrote {target}: the {kind} database at revision {revision} and the access "
               "log's head, without keys. A restore needs the keys "
               f"{', '.join(manifest['key_ids'])} from a key export ('backup keys --out "
               "FILE', after every key rotation). Store it where only operators can read it, "
               "and try a restore now and then.")


@backup_cli.command("keys")
@click.option("--out", "out", required=True, type=click.Path(dir_okay=False),
              help="The file to write (mode 0600).")
def backup_keys(out):
    """Export the keys, encrypted with a passphrase (standard input, or asked twice)."""
    app = current_app
    material = crypto.read_material(app)
    if material is None:
        _fail("This instance has no keys to export: run 'flask --app referral init'.")
    crypto.KeyRing(material)  # well-formed, or the app would not have started
    passphrase = _passphrase(confirm=True)
    if len(passphrase) < MIN_PASSPHRASE:
        _fail(f"The passphrase must be at least {MIN_PASSPHRASE} characters long (a few "
              "words are best); nothing was written.")
    crypto.write_private(Path(out), seal_keys(material, passphrase))
    audit.record("export", object_type="keys", summary="keys exported, under a passphrase")
    db.commit()
    click.echo(f"Wrote {out}: the keys {', '.join(_key_ids(material))}, encrypted with the "
               "passphrase. Keep it apart from the backups and the passphrase apart from "
               "both; export again after every key rotation.")


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
@click.option("--keys", "keys_path", type=click.Path(exists=True, dir_okay=False),
              help="The key export that belongs to the backup ('backup keys').")
@click.option("--force", is_flag=True, help="Replace a database that already holds data.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def backup_restore(path, keys_path, force, yes):
    """Restore an archive and its key export here, check them, re-apply later erasures.

    The passphrase of the key export is one line of standard input, or asked."""
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
        material = _restored_keys(app, manifest, work, keys_path)
        try:
            erased = erasure_list.read(app)
        except ValueError as exc:
            _fail(f"The erasure list is damaged ({exc}): repair it first. Nothing was changed.")
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
        if not app.config.get("ENCRYPTION_KEYS"):
            old = crypto.key_file(app)
            if old.exists() and _material_of(old) != material:
                kept = old.with_name(f"{old.name}.replaced-{datetime.now(UTC):%Y%m%d%H%M%S}")
                os.replace(old, kept)
                click.echo(f"Kept the keys that were here as {kept}.")
            crypto.write_material(app, material)
            click.echo(f"Restored the keys {', '.join(_key_ids(material))}.")
        else:
            click.echo("The keys come from REFERRAL_ENCRYPTION_KEYS, and they fit.")
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
    problem = verify(session, instance)  # the log as restored, before anything is added
    if problem:
        problem = f"Restored, but the access log is broken: {problem}."
    else:
        try:
            opened = _sample_decrypts(session)
        except crypto.CryptoError as exc:
            problem = f"Restored, but the keys do not fit the database: {exc}."
    audit.record("create", object_type="backup",
                 summary=f"database restored from the backup of {manifest.get('created_at')}")
    db.commit()
    # Even when a check failed: a restore never leaves an erased family in use.
    where = erasure_list.path(app)
    again = erasure_list.reapply(policy.COMMAND_LINE, erased, commit=db.commit)
    click.echo(f"Re-applied {again} erasure(s) made after this backup (of {len(erased)} "
               f"families in {where})." if where.exists() else
               f"No erasure list at {where}: if families were erased after this backup, put "
               "the list there (or set REFERRAL_ERASURE_LIST) and restore again.")
    if problem:
        _fail(problem)
    click.echo(f"Checked: the access log is intact and {opened} sampled encrypted values "
               "decrypt.")


def _material_of(path):
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


def _restored_keys(app, manifest, work, keys_path):
    """The key material the restore is to use, checked against the archive's fingerprints;
    refuses with a clear message (before anything is changed) when there is none that fits."""
    if app.config.get("ENCRYPTION_KEYS"):
        if keys_path:
            _fail("This instance takes its keys from REFERRAL_ENCRYPTION_KEYS: set the keys "
                  "there and restore without --keys. Nothing was changed.")
        material, source = crypto.read_material(app), "REFERRAL_ENCRYPTION_KEYS"
    elif keys_path:
        try:
            material = open_keys(Path(keys_path).read_text(), _passphrase(confirm=False))
        except (crypto.CryptoError, OSError, UnicodeDecodeError) as exc:
            _fail(f"{keys_path}: {exc}. Nothing was changed.")
        source = keys_path
    elif (work / "keys.json").exists():  # an archive of format 1 holds its keys
        material, source = _material_of(work / "keys.json"), "the archive"
        click.echo("This archive holds its keys (made before key exports): once a new backup "
                   "and a key export exist, destroy it.", err=True)
    else:
        _fail("A restore needs the key export that belongs to this backup: --keys FILE (made "
              "with 'backup keys --out FILE'). Nothing was changed.")
    try:
        crypto.KeyRing(material)
    except crypto.CryptoError as exc:
        _fail(f"The keys from {source} are malformed ({exc}). Nothing was changed.")
    wanted, have = manifest.get("key_fingerprints") or {}, fingerprints(material)
    wrong = sorted(label for label, value in wanted.items() if have.get(label) != value)
    if wrong:
        _fail(f"The keys from {source} do not belong to this backup: {', '.join(wrong)} "
              f"{'is' if len(wrong) == 1 else 'are'} missing or different (keys of another "
              "instance, or exported before a key was added). Nothing was changed.")
    return material
