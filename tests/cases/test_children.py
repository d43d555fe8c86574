"""Children: any number on a new family, added and removed later, each change in the
family's history and the access log; the refusals write nothing."""

from datetime import date, timedelta

import pytest
from sqlmodel import select

from referral import db
from referral.auth.models import User
from referral.cases.forms import MAX_CHILDREN
from referral.cases.models import Child, Family
from referral.cases.operations import (
    correct_family,
    create_family,
    record_consent,
    remove_child,
)
from referral.cases.queries import family_history
from referral.directory.models import Organisation
from tests.conftest import audit_entries
from tests.matrix import WORLD_ACTORS as ACTORS
from tests.matrix import accompany, attempt, check_as, denials, snapshot

KEEP = dict(parent_names="Zeynep Yilmaz", phone="06-12345678", email=None, street=None,
            house_number=None, postcode=None, municipality_code="GM0363", language="nl")


def _children(family_id):
    return sorted(db.session().exec(select(Child).where(Child.family_id == family_id)),
                  key=lambda child: child.first_name)


def _family(world):
    return db.session().get(Family, world.family_id)


def _as_given(family_id):
    return [(child.id, child.first_name, child.birth_date) for child in _children(family_id)]


def _add_newborn(user, world, _context):
    family = _family(world)
    correct_family(user, family, **KEEP,
                   children=[*_as_given(family.id), (None, "Baby", date.today())])


def _remove(user, world, context):
    family = db.session().get(Family, context["family"])
    remove_child(user, family, db.session().get(Child, context["child"]))


def _second_child(app, world):
    """Give the world's family a second child; its id and the family's."""
    with app.app_context():
        owner = db.session().get(User, world.owner.id)
        family = _family(world)
        correct_family(owner, family, **KEEP,
                       children=[*_as_given(family.id), (None, "Daan", date(2020, 6, 1))])
        db.commit()
        child = next(c for c in _children(family.id) if c.first_name == "Daan")
        return {"family": family.id, "child": child.id}


@pytest.mark.parametrize("who", ACTORS)
def test_who_may_add_a_child(app, world, who):
    if who == "bridge_assigned":
        accompany(app, world)
    check_as(app, world, who, _add_newborn, may={"owner"}, rule="family.edit")


@pytest.mark.parametrize("who", ACTORS)
def test_who_may_remove_a_child(app, world, who):
    context = _second_child(app, world)
    if who == "bridge_assigned":
        accompany(app, world)
    check_as(app, world, who, _remove, may={"owner"}, rule="family.edit", context=context)


def test_a_family_of_seven_children(app, world):
    with app.app_context():
        owner = db.session().get(User, world.owner.id)
        family = create_family(owner, parent_names="Fam. Groot", children=[
            (f"Kind {n}", date(2010 + n, 1, 1)) for n in range(7)])
        db.commit()
        assert len(_children(family.id)) == 7


def test_a_newborn_is_added_and_in_the_history_and_the_access_log(app, world):
    assert attempt(app, world, "owner", _add_newborn) is None
    with app.app_context():
        children = _children(world.family_id)
        assert [c.first_name for c in children] == ["Baby", "Elif"]
        [added] = audit_entries(app, action="create", object_type="child")
        assert added.family_id == world.family_id and added.object_id == str(children[0].id)
        assert "Baby" not in added.summary
        with app.test_request_context():
            history = family_history(_family(world))
        assert [(entry.kind, entry.actor_id) for entry in history][:1] == [
            ("child_added", world.owner.id)]


def test_a_changed_child_is_its_own_entry(app, world):
    def rename(user, world, _context):
        family = _family(world)
        [(child_id, _name, born)] = _as_given(family.id)
        correct_family(user, family, **KEEP, children=[(child_id, "Elif Naz", born)])

    assert attempt(app, world, "owner", rename) is None
    [changed] = audit_entries(app, action="update", object_type="child")
    assert changed.family_id == world.family_id and "Elif" not in changed.summary
    with app.app_context(), app.test_request_context():
        assert family_history(_family(world))[0].kind == "child_changed"


def test_a_removed_child_is_gone_and_in_the_history(app, world):
    context = _second_child(app, world)
    assert attempt(app, world, "owner", _remove, context) is None
    with app.app_context():
        assert [c.first_name for c in _children(world.family_id)] == ["Elif"]
        [removed] = audit_entries(app, action="delete", object_type="child")
        assert removed.object_id == str(context["child"]) and "Daan" not in removed.summary
        with app.test_request_context():
            kinds = [entry.kind for entry in family_history(_family(world))]
        assert kinds[:2] == ["child_removed", "child_added"] and kinds[-1] == "created"


def _other_family(app, world):
    with app.app_context():
        owner = db.session().get(User, world.owner.id)
        other = create_family(owner, parent_names="Fam. Bakker",
                              children=[("Sem", date(2015, 1, 1)), ("Lot", date(2016, 1, 1))])
        db.commit()
        return {"family": world.family_id, "child": _children(other.id)[0].id}


def _only_child(app, world):
    with app.app_context():
        return {"family": world.family_id, "child": _children(world.family_id)[0].id}


def _child_with_consent(app, world):
    context = _second_child(app, world)
    with app.app_context():
        owner = db.session().get(User, world.owner.id)
        organisation = db.session().exec(select(Organisation).where(
            Organisation.name == "Jeugdfonds")).one()
        record_consent(owner, _family(world), organisation_id=organisation.id,
                       given_by="Zeynep", scope="sport", method="spoken",
                       given_on=date.today(), parent_agreed=True,
                       child=db.session().get(Child, context["child"]))
        db.commit()
    return context


def _too_many(user, world, _context):
    create_family(user, parent_names="Fam. Veel", children=[
        (f"Kind {n}", date(2012, 1, 1) + timedelta(days=n)) for n in range(MAX_CHILDREN + 1)])


def _newborn_tomorrow(user, world, _context):
    family = _family(world)
    correct_family(user, family, **KEEP, children=[
        *_as_given(family.id), (None, "Later", date.today() + timedelta(days=1))])


def _nameless_new_child(user, world, _context):
    family = _family(world)
    correct_family(user, family, **KEEP,
                   children=[*_as_given(family.id), (None, " ", date(2020, 1, 1))])


def _nothing(app, world):
    return None


REFUSALS = [
    ("a child of another family", _other_family, _remove,
     "This does not belong to this family."),
    ("the only child", _only_child, _remove,
     "A family keeps at least one child. Correct the child's details instead."),
    ("a child a consent names", _child_with_consent, _remove,
     "A consent or a feedback invitation names this child, so it cannot be removed. "
     "Ask the privacy officer if the family wants it erased."),
    ("more children than a family has", _nothing, _too_many,
     f"Enter at most {MAX_CHILDREN} children."),
    ("a child born tomorrow", _nothing, _newborn_tomorrow,
     "A date of birth cannot be in the future."),
    ("a new child without a name", _nothing, _nameless_new_child,
     "Give every child's first name and date of birth."),
]


@pytest.mark.parametrize(("what", "setup", "call", "message"), REFUSALS,
                         ids=[refusal[0] for refusal in REFUSALS])
def test_refusals_write_nothing(app, world, what, setup, call, message):
    context = setup(app, world)
    before, denied = snapshot(app), len(denials(app))
    refused = attempt(app, world, "owner", call, context)
    assert refused is not None, what
    assert refused.english == message
    assert snapshot(app) == before and len(denials(app)) == denied
