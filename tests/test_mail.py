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
