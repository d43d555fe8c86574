"""The command line, as an operator uses it."""

import json
import os
import stat

import pytest

from referral import create_app, crypto

COMMANDS = [["init"], ["db"], ["db", "upgrade"], ["db", "downgrade"], ["db", "revision"],
            ["db", "current"], ["db", "check"], ["users"], ["users", "create"],
            ["users", "list"], ["users", "deactivate"], ["keys"], ["keys", "rotate"],
            ["keys", "retire"], ["audit"], ["audit", "verify"], ["directory"],
            ["directory", "import"], ["directory", "export"], ["directory", "terms"],
            ["directory", "map-term"], ["mail"], ["mail", "send"], ["demo"], ["demo", "load"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help(runner, command):
    result = runner.invoke(args=[*command, "--help"])
    assert result.exit_code == 0 and "Usage:" in result.output


@pytest.mark.own_database
def test_init_creates_private_keys_and_changes_nothing_the_second_time(tmp_path, app_config):
    instance = tmp_path / "fresh"
    app = create_app({**app_config, "INSTANCE_PATH": str(instance),
                      "DATABASE_URL": app_config["DATABASE_URL"]})
    runner = app.test_cli_runner()
    first = runner.invoke(args=["init"])
    assert first.exit_code == 0, first.output
    keys, secret = instance / "keys.json", instance / "secret_key"
    for path in (keys, secret):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    before = keys.read_text(), secret.read_text()
    again = runner.invoke(args=["init"])
    assert again.exit_code == 0 and "Created" not in again.output
    assert (keys.read_text(), secret.read_text()) == before
    crypto.KeyRing(json.loads(keys.read_text()))  # well-formed
    app.extensions["referral.engine"].dispose()


@pytest.mark.own_database
def test_db_check_passes_and_current_is_head(runner):
    check = runner.invoke(args=["db", "check"])
    assert check.exit_code == 0 and "agree" in check.output, check.output


@pytest.mark.own_database
def test_migrations_go_down_and_up_again(runner):
    assert runner.invoke(args=["db", "downgrade", "base"]).exit_code == 0
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    assert runner.invoke(args=["db", "check"]).exit_code == 0


def _create(runner, email="nieuw@example.org", password="een-lang-genoeg-wachtwoord",
            *extra):
    return runner.invoke(args=["users", "create", email, "--name", "Nieuwe Collega",
                               "--role", "professional", "--password-stdin", *extra],
                         input=f"{password}\n")


def test_users_create_list_deactivate(runner):
    created = _create(runner, "nieuw@example.org", "een-lang-genoeg-wachtwoord",
                      "--trained-on", "2026-03-01")
    assert created.exit_code == 0, created.output
    listing = runner.invoke(args=["users", "list"]).output
    assert "nieuw@example.org" in listing and "2026-03-01" in listing and "\tactive" in listing
    assert runner.invoke(args=["users", "deactivate", "nieuw@example.org"]).exit_code == 0
    assert "inactive" in runner.invoke(args=["users", "list"]).output


def test_users_create_asks_the_password_twice(runner):
    result = runner.invoke(args=["users", "create", "twee@example.org", "--name", "Twee Keer",
                                 "--role", "coordinator"],
                           input="een-lang-genoeg-wachtwoord\neen-lang-genoeg-wachtwoord\n")
    assert result.exit_code == 0, result.output
    assert result.output.count("Password") == 1 and "Repeat for confirmation" in result.output


@pytest.mark.parametrize(("email", "password", "extra", "message"), [
    ("geen-email", "een-lang-genoeg-wachtwoord", [], "Enter a valid email address"),
    ("a@example.org", "kort", [], "at least 12"),
    ("a@example.org", "password1234", [], "too common"),
    ("a@example.org", "een-lang-genoeg-wachtwoord", ["--organisation", "nope"],
     "No organisation"),
    ("a@example.org", "een-lang-genoeg-wachtwoord", ["--trained-on", "gisteren"], "gisteren"),
])
def test_users_create_bad_input(runner, email, password, extra, message):
    result = _create(runner, email, password, *extra)
    assert result.exit_code != 0 and message in result.output, result.output
    assert email not in runner.invoke(args=["users", "list"]).output


def test_users_create_refuses_a_duplicate(runner):
    assert _create(runner).exit_code == 0
    again = _create(runner, "NIEUW@example.org ")
    assert again.exit_code != 0 and "already an account" in again.output


def test_deactivate_unknown_user(runner):
    result = runner.invoke(args=["users", "deactivate", "niemand@example.org"])
    assert result.exit_code != 0 and "No account" in result.output


def test_demo_load_is_idempotent_and_prints_logins(runner):
    first = runner.invoke(args=["demo", "load"])
    assert first.exit_code == 0, first.output
    assert "coordinator@demo.example" in first.output and "oefen-wachtwoord" in first.output
    second = runner.invoke(args=["demo", "load"])
    assert second.exit_code == 0
    listing = runner.invoke(args=["users", "list"]).output
    assert listing.count("@demo.example") == 7  # once each, after two loads
    assert all("(demo)" in line for line in listing.splitlines())
