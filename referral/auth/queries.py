"""Reading accounts."""

from sqlmodel import select

from referral import db
from referral.auth.models import User


def names(user_ids):
    """Display names of users by id, in one query."""
    ids = {i for i in user_ids if i}
    if not ids:
        return {}
    return {u.id: u.name for u in db.session().exec(select(User).where(User.id.in_(ids)))}
