"""The outsider's rewrite of the access log (issue 16, finding 1), repeated exactly.

The outsider has the database (full rights: the append-only trigger can go) and the
command line, but not keys.json. They change entry 300, recompute the chain from there with
the app's own hash function, add one chained entry, move `audit_head` and append one line
to `audit-head.log`. `audit verify` must fail: the entries are sealed with the log key they
do not have, and every line of the head file (and of the sink outside the instance) is
checked, not only the last."""

import json
import os
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import select

from referral import audit, crypto, db
from referral.audit.chain import HEAD_FILE, MAC, entry_hash
from referral.audit.models import AuditEvent, AuditHead
from tests.audit.test_chain import _as_attacker, _sql, fill

pytestmark = pytest.mark.usefixtures("app")

ENTRIES = 320
CHANGED = 300


def _rewrite(app, forge, *, changed=CHANGED):
    """The outsider's attack, step by step; `forge` is their hash function."""
    _as_attacker(app)
    with app.app_context():
        session = db.session()
        session.execute(sa.text("UPDATE audit_event SET summary = 'nothing to see' "
                                "WHERE seq = :seq"), {"seq": changed})
        session.expire_all()
        entries = session.exec(select(AuditEvent).where(AuditEvent.seq >= changed)
                               .order_by(AuditEvent.seq)).all()
        prev = session.exec(select(AuditEvent.hash).where(AuditEvent.seq == changed - 1)).one()
        for entry in entries:  # the chain recomputed from the changed entry on
            entry.prev_hash = prev
            entry.hash = prev = forge(entry)
            session.add(entry)
        session.flush()
        last = entries[-1]
        added = AuditEvent(seq=last.seq + 1, action="read", object_type="test", object_id="x",
                           outcome="success", summary="one more", prev_hash=prev)
        added.hash = forge(added)  # one chained entry added
        session.add(added)
        session.flush()
        session.execute(sa.text("UPDATE audit_head SET seq = :seq, hash = :hash"),
                        {"seq": added.seq, "hash": added.hash})
        db.commit()
    with open(os.path.join(app.instance_path, HEAD_FILE), "a") as head:  # one line appended
        head.write(f"{added.seq} {added.hash}\n")
    return added.seq


def _verify(runner):
    result = runner.invoke(args=["audit", "verify"])
    return result.exit_code, result.output


def _intact(runner, count):
    code, output = _verify(runner)
    return code == 0 and f"The access log is intact: {count} entries." in output


def _plain(entry):
    """The app's own hash function without a key (what `entry_hash` does in an app that has
    no log key), or plain SHA-256 as the old chain was."""
    return entry_hash(entry)


OUTSIDERS_KEY = os.urandom(32)


def _own_key(entry):
    """The app's own function with a key of the outsider's own: they do not have keys.json."""
    return entry_hash(entry, OUTSIDERS_KEY)


def test_the_log_is_sealed_with_the_log_key(app, runner):
    fill(app, 3)
    with app.app_context():
        entries = db.session().exec(select(AuditEvent).order_by(AuditEvent.seq)).all()
    assert all(e.hash.startswith(MAC) for e in entries)
    assert all(e.hash == entry_hash(e, app.extensions["referral.keyring"].log_key)
               for e in entries)
    head = (app.instance_path + "/" + HEAD_FILE)
    assert Path(head).read_text().split() == [str(x) for e in entries for x in (e.seq, e.hash)]
    key = json.loads(crypto.key_file(app).read_text())["log_key"]
    with app.app_context():  # the key itself is nowhere in the database
        assert key not in json.dumps(
            [list(map(str, row)) for row in db.session().execute(sa.text(
                "SELECT * FROM audit_event")).all() + db.session().execute(sa.text(
                    "SELECT * FROM audit_head")).all()])
    assert _intact(runner, 3)


