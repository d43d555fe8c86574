"""Encryption at rest: AES-256-GCM bound to table, column and row, a key ring, blind indexes.

A value of a family reads ``f1.<base64 of nonce and ciphertext>``, sealed with that family's
own data key (referral.familykeys), which is stored wrapped by the ring's newest wrapping
key as ``w1.<key id>.<base64>``: destroying the wrapped key shreds every copy of the
family's values. Any other value (accounts, mail, and family values from before family
keys) reads ``v1.<key id>.<base64 of nonce and ciphertext>``, sealed with the ring. The
associated data names the table, column and row, so a value copied elsewhere fails to
decrypt.
"""

import base64
import binascii
import fcntl
import hashlib
import hmac
import json
import os
import secrets
import unicodedata
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from flask import current_app, g

VERSION = "v1"
FAMILY_VERSION = "f1"  # sealed with a family's own data key
WRAP_VERSION = "w1"  # a family's data key, wrapped by a wrapping key of the ring
KEY_FILE = "keys.json"


class CryptoError(Exception):
    """A key is missing or malformed, or a value does not decrypt where it is."""


def _b64(data):
    return base64.urlsafe_b64encode(data).decode()


def _unb64(text):
    return base64.urlsafe_b64decode(text.encode())


def new_key_id():
    return f"k{datetime.now(UTC):%Y%m%d}{secrets.token_hex(3)}"


def new_key():
    return {"id": new_key_id(), "key": _b64(os.urandom(32))}


def new_wrapping_key():
    return {**new_key(), "created": datetime.now(UTC).isoformat(timespec="seconds")}


def new_key_material():
    return {"encryption_keys": [new_key()], "index_key": _b64(os.urandom(32)),
            "log_key": new_log_key(), "wrapping_keys": [new_wrapping_key()]}


def new_log_key():
    """The key of the access log's MAC chain (referral/audit/chain.py)."""
    return _b64(os.urandom(32))


def _decode_key(text, what):
    try:
        raw = _unb64(text)
    except (binascii.Error, ValueError, AttributeError) as exc:
        raise CryptoError(f"{what} is not valid base64") from exc
    if len(raw) != 32:
        raise CryptoError(f"{what} must be 32 bytes, not {len(raw)}")
    return raw


def _parts(stored, context, version, keys, what, key_kind):
    """The key id and the raw nonce + ciphertext of `version.<key id>.<base64>`."""
    try:
        found, key_id, body = stored.split(".", 2)
        raw = _unb64(body)
    except (ValueError, binascii.Error) as exc:
        raise CryptoError(f"{context}: not {what}") from exc
    if found != version or key_id not in keys:
        raise CryptoError(f"{context}: unknown {key_kind} {key_id!r}")
    return key_id, raw


class KeyRing:
    """The newest key encrypts; every key decrypts."""

    def __init__(self, material):
        entries = material.get("encryption_keys") if isinstance(material, dict) else None
        if not entries or not isinstance(entries, list):
            raise CryptoError("no encryption keys")
        self.keys = {}
        for entry in entries:
            key_id = entry.get("id", "") if isinstance(entry, dict) else ""
            if not key_id.isalnum() or key_id in self.keys:
                raise CryptoError(f"encryption key id {key_id!r} is empty, not alphanumeric or twice")
            self.keys[key_id] = AESGCM(_decode_key(entry.get("key"), f"encryption key {key_id}"))
        self.newest = key_id
        self.index_key = _decode_key(material.get("index_key"), "index key")
        # The access log's MAC key; an instance from before it has none until `init`.
        self.log_key = (_decode_key(material["log_key"], "log key")
                        if material.get("log_key") else None)
        # Wrapping keys: the newest wraps the families' data keys; older ones are kept only
        # for the backup retention (referral.familykeys), then destroyed.
        self.wrapping, self.newest_wrapping = {}, None
        for entry in material.get("wrapping_keys") or []:
            key_id = entry.get("id", "") if isinstance(entry, dict) else ""
            if not key_id.isalnum() or key_id in self.wrapping:
                raise CryptoError(f"wrapping key id {key_id!r} is empty, not alphanumeric or twice")
            self.wrapping[key_id] = AESGCM(_decode_key(entry.get("key"), f"wrapping key {key_id}"))
            self.newest_wrapping = key_id

    def seal(self, plaintext, context):
        nonce = os.urandom(12)
        data = self.keys[self.newest].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{VERSION}.{self.newest}.{_b64(nonce + data)}"

    def open(self, stored, context):
        key_id, raw = _parts(stored, context, VERSION, self.keys, "an encrypted value", "key")
        try:
            return self.keys[key_id].decrypt(raw[:12], raw[12:], context.encode()).decode()
        except InvalidTag as exc:
            raise CryptoError(
                f"{context}: does not decrypt here (altered, or copied from another row or column)"
            ) from exc

    def wrap(self, data_key, context):
        """A family's data key, sealed with the newest wrapping key."""
        nonce = os.urandom(12)
        data = self.wrapping[self.newest_wrapping].encrypt(nonce, data_key, context.encode())
        return f"{WRAP_VERSION}.{self.newest_wrapping}.{_b64(nonce + data)}"

    def unwrap(self, stored, context):
        key_id, raw = _parts(stored, context, WRAP_VERSION, self.wrapping, "a wrapped key",
                             "wrapping key")
        try:
            return self.wrapping[key_id].decrypt(raw[:12], raw[12:], context.encode())
        except InvalidTag as exc:
            raise CryptoError(f"{context}: does not unwrap here") from exc

    def blind_index(self, purpose, value):
        """A keyed hash for exact-match lookups on an encrypted value."""
        message = f"{purpose}\0{normalise(value)}".encode()
        return hmac.new(self.index_key, message, hashlib.sha256).hexdigest()


