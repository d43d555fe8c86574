"""Reminders about overdue referrals and notices about stuck ones, through a real SMTP server.

The clock moves by passing `today` and `now` to send_reminders; pages and the command line
read the real clock, so there the referral is made older instead.
"""

import re
from datetime import date, timedelta
from email import message_from_string
from email.policy import default as email_policy
from urllib.parse import urlsplit

import pytest
from sqlmodel import select

from referral import db
from referral.auth.models import User
from referral.mail import OutboxMessage, send_pending
from referral.policy import COMMAND_LINE
from referral.referrals.lifecycle import PARTNER, REFERRER
from referral.referrals.models import Referral, ReferralEvent
from referral.referrals.operations import change_status, send_reminders
from referral.referrals.queries import is_overdue
from tests.conftest import browser, post_form
from tests.world import PRIVATE, age, dutch, load

LINK = "http://127.0.0.1:5000/referrals/"  # PUBLIC_URL: the command line has no request
STUCK_LINK = "http://127.0.0.1:5000/referrals/stuck"
SERVICES = ("Voedselpakket", "Schoolspullen")


@pytest.fixture
def mail_app(make_app, smtp):
    """The app on the test's database, mailing through the test's SMTP server."""
    return make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port)


def on_day(app, days):
    """Run the daily reminders as if it were `days` days after the referrals were made."""
    with app.app_context():
        counts = send_reminders(COMMAND_LINE, today=date.today() + timedelta(days=days),
                                now=db.utcnow() + timedelta(days=days))
        db.commit()
    return counts


def queued_for(app, address):
    """The bodies of the messages waiting in the outbox for this address."""
    with app.app_context():
        messages = db.session().exec(select(OutboxMessage)
                                     .order_by(OutboxMessage.created_at)).all()
        return [m.body for m in messages if m.recipient == address]


def delivered_to(app, smtp, address):
    """Send what the outbox holds; the (subject, body) of each mail this address got."""
    with app.app_context():
        send_pending()
    mails = []
    for recipients, content in smtp.messages:
        if recipients == [address]:
            mail = message_from_string(content, policy=email_policy)
            mails.append((str(mail["Subject"]), mail.get_content()))
    return mails


def reminders_on(app, referral_id, kind="reminder"):
    with app.app_context():
        return db.session().exec(select(ReferralEvent).where(
            ReferralEvent.referral_id == referral_id, ReferralEvent.kind == kind)).all()


def links_in(text):
    return re.findall(r"https?://\S+", text)


def numbers_in(text):
    """The numbers a mail states, apart from those in its links."""
    return re.findall(r"\d+", re.sub(r"https?://\S+", "", text))


def assert_no_personal_data(*texts):
    for text in texts:
        for private in PRIVATE + SERVICES:
            assert private not in text


def close(app, world, referral_id, steps):
    """Take the steps as the owner (for a letter referral: on the partner's behalf)."""
    with app.app_context():
        session = db.session()
        owner = session.get(User, world.owner.id)
        referral = session.get(Referral, referral_id)
        for target, _side, fields in steps:  # the side is the operation's to derive
            change_status(owner, referral, target, **fields)
        db.commit()


def test_nothing_is_overdue_before_the_follow_up_date(mail_app, world):
    for day in (0, 1, 13):
        assert on_day(mail_app, day) == (0, 0)
    assert queued_for(mail_app, world.owner.email) == []
    assert reminders_on(mail_app, world.inbox_referral) == []


def test_past_the_follow_up_date_the_owner_gets_one_mail_without_personal_data(
        mail_app, smtp, world):
    assert on_day(mail_app, 15) == (1, 0)  # one owner, no coordinators yet
    [(subject, body)] = delivered_to(mail_app, smtp, world.owner.email)
    assert links_in(body) == [LINK]
    assert numbers_in(body) == ["2"]  # both referrals, and nothing else counted
    assert_no_personal_data(subject, body)
    assert delivered_to(mail_app, smtp, world.coordinator.email) == []
    partner_mails = delivered_to(mail_app, smtp, "aanmelden@voedselbank.example")
    assert len(partner_mails) == 1  # the new referral; partners are not reminded


def test_once_a_day_however_often_it_runs(mail_app, world):
    assert on_day(mail_app, 15) == (1, 0)
    assert on_day(mail_app, 15) == (0, 0)
    assert len(queued_for(mail_app, world.owner.email)) == 1
    assert len(reminders_on(mail_app, world.inbox_referral)) == 1
    assert on_day(mail_app, 16) == (1, 0)  # still overdue the next day: reminded again
    assert len(queued_for(mail_app, world.owner.email)) == 2
    assert len(reminders_on(mail_app, world.letter_referral)) == 2


def test_still_overdue_after_the_escalation_period_the_coordinators_are_told(
        mail_app, smtp, world):
    assert on_day(mail_app, 20) == (1, 0)
    assert on_day(mail_app, 29) == (1, 1)  # FOLLOW_UP_DAYS + ESCALATION_DAYS have passed
    assert on_day(mail_app, 29) == (0, 0)
    [(subject, body)] = delivered_to(mail_app, smtp, world.coordinator.email)
    assert links_in(body) == [STUCK_LINK]
    assert numbers_in(body) == ["2"]
    assert_no_personal_data(subject, body)
    for referral_id in (world.inbox_referral, world.letter_referral):
        assert len(reminders_on(mail_app, referral_id, "escalation")) == 1
    assert delivered_to(mail_app, smtp, world.privacy.email) == []


