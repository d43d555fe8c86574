"""Everyone an operation may meet, and a check that a refusal leaves the database as it was."""

from contextlib import contextmanager

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel

from referral import db, policy
from referral.auth.models import User
from referral.errors import Denied
from tests.referrals.conftest import world  # noqa: F401  (the same small alliance)

# The actors of the operation matrices: the world's people by role, accounts that are no
# longer active, and the operator at the command line.
ACTORS = ["owner", "partner", "bridge", "coordinator", "privacy", "inactive_coordinator",
          "inactive_officer", "command_line"]
PEOPLE = {"owner", "partner", "bridge", "coordinator", "privacy"}  # active, with an account


@pytest.fixture
def actors(world, make_user):  # noqa: F811  (world: the fixture imported above)
    """A function from an actor's name to the actor, loaded in the current app context."""
    ids = {name: getattr(world, name).id for name in PEOPLE | {"colleague"}}
    ids["inactive_coordinator"] = make_user("coordinator", organisation="Alliantie",
                                            active=False).id
    ids["inactive_officer"] = make_user("privacy_officer", organisation="Alliantie",
                                        active=False).id

    def get(name):
        if name == "command_line":
            return policy.COMMAND_LINE
        return db.session().get(User, ids[name])

    return get


def stored():
    """Every row of every table, but the access log's denials and its head: the policy logs
    a refusal on purpose."""
    session = db.session()
    rows = {}
    for table in SQLModel.metadata.sorted_tables:
        if table.name == "audit_head":
            continue
        query = sa.select(table)
        if table.name == "audit_event":
            query = query.where(table.c.outcome != "denied")
        rows[table.name] = {tuple(row) for row in session.execute(query)}
    return rows


def denials():
    table = SQLModel.metadata.tables["audit_event"]
    return db.session().execute(sa.select(sa.func.count()).select_from(table)
                                .where(table.c.outcome == "denied")).scalar_one()


@pytest.fixture
def nothing_written():
    """`with nothing_written(Denied):` the block raises that error and changes nothing; a
    denial, and only a denial, is in the access log."""

    @contextmanager
    def check(error):
        before, denied = stored(), denials()
        with pytest.raises(error) as raised:
            yield raised
        denial = issubclass(error, Denied)
        assert isinstance(raised.value, Denied) is denial  # a rule's refusal is no denial
        assert stored() == before
        assert denials() == denied + denial

    return check
