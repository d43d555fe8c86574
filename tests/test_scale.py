"""Scaled demo data: proportional counts, rows that read like the services' own, bounded pages
for the demo accounts, an intact access log, and a second load refused."""

import re
from datetime import date
from types import SimpleNamespace

import pytest
from sqlalchemy import func
from sqlmodel import select

from referral import db
from referral.auth.models import Role, User
from referral.auth.queries import find_user
from referral.cases.models import Child, Family, Signal
from referral.cases.queries import find_duplicates
from referral.dev import history, scale
from referral.dev.demo import PASSWORD, load
from referral.directory.models import Organisation, Service
from referral.feedback.models import FeedbackResponse
from referral.referrals import lifecycle
from referral.referrals.models import CLOSED, Referral, ReferralEvent, Status
from referral.referrals.queries import LIST_SIZE

FACTOR = 0.002

# Generates a municipality of data.
pytestmark = pytest.mark.slow


def _count(model, *where):
    return db.session().exec(select(func.count()).select_from(model).where(*where)).one()


@pytest.fixture
def scaled(app):
    with app.app_context():
        load()
        db.commit()
        return scale.generate(FACTOR)


def test_plan_is_proportional():
    national, municipality = scale.plan(1.0), scale.plan(scale.SCALES["municipality"])
    assert national == scale.NATIONAL
    assert {name: count * 10 for name, count in municipality.items()} == national


def test_generated_rows_follow_the_factor_and_read_like_real_ones(app, scaled):
    counts = scale.plan(FACTOR)
    assert scaled["family"] == counts["families"] == 200
    assert scaled["service"] == counts["services"] == 10
    assert scaled["user_account"] == counts["users"] == 20
    with app.app_context():
        # and the regular demo's: four families of its working day, and the history of
        # Voorbeeldstad (referral/dev/history.py)
        assert _count(Family) == 200 + 4 + history.FAMILIES
        families = scaled["family"]
        assert 1.3 < scaled["child"] / families < 1.7
        assert 2.5 < scaled["signal"] / families < 3.5
        assert 0.8 < scaled["referral"] / scaled["signal"] < 1.2
        assert scaled["referral_event"] > 3 * scaled["referral"]
        assert 0 < scaled["feedback_response"] < _count(Referral, Referral.status == "completed")
        roles = dict(db.session().exec(select(User.role, func.count()).group_by(User.role)).all())
        assert roles[Role.professional] > roles[Role.partner] > roles[Role.bridge]
        assert roles[Role.coordinator] == 2  # the demo's and one generated
        session = db.session()
        owner = find_user(scale.generated_email(Role.professional, 1))
        assert owner.name.endswith("(demo)") and owner.trained_on is not None
        family = session.exec(select(Family).where(Family.created_by == owner.id)).first()
        assert family.parent_names.endswith("(demo)")
        [child, *_] = session.exec(select(Child).where(Child.family_id == family.id)).all()
        assert child.first_name.endswith("(demo)") and child.birth_date < date.today()
        # The keyed blind index is the service's: the duplicate check finds the family.
        found = find_duplicates(owner, children=[(child.first_name, child.birth_date)])
        assert family.id in [f.id for f in found]
        signal = session.exec(select(Signal).where(Signal.family_id == family.id)).first()
        assert signal.observations
        # The regular demo's referrals are made by the operations, in real time.
        by_hand = [find_user(email).id for email in ("jgz@demo.example", "jgz2@demo.example")]
        for referral in session.exec(select(Referral).where(
                Referral.owner_id.not_in(by_hand))).all():
            assert referral.message
            events = session.exec(select(ReferralEvent).where(
                ReferralEvent.referral_id == referral.id).order_by(ReferralEvent.at)).all()
            assert events[0].kind == "created"
            changes = [e for e in events if e.kind == "status"]
            for event in changes:
                side = (lifecycle.PARTNER if event.actor_id != referral.owner_id
                        or event.on_behalf else lifecycle.REFERRER)
                assert lifecycle.find(event.from_status, event.to_status, side), event
                if event.text_enc:
                    assert event.text
            assert (changes[-1].to_status if changes else "draft") == referral.status
            assert referral.version == 1 + len(changes)
            active = [e.at for e in events if e.kind != "bridge"]
            assert db.aware(referral.last_activity_at) == db.aware(max(active))
            requested = [e.at for e in changes if e.to_status == "requested"]
            assert db.aware(referral.requested_at) == (db.aware(requested[-1]) if requested
                                                       else None)
            assert (referral.closed_at is not None) == (referral.status in CLOSED)
        answer = session.exec(select(FeedbackResponse).where(
            FeedbackResponse.went_well_enc.is_not(None))).first()
        assert answer.went_well
        generated = session.exec(select(Organisation.id).where(
            Organisation.website.like(f"%.{scale.MAIL_DOMAIN}"))).all()
        assert len(generated) == scale.plan(FACTOR)["organisations"]
        assert set(generated) <= set(session.exec(select(Referral.organisation_id)).all())
        assert _count(Service, Service.organisation_id.in_(generated)) == 10


