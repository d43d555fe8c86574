"""Every referral operation called directly, without HTTP, as every person of the world and
as the command line: who may is let through; everyone else is refused, the refusal writes
nothing, and where the policy said no the access log has the denial."""

import uuid
from datetime import date

import pytest
from sqlmodel import select

from referral import db, policy
from referral.auth.models import User
from referral.cases.models import Consent, Family, Signal
from referral.cases.operations import create_family, log_signal
from referral.directory.models import Service
from referral.errors import Denied
from referral.mail import OutboxMessage
from referral.referrals.models import Handover, Referral, ReferralEvent, Status
from referral.referrals.operations import (
    add_note,
    assign_bridge,
    change_status,
    consent_withdrawn,
    decide_bridge,
    decide_handover,
    propose_handover,
    refer,
    send_reminders,
)
from referral.referrals.queries import default_follow_up
from tests.matrix import WORLD_ACTORS as ACTORS
from tests.matrix import (
    accompany,
    attempt,
    check_as,
    denials,
    last_entry,
    nothing_written,
    snapshot,
)
from tests.world import refer_again


def _get(model, object_id):
    return db.session().get(model, object_id)


def _user(world, who):
    return _get(User, getattr(world, who).id)


# --- what each operation needs before it is tried ------------------------------------------

def _nothing(app, world):
    return None


def _a_draft(app, world):
    """A draft to the inbox service, whose organisation has the family's consent."""
    return refer_again(app, world, world.inbox_service, send=False)


def _a_handover(app, world):
    """The owner asks the colleague to take the inbox referral over."""
    with app.app_context():
        handover = propose_handover(_user(world, "owner"), _get(Referral, world.inbox_referral),
                                    _user(world, "colleague"), "Ik ga met verlof.")
        db.commit()
        return handover.id


def _consent_gone(app, world):
    """The family's consent for the inbox organisation, withdrawn (its referrals not yet
    told)."""
    with app.app_context():
        organisation_id = _get(Service, world.inbox_service).organisation_id
        consent = db.session().exec(select(Consent).where(
            Consent.family_id == world.family_id,
            Consent.organisation_id == organisation_id)).one()
        consent.withdrawn_at, consent.withdrawn_by = db.utcnow(), world.owner.id
        db.commit()
        return consent.id


# --- the operations, each as one call ------------------------------------------------------

def _sport(_app, _world):
    """The Sportfonds, which the world's signal has no open referral to."""
    return db.session().exec(select(Service.id).where(Service.name == "Sportfonds")).one()


def _refer(user, world, _context):
    refer(user, _get(Family, world.family_id), _get(Signal, world.signal_id),
          [_get(Service, _sport(None, world))], message="Graag bellen.",
          follow_up_on=default_follow_up(), send=True, form_token=str(uuid.uuid4()))


def _send(user, world, draft_id):
    change_status(user, _get(Referral, draft_id), Status.requested)


def _accept(user, world, _context):
    change_status(user, _get(Referral, world.inbox_referral), Status.accepted)


def _accept_by_letter(user, world, _context):
    change_status(user, _get(Referral, world.letter_referral), Status.accepted)


def _cancel(user, world, _context):
    change_status(user, _get(Referral, world.inbox_referral), Status.cancelled,
                  reason="Het gezin is verhuisd.")


def _note(user, world, _context):
    add_note(user, _get(Referral, world.inbox_referral), "Moeder gebeld.")


def _hand_over(user, world, _context):
    propose_handover(user, _get(Referral, world.inbox_referral), _user(world, "colleague"),
                     "Neem jij het over?")


def _decide(user, world, handover_id):
    decide_handover(user, _get(Handover, handover_id), accept=True)


def _ask_the_bridge(user, world, _context):
    assign_bridge(user, _get(Referral, world.letter_referral), _user(world, "bridge"),
                  family_agreed=True)


def _a_bridge_request(app, world):
    """The owner asks the bridge worker to accompany the family on the letter referral."""
    with app.app_context():
        assign_bridge(_user(world, "owner"), _get(Referral, world.letter_referral),
                      _user(world, "bridge"), family_agreed=True)
        db.commit()


def _accept_the_request(user, world, _context):
    decide_bridge(user, _get(Referral, world.letter_referral), accept=True)


def _decline_the_request(user, world, _context):
    decide_bridge(user, _get(Referral, world.letter_referral), accept=False,
                  reason="Ik heb deze maand geen tijd.")


def _tell_withdrawn(user, world, consent_id):
    consent_withdrawn(user, _get(Consent, consent_id))


def _remind(user, world, _context):
    send_reminders(user)