@pytest.mark.parametrize("forge", [_plain, _own_key], ids=["plain-sha256", "own-key"])
def test_the_outsiders_rewrite_and_append_fails_verification(app, runner, forge):
    fill(app, ENTRIES)
    assert _verify(runner)[0] == 0
    _rewrite(app, forge)
    code, output = _verify(runner)
    assert code == 1, output
    assert f"The access log is broken: entry {CHANGED} was changed" in output


def test_the_same_rewrite_of_an_unkeyed_log_shows_in_the_older_head_file_lines(
        make_app, runner):
    """A log from before the log key is a plain SHA-256 chain, which the outsider can
    recompute; the older lines of the head file still give it away (line 300, not only the
    last one, is checked)."""
    material = crypto.new_key_material()
    plain = make_app(ENCRYPTION_KEYS=material["encryption_keys"],
                     INDEX_KEY=material["index_key"])
    assert plain.extensions["referral.keyring"].log_key is None
    fill(plain, ENTRIES)
    _rewrite(plain, _plain)
    code, output = _verify(plain.test_cli_runner())
    assert code == 1, output
    assert (f"entry {CHANGED} differs from the hash recorded outside the database "
            f"({HEAD_FILE}, line {CHANGED})") in output


def test_an_older_head_file_line_that_does_not_match_is_named(app, runner):
    fill(app, 5)
    path = os.path.join(app.instance_path, HEAD_FILE)
    lines = Path(path).read_text().splitlines()
    lines[1] = "2 " + MAC + "A" * 43
    Path(path).write_text("\n".join(lines) + "\n")
    code, output = _verify(runner)
    assert code == 1 and "entry 2 differs from the hash recorded outside the database" in output


def test_a_plain_entry_is_never_written_after_a_keyed_one(app, make_app):
    """No downgrade: an app without the log key refuses to write, and one that has it
    refuses a plain entry after keyed ones."""
    fill(app, 2)
    material = crypto.new_key_material()
    keyless = make_app(ENCRYPTION_KEYS=material["encryption_keys"],
                       INDEX_KEY=material["index_key"])
    with keyless.app_context(), pytest.raises(crypto.CryptoError, match="no log key"):
        audit.record("read", object_type="test")
    code, output = _verify(keyless.test_cli_runner())
    assert code == 1 and "entry 1 is sealed with a log key, and this instance has none" in output


def test_plain_entries_from_before_the_log_key_still_verify_and_stay_protected(
        app, make_app, runner):
    material = crypto.new_key_material()
    before = make_app(ENCRYPTION_KEYS=material["encryption_keys"],
                      INDEX_KEY=material["index_key"])
    fill(before, 3)  # the old, plain chain
    fill(app, 2, start=3)  # then the log key: keyed from entry 4 on
    with app.app_context():
        hashes = db.session().exec(select(AuditEvent.hash).order_by(AuditEvent.seq)).all()
    assert [h.startswith(MAC) for h in hashes] == [False] * 3 + [True] * 2
    assert _intact(runner, 5)
    # The old entries can be recomputed, but the first keyed entry seals their last hash.
    _as_attacker(app)
    with app.app_context():
        session = db.session()
        session.execute(sa.text("UPDATE audit_event SET summary = 'x' WHERE seq = 2"))
        session.expire_all()
        prev = session.exec(select(AuditEvent.hash).where(AuditEvent.seq == 1)).one()
        for entry in session.exec(select(AuditEvent).where(AuditEvent.seq.in_([2, 3]))
                                  .order_by(AuditEvent.seq)).all():
            entry.prev_hash = prev
            entry.hash = prev = entry_hash(entry)
            session.add(entry)
        db.commit()
    code, output = _verify(runner)
    assert code == 1 and "entry 4 does not follow entry 3" in output