def test_the_command_loads_once_and_demo_pages_stay_bounded(app, client, login, runner,
                                                            monkeypatch):
    monkeypatch.setitem(scale.SCALES, "municipality", FACTOR)
    assert runner.invoke(args=["demo", "load"]).exit_code == 0
    with app.app_context():  # what the regular demo sends the food bank (its history too)
        partner = find_user(scale.PARTNER)
        demo_inbox = _count(Referral, Referral.organisation_id == partner.organisation_id,
                            Referral.by_inbox, Referral.requested_at.is_not(None))
        demo_families = _count(Family, Family.created_by == find_user(scale.NURSE).id)
    first = runner.invoke(args=["demo", "load", "--scale", "municipality"])
    assert first.exit_code == 0, first.output
    assert "Generated 200 families" in first.output and "jgz@demo.example" in first.output
    again = runner.invoke(args=["demo", "load", "--scale", "municipality"])
    assert again.exit_code != 0
    assert again.output.strip() == f"Error: {scale.ALREADY}"
    plain = runner.invoke(args=["demo", "load"])  # without --scale: as before, idempotent
    assert plain.exit_code == 0 and "Generated" not in plain.output
    with app.app_context():
        nurse, partner = find_user(scale.NURSE), find_user(scale.PARTNER)
        statuses = set(db.session().exec(select(Referral.status).where(
            Referral.owner_id == nurse.id)).all())
        assert statuses == set(Status)
        nurse_families = _count(Family, Family.created_by == nurse.id)
        assert nurse_families == scale.NURSE_FAMILIES + demo_families
        inbox = _count(Referral, Referral.organisation_id == partner.organisation_id,
                       Referral.by_inbox, Referral.requested_at.is_not(None)) - demo_inbox
        assert 80 <= inbox <= scale.PARTNER_REFERRALS
        family = db.session().exec(select(Family).where(
            Family.created_by == nurse.id).order_by(Family.created_at)).first()
        name = family.parent_names

    def demo(email):
        return SimpleNamespace(email=email, password=PASSWORD)

    login(demo(scale.NURSE))
    mine = client.get("/referrals/")
    assert mine.status_code == 200 and "(demo)" in mine.text
    page = client.get(f"/families/{family.id}")
    assert page.status_code == 200 and name in page.text
    login(demo(scale.PARTNER))
    inbox_page = client.get("/referrals/?status=all")  # the inbox comes in pages now
    total = inbox + demo_inbox
    assert inbox_page.status_code == 200 and f"{total} verwijzingen." in inbox_page.text
    assert len(re.findall(r'href="/referrals/[0-9a-f-]{36}"', inbox_page.text)) == min(
        total, LIST_SIZE)
    login(demo("coordinator@demo.example"))
    monitor = client.get(f"/monitor/?year={date.today().year}")
    assert monitor.status_code == 200
    # Generated accounts have a password nobody knows.
    login(demo(scale.generated_email(Role.professional, 1)))
    assert client.get("/referrals/").status_code in (302, 401)
    verified = runner.invoke(args=["audit", "verify"])
    assert verified.exit_code == 0 and "intact" in verified.output


