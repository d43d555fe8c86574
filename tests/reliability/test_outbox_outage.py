"""The SMTP server down for an hour: mail waits in the outbox and goes out once it is back.

What the outbox guarantees: a message is sent at least once. It is marked sent only after
the SMTP server took it, so a sender that dies in between sends it again on the next run,
with the same Message-ID, by which mail clients and servers recognise the second copy.
"""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from email import message_from_string

import pytest
from aiosmtpd.controller import Controller

from referral import config, db
from referral.mail import MAX_ATTEMPTS, OutboxMessage, queue, send_pending
from tests.conftest import Inbox, free_port

MINUTE = timedelta(minutes=1)


class Busy:
    """An SMTP server that is up but answers every message with "try again later"."""

    async def handle_DATA(self, server, session, envelope):  # noqa: N802  (aiosmtpd's name)
        return "451 4.3.0 Try again later"


class KillsTheSender(Inbox):
    """Takes the message, then kills the process that sent it before it can record that."""

    victim = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802
        self.messages.append((envelope.rcpt_tos, envelope.content.decode()))
        if self.victim:
            os.kill(self.victim.pid, signal.SIGKILL)
            self.victim = None
        return "250 OK"


def serve(handler, port):
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    return controller


def _queue_one(app):
    with app.app_context():
        message = queue("ouder@example.org", "password_changed", language="nl",
                        link="http://x/login")
        db.commit()
        return message.id


def _load(app, message_id):
    with app.app_context():
        return db.session().get(OutboxMessage, message_id)


def _cron(app, now):
    """One run of `mail send` at the given moment."""
    with app.app_context():
        return send_pending(now=now)


@pytest.mark.parametrize("outage", ["nothing listens", "server says try later"])
def test_an_hour_of_outage_loses_nothing_and_sends_once(make_app, outage):
    port = free_port()
    busy = serve(Busy(), port) if outage == "server says try later" else None
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    message_id = _queue_one(app)
    start = db.utcnow()

    # Cron runs `mail send` every minute through an hour of outage.
    failed = 0
    for minute in range(61):
        sent, failures = _cron(app, start + minute * MINUTE)
        assert sent == 0
        failed += failures
    waiting = _load(app, message_id)
    assert waiting.sent_at is None
    # Tried at 0, 2, 6, 14 and 30 minutes (backing off), far from giving up.
    assert waiting.attempts == failed == 5 < MAX_ATTEMPTS
    assert waiting.last_error == ("ConnectionRefusedError" if busy is None
                                  else "SMTPDataError")

    if busy:
        busy.stop()
    inbox = Inbox()
    back = serve(inbox, port)
    try:
        results = [_cron(app, start + minute * MINUTE) for minute in range(61, 130)]
    finally:
        back.stop()
    assert sum(sent for sent, _ in results) == 1 and sum(f for _, f in results) == 0
    [(recipients, content)] = inbox.messages
    assert recipients == ["ouder@example.org"]
    assert message_from_string(content)["Message-ID"] == f"<{message_id}@referral>"
    assert _load(app, message_id).sent_at is not None


def test_the_outbox_gives_up_only_after_many_hours(make_app):
    """MAX_ATTEMPTS with the backoff: a night of outage, not an hour, before a message stops."""
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=free_port())  # nobody listens there
    message_id = _queue_one(app)
    start = now = db.utcnow()
    while (message := _load(app, message_id)).attempts < MAX_ATTEMPTS:
        now = db.aware(message.next_attempt_at)  # cron's first run once it is due
        assert _cron(app, now) == (0, 1)
    assert now - start > timedelta(hours=12)
    assert _cron(app, now + timedelta(days=1)) == (0, 0)  # given up, and still in the outbox
    assert _load(app, message_id).sent_at is None


def test_a_sender_killed_after_the_server_took_the_message_sends_it_again_once(make_app,
                                                                               app_config):
    inbox, port = KillsTheSender(), free_port()
    controller = serve(inbox, port)
    app = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=port)
    message_id = _queue_one(app)
    env = {**os.environ, "REFERRAL_INSTANCE_PATH": app_config["INSTANCE_PATH"],
           "REFERRAL_DATABASE_URL": app_config["DATABASE_URL"],
           "REFERRAL_SECRET_KEY": "test-secret", "REFERRAL_MAIL_SERVER": "127.0.0.1",
           "REFERRAL_MAIL_PORT": str(port)}
    try:
        # The real `mail send` command, in its own process, killed mid-run.
        inbox.victim = sender = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "referral", "mail", "send"],
            env=env, cwd=config.PROJECT_ROOT, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        assert sender.wait(timeout=60) == -signal.SIGKILL
        assert len(inbox.messages) == 1
        assert _load(app, message_id).sent_at is None  # it never recorded the send
        # The database notices the dead connection within moments (PostgreSQL frees the
        # row lock then); until it does, the next run skips the message.
        deadline = time.monotonic() + 10
        while _cron(app, db.utcnow()) == (0, 0) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _cron(app, db.utcnow() + timedelta(hours=1)) == (0, 0)
    finally:
        controller.stop()
    first, second = (message_from_string(content) for _, content in inbox.messages)
    assert first["Message-ID"] == second["Message-ID"] == f"<{message_id}@referral>"
    assert _load(app, message_id).sent_at is not None