# name: (setup, call, the policy rule that says no, who may, who is told it is not theirs)
OPERATIONS = {
    "refer": (_nothing, _refer, "referral.create", {"owner"}, set()),
    "send a draft": (_a_draft, _send, "referral.view", {"owner"}, set()),
    "accept": (_nothing, _accept, "referral.view", {"partner"},
               {"owner", "bridge_assigned"}),
    "accept for a letter service": (_nothing, _accept_by_letter, "referral.view", {"owner"},
                                    set()),
    "cancel": (_nothing, _cancel, "referral.view", {"owner", "partner"}, {"bridge_assigned"}),
    "note": (_nothing, _note, "referral.note", {"owner", "partner", "bridge_assigned"}, set()),
    "propose a handover": (_nothing, _hand_over, "referral.handover", {"owner"}, set()),
    "decide a handover": (_a_handover, _decide, "handover.decide", {"colleague"}, set()),
    "ask a bridge worker": (_nothing, _ask_the_bridge, "referral.bridge", {"owner"}, set()),
    "accept a bridge request": (_a_bridge_request, _accept_the_request, "bridge.decide",
                                {"bridge", "bridge_assigned"}, set()),
    "decline a bridge request": (_a_bridge_request, _decline_the_request, "bridge.decide",
                                 {"bridge", "bridge_assigned"}, set()),
    "tell that consent was withdrawn": (_consent_gone, _tell_withdrawn, "consent.record",
                                        {"owner"}, set()),
    "send the reminders": (_nothing, _remind, "referrals.remind", {"command_line"}, set()),
}


@pytest.mark.parametrize("who", ACTORS)
@pytest.mark.parametrize("name", list(OPERATIONS))
def test_who_may_take_each_step(app, world, name, who):
    setup, call, rule, may, not_theirs = OPERATIONS[name]
    if who == "bridge_assigned":
        accompany(app, world)
    check_as(app, world, who, call, may=may, rule=rule, context=setup(app, world),
             not_theirs=not_theirs)


def test_the_side_comes_from_who_takes_the_step(app, world):
    """Nobody passes a side: the owner records a letter service's step on its behalf, the
    partner takes its own."""
    assert attempt(app, world, "owner", _accept_by_letter) is None
    assert attempt(app, world, "partner", _accept) is None
    with app.app_context():
        steps = {e.referral_id: e for e in db.session().exec(select(ReferralEvent).where(
            ReferralEvent.to_status == Status.accepted))}
    letter, inbox = steps[world.letter_referral], steps[world.inbox_referral]
    assert (letter.actor_id, letter.on_behalf) == (world.owner.id, True)
    assert (inbox.actor_id, inbox.on_behalf) == (world.partner.id, False)


# --- the rules an allowed person still meets -----------------------------------------------

def _another_familys_signal(app, world):
    with app.app_context():
        owner = _user(world, "owner")
        family = create_family(owner, parent_names="Anna de Vries",
                               children=[("Noor", date(2016, 5, 1))])
        signal = log_signal(owner, family, domains=["food"], source="conversation",
                            observations="gezien")
        db.commit()
        return signal.id


def _refer_with(signal_id=None, **fields):
    def call(user, world, context):
        values = dict(message="Graag bellen.", follow_up_on=default_follow_up(), send=True,
                      form_token=str(uuid.uuid4()))
        values.update(fields)
        services = [_get(Service, world.inbox_service)]
        refer(user, _get(Family, world.family_id),
              _get(Signal, context or world.signal_id), services, **values)
    return call


def _inactive_service(app, world):
    with app.app_context():
        _get(Service, world.inbox_service).status = "inactive"
        db.commit()


def _a_draft_without_consent(app, world):
    _consent_gone(app, world)
    return _a_draft(app, world)


def _step(target, referral="inbox_referral", **fields):
    def call(user, world, _context):
        change_status(user, _get(Referral, getattr(world, referral)), target, **fields)
    return call


def _hand_over_to(who):
    def call(user, world, _context):
        propose_handover(user, _get(Referral, world.inbox_referral), _user(world, who), "graag")
    return call


def _bridge(who, agreed=True):
    def call(user, world, _context):
        assign_bridge(user, _get(Referral, world.inbox_referral), _user(world, who),
                      family_agreed=agreed)
    return call


def _a_waiting_request(app, world):
    accompany(app, world, answer=False)


def _an_accepted_request(app, world):
    accompany(app, world)


def _still_active(app, world):
    with app.app_context():
        organisation_id = _get(Service, world.inbox_service).organisation_id
        return db.session().exec(select(Consent.id).where(
            Consent.family_id == world.family_id,
            Consent.organisation_id == organisation_id)).one()


