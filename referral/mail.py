"""Mail through an outbox: queued in the transaction of the change, sent by `mail send`.

Messages carry no personal data: what needs attention and a link, in the recipient's
language. A failing SMTP server loses nothing: the message waits and is tried again.
"""

import smtplib
import uuid
from datetime import datetime, timedelta
from email import message_from_bytes
from email import policy as email_policy
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path

from flask import current_app, has_request_context, request, url_for
from flask_babel import force_locale
from sqlalchemy import DateTime, case, func
from sqlmodel import Field, SQLModel, select

from referral import db
from referral.db import encrypted_field, id_field, time_field

MAX_ATTEMPTS = 20
SINK_FOLDER = "mail"  # in the instance folder: the development sink
SINK_SHOWN = 100  # the newest messages the sink page shows
OUTBOX_SHOWN = 100  # unsent messages the outbox page lists


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
    """Add a message to the outbox in the current transaction; returns it as a value
    (db.new_value), or None if the dedupe key was queued before."""
    session = db.session()
    if dedupe_key and session.exec(select(OutboxMessage.id).where(
            OutboxMessage.dedupe_key == dedupe_key)).first():
        return None
    subject, body = _drawn(template, language, context)
    message = db.new_value(OutboxMessage, subject=subject[:200], body=body[:4000],
                           dedupe_key=dedupe_key, family_id=family_id)
    message.recipient = recipient
    return db.insert(message)


def _drawn(template, language, context):
    """A message's subject and text in its language. Where every value is text (a link), drawn
    once per app, template, language and value names, with a stand-in for each value, and
    then written with the message's values: drawing took 130-180 µs a mail, inside SQLite's
    write lock for a partner's step. A message holds no personal data, so nothing personal
    is kept (referral.kept's store needs a request; a mail is also queued from the command
    line).
    Other values (a count, whose words depend on it) are drawn each time, and so is a
    template that does more with a value than write it."""
    if not all(isinstance(value, str) for value in context.values()):
        return _draw_both(template, language, context)
    store = current_app.extensions.setdefault("referral.kept.mail", {})
    key = (template, language, tuple(sorted(context)))
    if key not in store:
        stand_ins = {name: f"\x00{name}\x00" for name in context}
        subject, body = _draw_both(template, language, stand_ins)
        rest = subject + body
        for stand_in in stand_ins.values():
            rest = rest.replace(stand_in, "")
        written = ("\x00" not in rest  # no value changed on its way (a copy in capitals)
                   and all(stand_in in subject or stand_in in body
                           for stand_in in stand_ins.values()))
        store[key] = (subject, body, stand_ins) if written else None
    if store[key] is None:
        return _draw_both(template, language, context)
    subject, body, stand_ins = store[key]
    for name, value in context.items():
        subject = subject.replace(stand_ins[name], value)
        body = body.replace(stand_ins[name], value)
    return subject, body


def _draw_both(template, language, context):
    # Drawn from the templates alone: a mail has only its context (a link, a count) and the
    # translations, not the pages' context processors, which cost as much as the drawing.
    with force_locale(language):
        return (_draw(f"email/{template}.subject.txt", context).strip(),
                _draw(f"email/{template}.txt", context))


def _draw(name, context):
    return current_app.jinja_env.get_template(name).render(context)


def link(endpoint, **values):
    """An absolute link for a message: from the request, or from PUBLIC_URL on the command
    line (for cron jobs such as reminders)."""
    if has_request_context():
        return url_for(endpoint, _external=True, **values)
    with current_app.test_request_context(base_url=current_app.config["PUBLIC_URL"]):
        return url_for(endpoint, _external=True, **values)


def _email(message):
    email = EmailMessage()
    email["From"] = current_app.config["MAIL_FROM"]
    email["To"] = message.recipient
    email["Subject"] = message.subject
    email["Message-ID"] = f"<{message.id}@referral>"
    email["Date"] = formatdate(localtime=False)
    email.set_content(message.body)
    return email


def _deliver(message):
    config = current_app.config
    if config.get("MAIL_SINK"):
        _to_sink(_email(message))
        return
    if not config.get("MAIL_SERVER"):
        # No server and no sink: show it in the log instead (the recipient only by domain).
        current_app.logger.info("mail to …@%s: %s\n%s", message.recipient.rsplit("@", 1)[-1],
                                message.subject, message.body)
        return
    email = _email(message)
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


# --- development: a sink, and sending right after each request ------------------------------

def sink_path():
    return Path(current_app.instance_path) / SINK_FOLDER


def _to_sink(email):
    """Development: keep the message as a file in the instance folder, as an SMTP server
    would have received it; the development page /dev/mail shows them."""
    folder = sink_path()
    folder.mkdir(exist_ok=True)
    name = f"{datetime.now():%Y%m%d-%H%M%S-%f}-{uuid.uuid4().hex[:8]}.eml"
    (folder / name).write_bytes(bytes(email))


def sink_messages():
    """The newest messages in the development sink, newest first, parsed."""
    folder = sink_path()
    files = sorted(folder.glob("*.eml"), reverse=True)[:SINK_SHOWN] if folder.exists() else []
    return [message_from_bytes(path.read_bytes(), policy=email_policy.default) for path in files]


def send_after_request(app):
    """Development with the sink: deliver what is due once each response has gone out, so
    `make run` needs no cron job for mail (production sends with `mail send`)."""

    @app.after_request
    def _later(response):
        if request.endpoint == "static":  # a stylesheet queues no mail
            return response

        def deliver():
            with app.app_context():
                try:
                    send_pending()
                finally:
                    db.session().close()
        response.call_on_close(deliver)
        return response


# --- the outbox as the coordinator sees it ---------------------------------------------------

def outbox_summary():
    """Counts of the outbox by state, in one statement: sent (kept RETENTION_MAIL_DAYS),
    waiting for a first try, failing (tried again later) and given up."""
    unsent = OutboxMessage.sent_at.is_(None)
    sent, waiting, failing, given_up = db.session().exec(select(
        func.count(OutboxMessage.sent_at),
        func.sum(case((unsent & (OutboxMessage.attempts == 0), 1), else_=0)),
        func.sum(case((unsent & (OutboxMessage.attempts > 0)
                       & (OutboxMessage.attempts < MAX_ATTEMPTS), 1), else_=0)),
        func.sum(case((unsent & (OutboxMessage.attempts >= MAX_ATTEMPTS), 1), else_=0)),
    )).one()
    return {"sent": sent or 0, "waiting": waiting or 0, "failing": failing or 0,
            "given_up": given_up or 0}


def unsent(limit=OUTBOX_SHOWN):
    """Messages not sent yet, failing ones first, then the oldest: when, what about, tries,
    the last error's kind and the next try. Never the recipient or the body."""
    return db.session().exec(
        select(OutboxMessage.created_at, OutboxMessage.subject, OutboxMessage.attempts,
               OutboxMessage.last_error, OutboxMessage.next_attempt_at)
        .where(OutboxMessage.sent_at.is_(None))
        .order_by(OutboxMessage.attempts.desc(), OutboxMessage.created_at)
        .limit(limit)).all()
