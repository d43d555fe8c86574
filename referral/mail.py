"""Mail through an outbox: queued in the transaction of the change, sent by `mail send`.

Messages carry no personal data: what needs attention and a link, in the recipient's
language. A failing SMTP server loses nothing: the message waits and is tried again.
"""

import smtplib
import uuid
from datetime import datetime, timedelta
from email.message import EmailMessage

from flask import current_app, has_request_context, render_template, url_for
from flask_babel import force_locale
from sqlalchemy import DateTime
from sqlmodel import Field, SQLModel, select

from referral import db
from referral.db import encrypted_field, id_field, time_field

MAX_ATTEMPTS = 20


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_message"

    id: uuid.UUID = id_field()
    created_at: datetime = time_field()
    recipient_enc: str = encrypted_field()
    # The family a message is about (never named in it), so erasure can remove it.
    family_id: uuid.UUID | None = Field(default=None, index=True)
    subject: str = Field(max_length=200)
    body: str = Field(max_length=4000)
    # Reminders and the like are queued once per key (for instance per referral and day).
    dedupe_key: str | None = Field(default=None, max_length=120, unique=True)
    next_attempt_at: datetime = time_field(index=True)
    attempts: int = 0
    last_error: str | None = Field(default=None, max_length=200)
    sent_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True), index=True)


def queue(recipient, template, *, language, dedupe_key=None, family_id=None, **context):
    """Add a message to the outbox in the current transaction; returns it (or None if the
    dedupe key was queued before)."""
    session = db.session()
    if dedupe_key and session.exec(select(OutboxMessage.id).where(
            OutboxMessage.dedupe_key == dedupe_key)).first():
        return None
    with force_locale(language):
        subject = render_template(f"email/{template}.subject.txt", **context).strip()
        body = render_template(f"email/{template}.txt", **context)
    message = OutboxMessage(subject=subject[:200], body=body[:4000], dedupe_key=dedupe_key,
                            family_id=family_id)
    message.recipient = recipient
    session.add(message)
    session.flush()
    return message


def link(endpoint, **values):
    """An absolute link for a message: from the request, or from PUBLIC_URL on the command
    line (for cron jobs such as reminders)."""
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        return url_for(endpoint, _external=True, **values)


def _deliver(message):
    config = current_app.config
    if not config.get("MAIL_SERVER"):
        # Development: show it in the log instead (the recipient only by domain).
        current_app.logger.info("mail to …@%s: %s\n%s", message.recipient.rsplit("@", 1)[-1],
                                message.subject, message.body)
        return
    email = EmailMessage()
    email["From"] = config["MAIL_FROM"]
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Message-ID"] = f"<{message.id}@referral>"
    email.set_content(message.body)
    with smtplib.SMTP(config["MAIL_SERVER"], config["MAIL_PORT"], timeout=10) as smtp:
        if config.get("MAIL_USE_TLS"):
            smtp.starttls()
        if config.get("MAIL_USERNAME"):
            smtp.login(config["MAIL_USERNAME"], config["MAIL_PASSWORD"])
        smtp.send_message(email)


def send_pending(*, now=None, limit=200):
    """Send what is due; each message is committed on its own. Returns (sent, failed)."""
    now = now or db.utcnow()
    session = db.session()
    query = (select(OutboxMessage)
             .where(OutboxMessage.sent_at.is_(None), OutboxMessage.next_attempt_at <= now,
                    OutboxMessage.attempts < MAX_ATTEMPTS)
             .order_by(OutboxMessage.created_at).limit(limit))
    if db.engine().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)  # two senders never take the same one
    sent = failed = 0
    for message in session.exec(query).all():
        try:
            _deliver(message)
        except (OSError, smtplib.SMTPException) as exc:
            message.attempts += 1
            # Back off: 2, 4, 8 … minutes after the first, second, third failure, at most
            # an hour between tries.
            message.next_attempt_at = now + timedelta(minutes=min(2 ** message.attempts, 60))
            message.last_error = type(exc).__name__
            failed += 1
        else:
            message.sent_at = now
            sent += 1
        session.add(message)
        session.commit()
    return sent, failed
