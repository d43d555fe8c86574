"""Pledges: what each partner promised, and its yearly report; reminders to who has not."""

from datetime import date

from sqlalchemy import delete, func
from sqlmodel import select

from referral import audit, db, mail
from referral.auth.models import Role, User
from referral.directory.models import Organisation
from referral.monitor.models import Pledge, PledgeActivity, PledgeReport


def pledge_of(organisation_id):
    """The organisation's pledge and its activities in order (None and [] if none yet)."""
    pledge = db.session().exec(select(Pledge).where(
        Pledge.organisation_id == organisation_id)).first()
    if pledge is None:
        return None, []
    return pledge, activities_of(pledge)


def activities_of(pledge):
    return db.session().exec(select(PledgeActivity).where(
        PledgeActivity.pledge_id == pledge.id).order_by(PledgeActivity.position)).all()


def save(user, organisation_id, activities, new_partner):
    """Write the pledge: activities keep their place (and their reports); an activity that is
    emptied goes, with its reports."""
    session = db.session()
    pledge, existing = pledge_of(organisation_id)
    if pledge is None:
        pledge = Pledge(organisation_id=organisation_id)
        session.add(pledge)
        session.flush()
    pledge.new_partner, pledge.updated_at = new_partner or None, db.utcnow()
    for position, fields in enumerate(activities):
        activity = existing[position] if position < len(existing) else PledgeActivity(
            pledge_id=pledge.id)
        activity.position = position
        activity.what, activity.for_whom = fields["what"], fields["for_whom"] or ""
        activity.target, activity.due = fields["target"] or "", fields["due"]
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


def reports_of(pledge, year):
    return {r.activity_id: r for r in db.session().exec(
        select(PledgeReport).join(PledgeActivity).where(
            PledgeActivity.pledge_id == pledge.id, PledgeReport.year == year))}


def report(user, pledge, year, entries):
    """Record the year's progress: {activity_id: (progress, text)}; empty ones are skipped."""
    session = db.session()
    current = reports_of(pledge, year)
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


def overview(year):
    """Every active organisation: its pledge (or None), the number of activities, and
    whether it reported on the year."""
    session = db.session()
    counts = dict(session.exec(select(PledgeActivity.pledge_id, func.count())
                               .group_by(PledgeActivity.pledge_id)).all())
    reported = set(session.exec(
        select(PledgeActivity.pledge_id).join(PledgeReport).where(PledgeReport.year == year)
        .distinct()).all())
    rows = session.exec(select(Organisation, Pledge).join(
        Pledge, Pledge.organisation_id == Organisation.id, isouter=True)
        .where(Organisation.active).order_by(Organisation.name)).all()
    return [(organisation, pledge, counts.get(pledge.id, 0) if pledge else 0,
             bool(pledge and pledge.id in reported)) for organisation, pledge in rows]


def reported_count(year):
    return db.session().exec(select(func.count(func.distinct(PledgeActivity.pledge_id)))
                             .join(PledgeReport).where(PledgeReport.year == year)).one()


def remind(user, year, today=None):
    """Mail the partner staff of each organisation with a pledge that has not reported on
    the year (no content: a link). Once a day at most. Returns the organisations reminded."""
    today = today or date.today()
    late = [org for org, pledge, _n, done in overview(year) if pledge and not done]
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
