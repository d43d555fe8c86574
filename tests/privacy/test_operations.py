"""The privacy and key operations called directly, without HTTP (so without the web
session's two-factor check), by every kind of actor: only a privacy officer answers a
family's request, retention runs for the officer and the command line, keys only at the
command line; refusals leave nothing behind but the logged denial."""

import json
from datetime import timedelta

import pytest
from sqlmodel import select

from referral import crypto, db, keys, policy
from referral.audit.models import AuditEvent
from referral.cases.models import Family
from referral.errors import Denied, Refused
from referral.privacy import operations
from tests.matrix import ROLE_ACTORS as ACTORS
from tests.matrix import nothing_written

OFFICER = {"privacy"}
RETENTION = {"privacy", "command_line"}
COMMAND_LINE = {"command_line"}
FAR_AHEAD = timedelta(days=10 * 366)  # every access log entry is past its five years


def _find(actor, world):
    families = operations.find_families(actor, reference=str(world.family_id))
    assert [family.id for family in families] == [world.family_id]
    return "privacy: family looked up by reference (1 found)"


def _export(actor, world):
    record = operations.export_family(actor, db.session().get(Family, world.family_id))
    assert record["family"][0]["parent_names"] == "Zeynep Yilmaz"
    assert record["accesses"]  # who accessed the data, with the export itself to come
    return "access request: everything stored, decrypted"


def _erase(actor, world):
    receipt = operations.erase(actor, db.session().get(Family, world.family_id))
    assert db.session().get(Family, world.family_id) is None
    assert receipt.erased_by == actor.id and receipt.reason == "request"
    assert json.loads(receipt.counts)["referral"] == 2
    return "family erased (request)"


def _read_log(actor, world):
    events, more = operations.read_access_log(actor, family_id=world.family_id)
    assert events and not more
    assert {event.family_id for event in events} == {world.family_id}
    return f"access log read ({len(events)} entries)"


def _purge(actor, world):
    summary = operations.purge(actor, now=db.utcnow() + FAR_AHEAD)
    assert summary["families"] == 0  # its referrals are open: the family stays
    assert summary["audit_entries"] > 0
    assert db.session().get(Family, world.family_id) is not None
    return None  # the removal of old entries is logged by the access log itself


def _dry_run(actor, world):
    summary = operations.purge(actor, now=db.utcnow() + FAR_AHEAD, dry_run=True)
    assert summary["audit_entries"] > 0
    return None


def _rotate(actor, world):
    old = crypto.keyring().newest
    rotation = keys.start_rotation(actor)
    assert rotation.key != old and not rotation.resumed and rotation.pending > 0
    keys.reencrypt(actor, batch=7)
    assert db.session().get(Family, world.family_id).parent_names == "Zeynep Yilmaz"
    keys.retire(actor, old)
    assert list(crypto.keyring().keys) == [rotation.key]
    return None


# operation: (call, who may); the call proves its effect and returns the audit summary
OPERATIONS = {
    "find_families": (_find, OFFICER),
    "export_family": (_export, OFFICER),
    "erase": (_erase, OFFICER),
    "read_access_log": (_read_log, OFFICER),
    "purge": (_purge, RETENTION),
    "purge (dry run)": (_dry_run, RETENTION),
    "keys": (_rotate, COMMAND_LINE),
}


@pytest.mark.parametrize("who", ACTORS)
@pytest.mark.parametrize("name", OPERATIONS)
def test_every_operation_as_every_actor(app, world, actors, name, who):
    call, allowed = OPERATIONS[name]
    with app.app_context():
        actor = actors(who)
        if who in allowed:
            summary = call(actor, world)
            if summary:
                entry = db.session().exec(select(AuditEvent).order_by(
                    AuditEvent.seq.desc())).first()
                assert (entry.summary, entry.user_id) == (summary, actor.id)
        else:
            with nothing_written(Denied) as denied:
                call(actor, world)
            assert denied.value.hidden is (name not in ("purge", "purge (dry run)", "keys"))


@pytest.mark.parametrize("who", ["owner", "coordinator", "inactive_officer"])
def test_a_refused_erasure_is_logged_as_an_attempt_to_delete(app, world, actors, who):
    with app.app_context():
        with pytest.raises(Denied):
            operations.erase(actors(who), db.session().get(Family, world.family_id))
        entry = db.session().exec(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
        assert (entry.action, entry.outcome, entry.family_id) == ("delete", "denied",
                                                                  world.family_id)
        assert db.session().get(Family, world.family_id) is not None


# ---- keys: the rules of rotation, refused with a message, nothing changed ---------------

def _key_file(app):
    return crypto.key_file(app).read_text()


@pytest.mark.parametrize(("key", "message"), [
    ("newest", "is the newest key: rotate first."),
    ("unknown", "There is no key"),
])
def test_a_key_is_retired_only_when_it_is_old_and_unused(app, key, message):
    with app.app_context():
        key_id = crypto.keyring().newest if key == "newest" else "k-unknown"
        before = _key_file(app)
        with nothing_written(Refused) as refused:
            keys.retire(policy.COMMAND_LINE, key_id)
        assert message in str(refused.value) and _key_file(app) == before


def test_a_key_in_use_is_not_retired(app, world):
    with app.app_context():
        old = crypto.keyring().newest
        keys.start_rotation(policy.COMMAND_LINE)  # a new key; no value uses it yet
        before = _key_file(app)
        with nothing_written(Refused) as refused:
            keys.retire(policy.COMMAND_LINE, old)
        assert "values still use key" in str(refused.value) and _key_file(app) == before


def test_keys_from_the_environment_are_changed_there(make_app):
    app = make_app()
    material = json.loads(_key_file(app))
    app = make_app(ENCRYPTION_KEYS=material["encryption_keys"], INDEX_KEY=material["index_key"])
    with app.app_context():
        for call in (lambda: keys.start_rotation(policy.COMMAND_LINE),
                     lambda: keys.retire(policy.COMMAND_LINE, "k-any")):
            with nothing_written(Refused) as refused:
                call()
            assert "REFERRAL_ENCRYPTION_KEYS" in str(refused.value)
