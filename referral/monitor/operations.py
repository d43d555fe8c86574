"""Change what the monitor holds: a partner's pledge and its yearly report, the reminders to
partners that have not reported, and the shared count of the figures. Each asks the policy
itself, flushes and writes its audit entry; the caller commits."""

from datetime import date

from sqlalchemy import delete
from sqlmodel import select

from referral import audit, db, mail, policy
from referral.auth.models import Role, User
from referral.errors import Refused
from referral.i18n import lazy_gettext as _l
from referral.monitor import queries
from referral.monitor.models import (
    MAX_ACTIVITIES,
    MonitorCache,
    Pledge,
    PledgeActivity,
    PledgeReport,
    Progress,
)


def save_pledge(user, *, activities, new_partner=None):
    """Write the pledge of the partner's own organisation: a list of activities (what,
    for_whom, target, due). Activities keep their place (and their reports); one that is
    emptied goes, with its reports."""
    policy.require(user, "pledge.edit")
    activities = list(activities)
    if not activities:
        raise Refused(_l("Describe at least one activity."))
    if len(activities) > MAX_ACTIVITIES:
        raise Refused(_l("Describe at most %(num)d activities.", num=MAX_ACTIVITIES))
    if not all(fields.get("what") for fields in activities):
        raise Refused(_l("Say what the activity is."))
    session = db.session()
    pledge, existing = queries.pledge_of(user.organisation_id)
    if pledge is None:
        pledge = Pledge(organisation_id=user.organisation_id)
        session.add(pledge)
        session.flush()
    pledge.new_partner, pledge.updated_at = new_partner or None, db.utcnow()
    for position, fields in enumerate(activities):
        activity = existing[position] if position < len(existing) else PledgeActivity(
            pledge_id=pledge.id)
        activity.position = position
        activity.what, activity.for_whom = fields["what"], fields.get("for_whom") or ""
        activity.target, activity.due = fields.get("target") or "", fields.get("due")
        session.add(activity)
    gone = [a.id for a in existing[len(activities):]]
    if gone:
        session.exec(delete(PledgeReport).where(PledgeReport.activity_id.in_(gone)))
        session.exec(delete(PledgeActivity).where(PledgeActivity.id.in_(gone)))
    session.add(pledge)
    session.flush()
    audit.record("update", object_type="pledge", object_id=pledge.id, user=user,
                 summary=f"pledge saved ({len(activities)} activities)")
    return pledge


def report_pledge(user, *, year, entries):
    """Record the year's progress on the own organisation's pledge: {activity_id:
    (progress, text)}; entries without progress are skipped."""
    policy.require(user, "pledge.edit")
    pledge, activities = queries.pledge_of(user.organisation_id)
    if pledge is None:
        raise Refused(_l("Describe your pledge first."))
    if not set(entries) <= {activity.id for activity in activities}:
        raise Refused(_l("This activity is not part of your pledge."))
    if any(progress and progress not in set(Progress) for progress, _text in entries.values()):
        raise Refused(_l("Choose one of the listed options."))
    if not any(progress for progress, _text in entries.values()):
        raise Refused(_l("Report on at least one activity."))
    session = db.session()
    current = queries.reports_of(pledge, year)
    for activity_id, (progress, text) in entries.items():
        if not progress:
            continue
        row = current.get(activity_id) or PledgeReport(activity_id=activity_id, year=year,
                                                       reported_by=user.id, progress=progress)
        row.progress, row.text = progress, text or ""
        row.reported_at, row.reported_by = db.utcnow(), user.id
        session.add(row)
    session.flush()
    audit.record("update", object_type="pledge", object_id=pledge.id, user=user,
                 summary=f"pledge report {year}")


def remind_pledges(user, *, year, today=None):
    """Mail the partner staff of each organisation with a pledge that has not reported on
    the year (no content: a link). Once a day at most. Returns the organisations reminded."""
    policy.require(user, "pledge.list")
    today = today or date.today()
    late = [org for org, pledge, _n, done in queries.overview(year) if pledge and not done]
    reminded = 0
    for organisation in late:
        staff = db.session().exec(select(User).where(
            User.organisation_id == organisation.id, User.role == Role.partner,
            User.active)).all()
        queued = [mail.queue(person.email, "pledge_reminder", language=person.language,
                             dedupe_key=f"pledge:{person.id}:{year}:{today.isoformat()}",
                             year=year, link=mail.link("monitor.my_pledge"))
                  for person in staff]
        reminded += any(queued)
    audit.record("update", object_type="pledge", user=user,
                 summary=f"pledge reminders {year}: {reminded} organisations")
    return reminded


def recount_figures(user, *, year):
    """Count the monitor of a year again, in the current language, so that nobody waits for
    the count (cron, every few minutes)."""
    policy.require(user, "monitor.export")
    return queries.cached_figures(queries.Scope(year), queries.labels(),
                                  force=True)[0]


def forget_figures():
    """Count again on the next view. A step of the erasure (its family must leave the
    figures at once), not a use case of its own: the erasure asked the policy."""
    db.session().exec(delete(MonitorCache))
