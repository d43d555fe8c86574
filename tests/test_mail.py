"""Mail through the outbox, to a real SMTP server on loopback."""

from datetime import timedelta

import pytest
from sqlmodel import select

from referral import db
from referral.mail import OutboxMessage, queue, send_pending
from tests.conftest import free_port, post_form


@pytest.fixture
def mail_app(make_app, smtp):
    return make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, MAIL_FROM="tool@example.org")


def _outbox(app):
    with app.app_context():
        return db.session().exec(select(OutboxMessage)).all()


def test_password_change_mails_the_owner_without_personal_data(mail_app, smtp, make_user):
    person = make_user("partner")
    client = mail_app.test_client()
    post_form(client, "/login", {"email": person.email, "password": person.password})
    new = "een-heel-nieuw-wachtwoord"
    post_form(client, "/account/password", {"current": person.password, "new": new,
                                            "confirm": new})
    assert smtp.messages == []  # queued in the request, sent by the outbox
    with mail_app.app_context():
        assert send_pending() == (1, 0)
    [(recipients, content)] = smtp.messages
    assert recipients == [person.email]
    assert "Je wachtwoord" in content and "http://localhost/login" in content
    assert "Test Persoon" not in content  # no name, nothing about anyone
    with mail_app.app_context():
        assert send_pending() == (0, 0)  # once


def test_a_failing_smtp_server_loses_nothing(make_app, smtp):
    down = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())  # nobody listens there
    with down.app_context():
        queue("ouder@example.org", "password_changed", language="en", link="http://x/login")
        db.commit()
        assert send_pending() == (0, 1)
    [message] = _outbox(down)
    assert message.sent_at is None and message.attempts == 1
    assert message.last_error == "ConnectionRefusedError"
    with down.app_context():
        assert send_pending() == (0, 0)  # waits for its next try
    up = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port)
    with up.app_context():
        later = db.utcnow() + timedelta(hours=1)
        assert send_pending(now=later) == (1, 0)
        assert send_pending(now=later + timedelta(hours=1)) == (0, 0)
    [(recipients, content)] = smtp.messages
    assert recipients == ["ouder@example.org"] and "Your password" in content


def test_dedupe_key_queues_once(app):
    with app.app_context():
        first = queue("a@example.org", "password_changed", language="nl", link="l",
                      dedupe_key="reminder/1/2026-11-26")
        second = queue("a@example.org", "password_changed", language="nl", link="l",
                       dedupe_key="reminder/1/2026-11-26")
        db.commit()
    assert first is not None and second is None
    assert len(_outbox(app)) == 1


def test_recipient_is_encrypted(app):
    with app.app_context():
        queue("geheim.adres@example.org", "password_changed", language="nl", link="l")
        db.commit()
        raw = db.session().exec(select(OutboxMessage.recipient_enc)).one()
    assert raw.startswith("v1.") and "geheim" not in raw


def test_development_writes_mail_to_the_log(app, caplog):
    with app.app_context():
        queue("iemand@example.org", "password_changed", language="nl", link="http://x")
        db.commit()
        with caplog.at_level("INFO"):
            assert send_pending() == (1, 0)
    assert "…@example.org" in caplog.text and "iemand@" not in caplog.text


def test_mail_send_command(app, runner):
    with app.app_context():
        queue("iemand@example.org", "password_changed", language="nl", link="http://x")
        db.commit()
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0 and "Sent 1 messages" in result.output


LINKED = ("referral_new", "referral_changed", "handover_request", "bridge_request",
          "consent_withdrawn", "password_changed")


@pytest.mark.parametrize("language", ["nl", "en"])
def test_a_message_is_written_as_it_would_be_drawn_afresh(app, language):
    """A message whose values are text is written from its template's text drawn once, with
    each message's own link in it: the same subject and text as drawn for it alone. What is
    kept holds no message's values."""
    from referral.mail import _draw_both

    links = ["https://tool.example/referrals/1?a=1&b=<2>", "https://tool.example/r/ë"]
    with app.app_context():
        for template in LINKED:
            for link in links:
                message = queue("iemand@example.org", template, language=language, link=link)
                assert (message.subject, message.body) == _draw_both(template, language,
                                                                     {"link": link})
                assert link in message.body
        kept = app.extensions["referral.kept.mail"]
        assert {key[:2] for key in kept} == {(template, language) for template in LINKED}
        assert not any(link in str(kept_text) for kept_text in kept.values() for link in links)
        db.session().rollback()


def test_a_count_and_a_template_that_changes_a_value_are_drawn_each_time(app, monkeypatch):
    """A count's words depend on it (one referral, two referrals): drawn for each message.
    So is a template that does more with a value than write it."""
    from referral import mail

    with app.app_context():
        one = queue("iemand@example.org", "reminder", language="en", count=1, link="l")
        two = queue("iemand@example.org", "reminder", language="en", count=2, link="l")
        assert "1 of your referrals is overdue" in one.body
        assert "2 of your referrals are overdue" in two.body
        drawn = mail._draw

        def shouting(name, context):  # a template writing the link in capitals
            return drawn(name, context).replace(context["link"], context["link"].upper())

        monkeypatch.setattr(mail, "_draw", shouting)
        first = queue("iemand@example.org", "handover_request", language="en", link="a/b")
        second = queue("iemand@example.org", "handover_request", language="en", link="c/d")
        assert "A/B" in first.body and "C/D" in second.body
        db.session().rollback()


def test_a_template_that_writes_a_value_and_a_changed_copy_is_drawn_each_time(app, monkeypatch):
    """A template that writes a value as it is and also a changed copy of it (in capitals)
    is drawn for each message: the kept text would carry the copy of the stand-in."""
    from referral import mail

    drawn = mail._draw

    def twice(name, context):
        page = drawn(name, context)
        return page + context["link"].upper() if name.endswith(".txt") else page

    monkeypatch.setattr(mail, "_draw", twice)
    with app.app_context():
        first = queue("iemand@example.org", "bridge_request", language="nl", link="a/b")
        second = queue("iemand@example.org", "bridge_request", language="nl", link="c/d")
        assert first.body.endswith("A/B") and second.body.endswith("C/D")
        assert "\x00" not in first.body + second.body
        db.session().rollback()
