"""Configuration order, and a production start that refuses what is missing, in one line."""

import json

import pytest

from referral import create_app, crypto


@pytest.fixture
def instance(tmp_path, monkeypatch):
    for name in ("REFERRAL_ENV", "REFERRAL_DATABASE_URL", "REFERRAL_SECRET_KEY",
                 "REFERRAL_ENCRYPTION_KEYS", "REFERRAL_INDEX_KEY", "REFERRAL_LOG_KEY",
                 "REFERRAL_AUDIT_HEAD_SINK", "REFERRAL_REQUIRE_2FA",
                 "REFERRAL_ALLOW_SQLITE_IN_PRODUCTION"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("REFERRAL_INSTANCE_PATH", str(tmp_path))
    return tmp_path


def _refusal():
    with pytest.raises(SystemExit) as stopped:
        create_app()
    message = str(stopped.value.code)
    assert message.startswith("referral: ") and "\n" not in message
    return message


def test_instance_path_comes_from_the_environment(instance):
    app = create_app()
    assert app.instance_path == str(instance)
    assert app.config["DATABASE_URL"] == f"sqlite:///{instance / 'referral.sqlite'}"


def test_instance_config_then_environment(instance, monkeypatch):
    (instance / "config.py").write_text("SESSION_IDLE_MINUTES = 10\nLOGIN_THROTTLE_MINUTES = 7\n")
    monkeypatch.setenv("REFERRAL_SESSION_IDLE_MINUTES", "20")
    app = create_app()
    assert app.config["SESSION_IDLE_MINUTES"] == 20  # the environment wins
    assert app.config["LOGIN_THROTTLE_MINUTES"] == 7  # the instance file beats the default
    assert app.config["REQUIRE_2FA"] is False  # development default


def test_production_refuses_without_secret_key(instance, monkeypatch):
    monkeypatch.setenv("REFERRAL_ENV", "production")
    assert "REFERRAL_SECRET_KEY" in _refusal()


def test_production_refuses_without_encryption_keys(instance, monkeypatch):
    monkeypatch.setenv("REFERRAL_ENV", "production")
    monkeypatch.setenv("REFERRAL_SECRET_KEY", "x" * 64)
    monkeypatch.setenv("REFERRAL_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1/db")
    assert "REFERRAL_ENCRYPTION_KEYS" in _refusal()


def test_production_refuses_sqlite_without_opt_in(instance, monkeypatch):
    monkeypatch.setenv("REFERRAL_ENV", "production")
    monkeypatch.setenv("REFERRAL_SECRET_KEY", "x" * 64)
    assert "REFERRAL_ALLOW_SQLITE_IN_PRODUCTION" in _refusal()


def test_production_starts_with_everything_set(instance, monkeypatch):
    material = crypto.new_key_material()
    monkeypatch.setenv("REFERRAL_ENV", "production")
    monkeypatch.setenv("REFERRAL_SECRET_KEY", "x" * 64)
    monkeypatch.setenv("REFERRAL_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1/db")
    monkeypatch.setenv("REFERRAL_ENCRYPTION_KEYS", json.dumps(material["encryption_keys"]))
    monkeypatch.setenv("REFERRAL_INDEX_KEY", material["index_key"])
    monkeypatch.setenv("REFERRAL_LOG_KEY", material["log_key"])
    app = create_app()
    assert app.config["REQUIRE_2FA"] is True  # the production default
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.extensions["referral.keyring"].log_key is not None


def test_production_refuses_without_a_log_key(instance, monkeypatch):
    """Without it the access log would be chained with plain SHA-256, which anyone who can
    write the database recomputes."""
    material = crypto.new_key_material()
    del material["log_key"]
    crypto.write_private(instance / "keys.json", json.dumps(material))
    monkeypatch.setenv("REFERRAL_ENV", "production")
    monkeypatch.setenv("REFERRAL_SECRET_KEY", "x" * 64)
    monkeypatch.setenv("REFERRAL_DATABASE_URL", "postgresql+psycopg://u@127.0.0.1/db")
    assert "REFERRAL_LOG_KEY" in _refusal() and "init" in _refusal()


@pytest.mark.parametrize("content", [
    "not json",
    json.dumps({"encryption_keys": [], "index_key": "AAAA"}),
    json.dumps({"encryption_keys": [{"id": "k1", "key": "c2hvcnQ="}], "index_key": "AAAA"}),
    json.dumps({"encryption_keys": [{"id": "k.1", "key": "A" * 43 + "="}],
                "index_key": "A" * 43 + "="}),
])
def test_malformed_keys_refuse_to_start_in_any_mode(instance, monkeypatch, content):
    (instance / "keys.json").write_text(content)
    assert "encryption keys are malformed" in _refusal()
