"""Encryption at rest: AES-256-GCM bound to table, column and row, a key ring, blind indexes.

A stored value reads ``v1.<key id>.<base64 of nonce and ciphertext>``. The associated
data names the table, column and row, so a value copied elsewhere fails to decrypt.
"""

import base64
import binascii
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
from flask import current_app

VERSION = "v1"
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


def new_key_material():
    return {"encryption_keys": [new_key()], "index_key": _b64(os.urandom(32)),
            "log_key": new_log_key()}


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

    def seal(self, plaintext, context):
        nonce = os.urandom(12)
        data = self.keys[self.newest].encrypt(nonce, plaintext.encode(), context.encode())
        return f"{VERSION}.{self.newest}.{_b64(nonce + data)}"

    def open(self, stored, context):
        try:
            version, key_id, body = stored.split(".", 2)
            raw = _unb64(body)
        except (ValueError, binascii.Error) as exc:
            raise CryptoError(f"{context}: not an encrypted value") from exc
        if version != VERSION or key_id not in self.keys:
            raise CryptoError(f"{context}: unknown key {key_id!r}")
        try:
            return self.keys[key_id].decrypt(raw[:12], raw[12:], context.encode()).decode()
        except InvalidTag as exc:
            raise CryptoError(
                f"{context}: does not decrypt here (altered, or copied from another row or column)"
            ) from exc

    def blind_index(self, purpose, value):
        """A keyed hash for exact-match lookups on an encrypted value."""
        message = f"{purpose}\0{normalise(value)}".encode()
        return hmac.new(self.index_key, message, hashlib.sha256).hexdigest()


def key_id_of(stored):
    return stored.split(".", 2)[1]


def normalise(value):
    return " ".join(unicodedata.normalize("NFKC", value).casefold().split())


def key_file(app):
    return Path(app.instance_path) / KEY_FILE


def read_material(app):
    """The key material from configuration, or else from the instance folder; None if absent."""
    if app.config.get("ENCRYPTION_KEYS"):
        return {"encryption_keys": app.config["ENCRYPTION_KEYS"],
                "index_key": app.config.get("INDEX_KEY"),
                "log_key": app.config.get("LOG_KEY")}
    path = key_file(app)
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError as exc:
        raise CryptoError(f"{path} is not valid JSON") from exc


def write_private(path, text):
    """Write a file only its owner can read, replacing it whole or not at all."""
    tmp = Path(f"{path}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)


def write_material(app, material):
    write_private(key_file(app), json.dumps(material, indent=2))


def load_keyring(app):
    material = read_material(app)
    return None if material is None else KeyRing(material)


def keyring():
    ring = current_app.extensions.get("referral.keyring")
    if ring is None:
        raise CryptoError("no encryption keys: run 'flask --app referral init'")
    return ring


def context(obj, column):
    return context_of(obj.__tablename__, column, obj.id)


def context_of(table, column, row_id):
    """The associated data of a value: its table, column and row."""
    return f"{table}/{column}/{row_id}"


def sealed(column):
    """A property that stores its value encrypted in `column`, bound to the row's id."""

    def get(obj):
        stored = getattr(obj, column)
        return None if stored is None else keyring().open(stored, context(obj, column))

    def set_(obj, value):
        sealed_value = None if value is None else keyring().seal(value, context(obj, column))
        setattr(obj, column, sealed_value)

    return property(get, set_, doc=f"Decrypted value of {column}.")


def encrypted_columns(metadata):
    """Every (table, column) that holds encrypted values, per the column's info."""
    return [(table, column) for table in metadata.sorted_tables
            for column in table.columns if column.info.get("encrypted")]