# (what is tried, by whom, setup, call, the message in English)
RULES = [
    ("a signal of another family", "owner", _another_familys_signal, _refer_with(),
     "This does not belong to this family."),
    ("a service closed to referrals", "owner", _inactive_service, _refer_with(),
     "Choose at least one service."),
    ("no message", "owner", _nothing, _refer_with(message=" "),
     "Write what the partner needs to know."),
    ("a follow-up date in the past", "owner", _nothing,
     _refer_with(follow_up_on=date(2020, 1, 1)),
     "Choose a follow-up date within the coming year."),
    ("a form from before a change", "partner", _nothing,
     _step(Status.accepted, version=0),
     "This referral changed while you were looking at it. Look at it again, then retry."),
    ("a step the lifecycle has not", "partner", _nothing, _step(Status.completed,
                                                                outcome="need_met"),
     "This step is not possible now: the referral is requested."),
    ("rejecting without a reason", "partner", _nothing, _step(Status.rejected, reason=" "),
     "Give a reason for this step."),
    ("sending without consent", "owner", _a_draft_without_consent, _send,
     "Record the family's consent for this organisation first; until then the referral "
     "stays a draft."),
    ("an empty note", "partner", _nothing,
     lambda user, world, _c: add_note(user, _get(Referral, world.inbox_referral), " "),
     "Write the note."),
    ("a handover to another organisation", "owner", _nothing, _hand_over_to("stranger"),
     "Choose an active colleague of your own organisation."),
    ("a handover to a partner", "owner", _nothing, _hand_over_to("partner"),
     "Choose an active colleague of your own organisation."),
    ("a second handover", "owner", _a_handover, _hand_over_to("colleague"),
     "A handover of this referral is already waiting for an answer."),
    ("a bridge worker without the family's consent", "owner", _nothing,
     _bridge("bridge", agreed=False),
     "A bridge worker can only join with the family's consent."),
    ("someone who is no bridge worker", "owner", _nothing, _bridge("partner"),
     "Choose an active bridge worker."),
    ("telling of a consent that stands", "owner", _still_active, _tell_withdrawn,
     "Withdraw the consent first."),
    ("a second bridge worker while one has not answered", "owner", _a_waiting_request,
     _bridge("bridge"), "A bridge worker is already asked and has not answered yet."),
    ("the bridge worker who accompanies already", "owner", _an_accepted_request,
     _bridge("bridge"), "This bridge worker already accompanies the family."),
]


@pytest.mark.parametrize(("what", "who", "setup", "call", "message"), RULES,
                         ids=[rule[0] for rule in RULES])
def test_the_rules_hold_for_who_may(app, world, what, who, setup, call, message):
    context = setup(app, world)
    before, denied = snapshot(app), len(denials(app))
    refused = attempt(app, world, who, call, context)
    assert refused is not None and not isinstance(refused, Denied), what
    assert refused.english == message
    assert snapshot(app) == before
    assert len(denials(app)) == denied


# --- the bridge worker's answer ----------------------------------------------------------

def _last_event(app, referral_id, kind):
    """(actor, outcome, text) of the referral's last event of this kind."""
    with app.app_context():
        event = db.session().exec(select(ReferralEvent).where(
            ReferralEvent.referral_id == referral_id, ReferralEvent.kind == kind)
            .order_by(ReferralEvent.at.desc())).first()
        return event.actor_id, event.outcome, event.text


def test_accepting_a_bridge_request_makes_the_worker_accompany(app, world):
    accompany(app, world, answer=False)
    with app.app_context():
        referral = _get(Referral, world.inbox_referral)
        asked = _user(world, "bridge")
        assert not policy.allowed(asked, "referral.note", referral)  # not before answering
        assert policy.allowed(asked, "referral.view", referral)
        decide_bridge(asked, referral, accept=True, reason="genegeerd")
        db.commit()
        referral = _get(Referral, world.inbox_referral)
        assert referral.bridge_id == world.bridge.id and referral.bridge_accepted_at
        assert policy.allowed(asked, "referral.note", referral)
        assert not policy.allowed(asked, "bridge.decide", referral)  # answered once
        assert last_entry().summary == "bridge request accepted"
        told = db.session().exec(select(OutboxMessage)).all()[-1]
        assert told.family_id == world.family_id and "Zeynep" not in told.body
    assert _last_event(app, world.inbox_referral, "bridge") == (world.bridge.id, "accepted",
                                                                 None)


def test_declining_a_bridge_request_withdraws_it_with_the_reason(app, world):
    accompany(app, world, answer=False)
    with app.app_context():
        decide_bridge(_user(world, "bridge"), _get(Referral, world.inbox_referral),
                      accept=False, reason="Ik heb deze maand geen tijd.")
        db.commit()
        referral = _get(Referral, world.inbox_referral)
        assert referral.bridge_id is None and referral.bridge_accepted_at is None
        assert not policy.allowed(_user(world, "bridge"), "referral.view", referral)
        assert last_entry().summary == "bridge request declined"
    assert _last_event(app, world.inbox_referral, "bridge") == (
        world.bridge.id, "declined", "Ik heb deze maand geen tijd.")
    with app.app_context():  # the owner may ask someone else now
        assign_bridge(_user(world, "owner"), _get(Referral, world.inbox_referral),
                      _user(world, "bridge"), family_agreed=True)


def test_a_bridge_request_is_answered_once(app, world):
    accompany(app, world, answer=False)
    with app.app_context():
        decide_bridge(_user(world, "bridge"), _get(Referral, world.inbox_referral),
                      accept=False)
        db.commit()
        with nothing_written(Denied):
            decide_bridge(_user(world, "bridge"), _get(Referral, world.inbox_referral),
                          accept=True)