def key_id_of(stored):
    return stored.split(".", 2)[1]


def is_family_value(stored):
    return stored.startswith(f"{FAMILY_VERSION}.")


def family_cipher(data_key):
    return AESGCM(data_key)


def seal_family(cipher, plaintext, context):
    """A value sealed with a family's own data key (an AESGCM of it)."""
    nonce = os.urandom(12)
    data = cipher.encrypt(nonce, plaintext.encode(), context.encode())
    return f"{FAMILY_VERSION}.{_b64(nonce + data)}"


def open_family(cipher, stored, context):
    try:
        version, body = stored.split(".", 1)
        raw = _unb64(body)
    except (ValueError, binascii.Error) as exc:
        raise CryptoError(f"{context}: not an encrypted value") from exc
    if version != FAMILY_VERSION:
        raise CryptoError(f"{context}: not sealed with a family key")
    try:
        return cipher.decrypt(raw[:12], raw[12:], context.encode()).decode()
    except InvalidTag as exc:
        raise CryptoError(f"{context}: does not decrypt with this family's key") from exc


def normalise(value):
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def key_file(app):
    return Path(app.instance_path) / KEY_FILE


def _file_material(app):
    path = key_file(app)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise CryptoError(f"{path} is not valid JSON") from exc


def read_material(app):
    """The key material from configuration, or else from the instance folder; None if absent.
    The wrapping keys are always in the instance folder: an erasure changes them."""
    if app.config.get("ENCRYPTION_KEYS"):
        stored = _file_material(app) or {}
        return {"encryption_keys": app.config["ENCRYPTION_KEYS"],
                "index_key": app.config.get("INDEX_KEY"),
                "log_key": app.config.get("LOG_KEY"),
                "wrapping_keys": stored.get("wrapping_keys", [])}
    return _file_material(app)


def write_private(path, text):
    """Write a file only its owner can read, replacing it whole or not at all."""
    tmp = Path(f"{path}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_material(app, material):
    write_private(key_file(app), json.dumps(material, indent=2))


def update_wrapping_keys(app, change):
    """Change the wrapping keys in the instance folder under an exclusive lock (several app
    processes may erase at once), then reload this process's ring. `change` gets the list
    and returns the new one."""
    path = key_file(app)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(f"{path}.lock", os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        stored = _file_material(app) or {}
        stored["wrapping_keys"] = change(list(stored.get("wrapping_keys", [])))
        write_private(path, json.dumps(stored, indent=2))
    finally:
        os.close(fd)
    app.extensions["referral.keyring"] = load_keyring(app)
    return app.extensions["referral.keyring"]


def _stamp(app):
    try:
        return key_file(app).stat().st_mtime_ns
    except OSError:
        return None


def load_keyring(app):
    material = read_material(app)
    app.extensions["referral.keyring.stamp"] = _stamp(app)
    return None if material is None else KeyRing(material)


def keyring():
    """This app's key ring, read again once a request when another process changed the key
    file (an erasure adds a wrapping key and destroys old ones)."""
    app = current_app
    if not g.get("keyring_checked"):
        g.keyring_checked = True
        if app.extensions.get("referral.keyring") is not None and (
                _stamp(app) != app.extensions.get("referral.keyring.stamp")):
            app.extensions["referral.keyring"] = load_keyring(app)
    ring = app.extensions.get("referral.keyring")
    if ring is None:
        raise CryptoError("no encryption keys: run 'flask --app referral init'")
    return ring


def context(obj, column):
    return context_of(obj.__tablename__, column, obj.id)


def context_of(table, column, row_id):
    """The associated data of a value: its table, column and row."""
    return f"{table}/{column}/{row_id}"


def sealed(column):
    """A property that stores its value encrypted in `column`, bound to the row's id: with
    the family's own data key for a row of a family's data (the model has `family_cipher`,
    see referral.familykeys), else with the key ring."""

    def get(obj):
        stored = getattr(obj, column)
        if stored is None:
            return None
        if is_family_value(stored):
            return open_family(obj.family_cipher(), stored, context(obj, column))
        return keyring().open(stored, context(obj, column))

    def set_(obj, value):
        if value is None:
            sealed_value = None
        elif hasattr(obj, "family_cipher"):
            sealed_value = seal_family(obj.family_cipher(create=True), value,
                                       context(obj, column))
        else:
            sealed_value = keyring().seal(value, context(obj, column))
        setattr(obj, column, sealed_value)

    return property(get, set_, doc=f"Decrypted value of {column}.")


def encrypted_columns(metadata):
    """Every (table, column) that holds encrypted values, per the column's info."""
    return [(table, column) for table in metadata.sorted_tables
            for column in table.columns if column.info.get("encrypted")]