def test_reminders_are_on_the_timeline_but_are_not_activity(app, world):
    before = load(app, world.inbox_referral).last_activity_at
    assert on_day(app, 15) == (1, 0)
    assert on_day(app, 29) == (1, 1)
    assert load(app, world.inbox_referral).last_activity_at == before
    owner = browser(app, world.owner)
    page = owner.get(f"/referrals/{world.inbox_referral}").text
    assert dutch(app, "reminder sent: overdue") in page
    assert dutch(app, "reported as stuck to the coordinators") in page
    referral = f"/referrals/{world.inbox_referral}"
    post_form(owner, f"{referral}/notes", {"text": "Gebeld, pakket komt."}, page=referral)
    assert load(app, world.inbox_referral).last_activity_at > before  # a note is activity


def test_completed_and_cancelled_referrals_are_never_reminded(app, world):
    close(app, world, world.inbox_referral, [
        ("cancelled", REFERRER, {"reason": "Het gezin is verhuisd."})])
    assert on_day(app, 15) == (1, 0)
    [body] = queued_for(app, world.owner.email)
    assert numbers_in(body) == ["1"]  # the letter referral only
    close(app, world, world.letter_referral, [
        ("accepted", PARTNER, {}), ("in-progress", PARTNER, {}),
        ("completed", PARTNER, {"outcome": "need_met"})])
    for day in (16, 29, 60, 400):
        assert on_day(app, day) == (0, 0)
    assert len(queued_for(app, world.owner.email)) == 1
    assert queued_for(app, world.coordinator.email) == []
    assert reminders_on(app, world.inbox_referral) == []
    assert len(reminders_on(app, world.letter_referral)) == 1  # from before it was completed


def follow_up_far_ahead(app, world):
    """The owner chose follow-up dates far ahead: only the quiet period makes them overdue."""
    with app.app_context():
        for referral_id in (world.inbox_referral, world.letter_referral):
            db.session().get(Referral, referral_id).follow_up_on = (
                date.today() + timedelta(days=300))
        db.commit()


def test_quiet_for_longer_than_the_quiet_period_is_overdue(app, world):
    follow_up_far_ahead(app, world)
    assert on_day(app, 13) == (0, 0)
    assert on_day(app, 15) == (1, 0)  # QUIET_DAYS (14) without a status change or note
    [body] = queued_for(app, world.owner.email)
    assert numbers_in(body) == ["2"]
    referral = load(app, world.inbox_referral)
    with app.app_context():
        assert is_overdue(referral, today=date.today() + timedelta(days=15),
                          now=db.utcnow() + timedelta(days=15))
        assert not is_overdue(referral, today=date.today() + timedelta(days=13),
                              now=db.utcnow() + timedelta(days=13))


def test_a_note_ends_the_quiet(app, world):
    for referral_id in (world.inbox_referral, world.letter_referral):
        age(app, referral_id, 20)  # quiet for 20 days
    follow_up_far_ahead(app, world)
    owner, referral = browser(app, world.owner), f"/referrals/{world.inbox_referral}"
    post_form(owner, f"{referral}/notes", {"text": "Moeder gebeld."}, page=referral)
    assert on_day(app, 0) == (1, 0)
    [body] = queued_for(app, world.owner.email)
    assert numbers_in(body) == ["1"]  # the quiet letter referral, not the noted one
    assert reminders_on(app, world.inbox_referral) == []


def test_the_command_queues_commits_and_says_how_many(app, make_app, runner, smtp, world):
    age(app, world.inbox_referral, 30)  # stuck now; the letter referral is not overdue
    result = runner.invoke(args=["reminders", "send"])
    assert result.exit_code == 0, result.output
    assert "Queued reminders for 1 owners and stuck-referral notices for 1 coordinators" in (
        result.output)
    again = runner.invoke(args=["reminders", "send"])
    assert "reminders for 0 owners" in again.output and "notices for 0 coordinators" in (
        again.output)

    mail_app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port)  # another process
    [(_, reminder)] = delivered_to(mail_app, smtp, world.owner.email)
    assert links_in(reminder) == [LINK] and numbers_in(reminder) == ["1"]
    [(_, notice)] = delivered_to(mail_app, smtp, world.coordinator.email)
    assert_no_personal_data(reminder, notice)
    [link] = links_in(notice)
    assert link == STUCK_LINK

    coordinator = browser(app, world.coordinator)
    page = coordinator.get(urlsplit(link).path)  # where the notice leads
    assert page.status_code == 200
    with app.app_context():
        owner_name = db.session().get(User, world.owner.id).name
    assert "Voedselpakket" in page.text and owner_name in page.text
    assert "Schoolspullen" not in page.text  # not stuck
    for private in PRIVATE:  # nothing about the family
        assert private not in page.text