def test_a_keyed_log_may_not_end_in_a_plain_entry(app, runner):
    """Someone who writes a whole new plain chain from the first entry leaves no keyed
    entry to trip over; while the instance has a log key, its newest entry must be keyed."""
    fill(app, 3)
    _as_attacker(app)
    with app.app_context():
        session = db.session()
        prev = "0" * 64
        for entry in session.exec(select(AuditEvent).order_by(AuditEvent.seq)).all():
            entry.prev_hash = prev
            entry.hash = prev = entry_hash(entry)
            session.add(entry)
        session.flush()
        session.exec(select(AuditHead)).one().hash = prev
        db.commit()
    path = os.path.join(app.instance_path, HEAD_FILE)
    os.remove(path)  # the head file rewritten too: it is in the instance folder
    code, output = _verify(runner)
    assert code == 1 and "entry 3 was changed (not sealed with the log key)" in output


def test_a_cut_off_tail_shows_in_the_sink_outside_the_instance(make_app, tmp_path):
    """The outsider removes the newest entries, moves the head back and cuts the instance's
    head file to match: the chain that is left is sound, but the sink on another mount
    still has the newer lines."""
    sink = tmp_path / "elsewhere" / "referral-audit-head.log"
    sink.parent.mkdir()
    app = make_app(AUDIT_HEAD_SINK=str(sink))
    fill(app, 5)
    assert sink.read_text() == Path(os.path.join(app.instance_path, HEAD_FILE)).read_text()
    _as_attacker(app)
    _sql(app, "DELETE FROM audit_event WHERE seq >= 4")
    _sql(app, "UPDATE audit_head SET seq = 3, hash = (SELECT hash FROM audit_event WHERE seq = 3)")
    path = os.path.join(app.instance_path, HEAD_FILE)
    lines = Path(path).read_text().splitlines()
    Path(path).write_text("\n".join(lines[:3]) + "\n")
    runner = app.test_cli_runner()
    code, output = _verify(runner)
    assert code == 1, output
    assert f"entries after 3 were removed (entry 5 was recorded, in {sink})" in output
    # Without the sink, this attack would pass: the sink is what catches it.
    unsunk = make_app()
    assert _verify(unsunk.test_cli_runner())[0] == 0


def test_syslog_as_the_sink_keeps_writing(make_app, runner):
    app = make_app(AUDIT_HEAD_SINK="syslog")
    fill(app, 2)
    assert _intact(app.test_cli_runner(), 2)


@pytest.mark.own_database
def test_init_gives_an_instance_from_before_the_log_key_one(app_config, make_app):
    instance = app_config["INSTANCE_PATH"]
    path = os.path.join(instance, "keys.json")
    material = json.loads(Path(path).read_text())
    del material["log_key"]
    crypto.write_private(path, json.dumps(material))
    old = make_app()
    fill(old, 2)  # plain entries
    result = old.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0, result.output
    assert "Added a log key" in result.output
    added = json.loads(Path(path).read_text())
    assert added["encryption_keys"] == material["encryption_keys"] and added["log_key"]
    new = make_app()
    runner = new.test_cli_runner()
    assert _intact(runner, 3)
    with new.app_context():
        last = db.session().exec(select(AuditEvent).where(AuditEvent.seq == 3)).one()
    assert last.summary == "log key added" and last.hash.startswith(MAC)
    again = runner.invoke(args=["init"])  # running it again changes no key
    assert again.exit_code == 0 and json.loads(Path(path).read_text()) == added


@pytest.mark.own_database
def test_init_seals_the_log_when_the_log_key_comes_from_the_environment(make_app):
    material = crypto.new_key_material()
    keys = {"ENCRYPTION_KEYS": material["encryption_keys"], "INDEX_KEY": material["index_key"]}
    fill(make_app(**keys), 2)  # before REFERRAL_LOG_KEY was set
    keyed = make_app(**keys, LOG_KEY=material["log_key"])
    runner = keyed.test_cli_runner()
    code, output = _verify(runner)  # the newest entry is not sealed yet
    assert code == 1 and "entry 2 was changed (not sealed with the log key)" in output
    assert runner.invoke(args=["init"]).exit_code == 0
    assert _intact(runner, 3)
