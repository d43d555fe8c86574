"""Every operation of the directory called directly, without a page, as every role: the
refusals hold, a refusal writes nothing (but its denial in the access log), and the allowed
ones do what they say."""

import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import select

from referral import db
from referral.auth.models import User
from referral.directory import hsds, operations, queries
from referral.directory.hsds import HsdsError
from referral.directory.models import (
    Address,
    Location,
    Organisation,
    Schedule,
    Service,
    ServiceArea,
    ServiceAtLocation,
    ServiceDomain,
    ServiceTerm,
    TaxonomyTerm,
)
from referral.errors import Denied, Refused
from referral.policy import COMMAND_LINE
from tests.matrix import STAFF_ACTORS as ACTORS
from tests.matrix import last_entry, stored

EXAMPLES = Path(__file__).resolve().parents[1] / "data" / "hsds-3.0"
MANAGERS = {"coordinator", "command_line"}
# A partner edits the services of their own organisation (Voedselbank), no other.
EDITORS = {"partner", "coordinator", "command_line"}


def _organisation(name):
    return db.session().exec(select(Organisation).where(Organisation.name == name)).one()


def _service(service_id):
    return db.session().get(Service, service_id)


def _entry(name="Kerstpakket", **fields):
    return {"name": name, "description": "Een pakket in december.", "domains": ["food"],
            "areas": [("GM0363", "Amsterdam")], "languages": ["nl"], **fields}


def _term(staff):
    """An imported taxonomy term that Voedselbank's service carries, not mapped yet (and
    Voedselbank's service as never checked, so that confirming it is a change)."""
    _service(staff.service).assured_date = None
    term = TaxonomyTerm(code="x-parenting", name="Opvoeden", taxonomy="elders")
    db.session().add(term)
    db.session().flush()
    db.session().add(ServiceTerm(service_id=staff.service, term_id=term.id))
    db.session().flush()
    return term


def _mapped(staff):
    return db.session().get(ServiceDomain, (staff.service, "stress_parenting")) is not None


@dataclass
class Case:
    call: Callable  # (user, staff, term) -> result
    may: set  # the people allowed
    rule: str
    done: Callable  # (staff, result) -> bool: the change is there


CASES = {
    "create_organisation": Case(
        lambda user, a, term: operations.create_organisation(user, name="Kledingbank",
                                                       website="https://kast.example"),
        MANAGERS, "directory.manage",
        lambda a, made: _organisation("Kledingbank").website == "https://kast.example"),
    "edit_organisation": Case(
        lambda user, a, term: operations.edit_organisation(user, _organisation("Voedselbank"),
                                                     name="Voedselbank Noord"),
        MANAGERS, "directory.manage",
        lambda a, made: _service(a.service).search_text.endswith("voedselbank noord")),
    "deactivate_organisation": Case(
        lambda user, a, term: operations.deactivate_organisation(user, _organisation("Voedselbank")),
        MANAGERS, "directory.manage",
        lambda a, made: not _organisation("Voedselbank").active
        and _service(a.service).status == "inactive"),
    "merge_organisations": Case(
        lambda user, a, term: operations.merge_organisations(user, _organisation("Jeugdfonds"),
                                                       into=_organisation("Voedselbank")),
        MANAGERS, "directory.manage",
        lambda a, made: _service(a.other_service).organisation_id
        == db.session().get(User, a.other_partner.id).organisation_id
        == _organisation("Voedselbank").id),
    "create_service": Case(
        lambda user, a, term: operations.create_service(user, _organisation("Voedselbank"),
                                                  **_entry()),
        EDITORS, "service.edit",
        lambda a, made: made.organisation_id == _organisation("Voedselbank").id
        and queries.get_service(made.id).domains == ["food"]),
    "edit_service": Case(
        lambda user, a, term: operations.edit_service(user, _service(a.service), **_entry(
            "Voedselpakket plus", capacity="waiting_list", waiting_weeks=3,
            areas=[("GM0363", "Amsterdam"), ("GM0344", "Utrecht")])),
        EDITORS, "service.edit",
        lambda a, made: (_service(a.service).name, _service(a.service).capacity)
        == ("Voedselpakket plus", "waiting_list")
        and len(db.session().exec(select(ServiceArea).where(
            ServiceArea.service_id == a.service)).all()) == 2),
    "assure_service": Case(
        lambda user, a, term: operations.assure_service(user, _service(a.service)),
        EDITORS, "service.edit",
        lambda a, made: _service(a.service).assured_date is not None),
    "import_hsds": Case(
        lambda user, a, term: operations.import_hsds(user, EXAMPLES / "csv"),
        MANAGERS, "directory.manage",
        lambda a, made: _service(uuid.UUID("ac148810-d857-441c-9679-408f346de14b")).name
        == "Community Counselling"),
    "map_term": Case(
        lambda user, a, term: operations.map_term(user, term, domain="stress_parenting"),
        MANAGERS, "directory.manage",
        lambda a, made: _mapped(a)),
}


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_every_operation_as_every_role(app, staff, name, actor):
    case = CASES[name]
    with app.app_context():
        user = staff.user(actor)
        term = _term(staff)
        before = stored()
        if actor in case.may:
            made = case.call(user, staff, term)
            assert case.done(staff, made)
        else:
            with pytest.raises(Denied):
                case.call(user, staff, term)
            assert stored() == before
            denial = last_entry()
            assert (denial.outcome, denial.summary) == ("denied", f"denied: {case.rule}")
            assert denial.user_id == user.id


def test_a_partner_adds_and_edits_the_services_of_their_own_organisation_only(app, staff):
    with app.app_context():
        other = staff.user("other_partner")
        made = operations.create_service(other, _organisation("Jeugdfonds"), **_entry())
        operations.edit_service(other, made, **_entry("Kerstpakket groot"))
        operations.assure_service(other, made)
        assert _service(made.id).name == "Kerstpakket groot"
        before = stored()
        for call in (lambda: operations.create_service(other, _organisation("Voedselbank"),
                                                       **_entry()),
                     lambda: operations.edit_service(other, _service(staff.service),
                                                     **_entry()),
                     lambda: operations.assure_service(other, _service(staff.service))):
            with pytest.raises(Denied):
                call()
        assert stored() == before


@pytest.mark.parametrize(("call", "field", "message"), [
    (lambda a, term: operations.create_organisation(COMMAND_LINE, name="Voedselbank"), "name",
     "There is already an organisation with this name."),
    (lambda a, term: operations.create_organisation(COMMAND_LINE, name="  "), "name", "Enter a name."),
    (lambda a, term: operations.edit_organisation(COMMAND_LINE, _organisation("Jeugdfonds"),
                                            name="Voedselbank"), "name",
     "There is already an organisation with this name."),
    (lambda a, term: operations.merge_organisations(COMMAND_LINE, _organisation("Jeugdfonds"),
                                              into=_organisation("Jeugdfonds")), "into",
     "Choose another organisation to merge into."),
    (lambda a, term: operations.create_service(COMMAND_LINE, _organisation("Voedselbank"),
                                         **_entry(name="")), "name", "Enter a name."),
    (lambda a, term: operations.create_service(COMMAND_LINE, _organisation("Voedselbank"),
                                         **_entry(description="")), "description",
     "Describe what the service offers."),
    (lambda a, term: operations.edit_service(COMMAND_LINE, _service(a.service),
                                       **_entry(domains=[])), "domains",
     "Choose at least one need domain."),
    (lambda a, term: operations.edit_service(COMMAND_LINE, _service(a.service),
                                       **_entry(domains=["astrology"])), "domains",
     "Choose at least one need domain."),
    (lambda a, term: operations.edit_service(COMMAND_LINE, _service(a.service),
                                       **_entry(minimum_age=12, maximum_age=4)),
     "maximum_age", "The upper age is below the lower age."),
    (lambda a, term: operations.edit_service(COMMAND_LINE, _service(a.service),
                                       **_entry(capacity="sometimes")), "capacity",
     "Choose one of the listed options."),
    (lambda a, term: operations.edit_service(COMMAND_LINE, _service(a.service),
                                       **_entry(status="gone")), "status",
     "Choose one of the listed options."),
    (lambda a, term: operations.edit_service(COMMAND_LINE, _service(a.service),
                                       **_entry(areas=[("Amsterdam", "Amsterdam")])), "areas",
     "Write each municipality as its CBS code and its name, like GM0363 Amsterdam."),
    (lambda a, term: operations.edit_service(COMMAND_LINE, _service(a.service),
                                       **_entry(languages=["nederlands"])), "languages",
     "Write language codes like nl, en, ar."),
    (lambda a, term: operations.map_term(COMMAND_LINE, term, domain="astrology"), "domain",
     "Choose one of the listed options."),
    (lambda a, term: operations.edit_service(COMMAND_LINE, _service(a.service), **_entry(
        address={"address_1": "", "postal_code": "1234 AB", "city": "Amsterdam"})),
     "address_1", "Write the street and number and the place, or leave the address empty."),
    (lambda a, term: operations.edit_service(COMMAND_LINE, _service(a.service), **_entry(
        address={"address_1": "Dorpsstraat 1", "postal_code": "", "city": " "})),
     "city", "Write the street and number and the place, or leave the address empty."),
    (lambda a, term: operations.edit_service(COMMAND_LINE, _service(a.service), **_entry(
        address={"address_1": "x" * 201, "city": "Amsterdam"})),
     "address_1", "Write at most 200 characters."),
    (lambda a, term: operations.edit_service(COMMAND_LINE, _service(a.service), **_entry(
        address={"address_1": "Dorpsstraat 1", "city": "Amsterdam"})),
     "state_province", "Write the province too."),
    (lambda a, term: operations.edit_service(COMMAND_LINE, _service(a.service), **_entry(
        opening_hours="x" * 501)), "opening_hours", "Write at most 500 characters."),
])
def test_the_rules_of_an_entry_hold_for_every_caller(app, staff, call, field, message):
    with app.app_context():
        term = _term(staff)
        before = stored()
        with pytest.raises(Refused) as refused:
            call(staff, term)
        assert not isinstance(refused.value, Denied)
        assert (refused.value.field, str(refused.value)) == (field, message)
        assert stored() == before


def test_a_malformed_import_is_refused_and_writes_nothing(app, staff, tmp_path):
    folder = tmp_path / "broken"
    shutil.copytree(EXAMPLES / "csv", folder)
    services = folder / "services.csv"
    services.write_text(services.read_text().replace(",active,", ",maybe,", 1))
    with app.app_context():
        before = stored()
        with pytest.raises(HsdsError) as refused:
            operations.import_hsds(staff.user("coordinator"), folder)
        assert isinstance(refused.value, Refused)
        assert "services.csv, line 2, field status" in str(refused.value)
        assert stored() == before


@pytest.mark.parametrize("actor", ACTORS)
def test_only_who_manages_the_directory_exports_it(app, staff, actor):
    with app.app_context():
        user = staff.user(actor)
        if actor in MANAGERS:
            files = queries.hsds_export(user)
            assert b"Voedselpakket" in files["services.csv"]
            assert last_entry().summary == "HSDS export"
        else:
            with pytest.raises(Denied):
                queries.hsds_export(user)
            assert last_entry().summary == "denied: directory.manage"


# --- where and when: an HSDS location with its address, and a schedule ------------------------

PLACE = {"address_1": "Dorpsstraat 12", "postal_code": "1234 AB", "city": "Voorbeeldstad",
         "state_province": "Utrecht"}


def test_a_service_keeps_its_address_and_opening_hours_the_hsds_way(app, staff):
    with app.app_context():
        service = _service(staff.service)
        operations.edit_service(COMMAND_LINE, service, **_entry(
            address=PLACE, opening_hours="Maandag tot vrijdag 9:00 tot 17:00"))
        db.commit()
        result = queries.get_service(staff.service)
        assert (result.address.address_1, result.address.postal_code, result.address.city,
                result.address.country, result.address.address_type) == (
            "Dorpsstraat 12", "1234 AB", "Voorbeeldstad", "NL", "physical")
        assert result.opening_hours == "Maandag tot vrijdag 9:00 tot 17:00"
        [location] = db.session().exec(select(Location)).all()
        assert location.organisation_id == service.organisation_id
        [link] = db.session().exec(select(ServiceAtLocation)).all()
        assert (link.service_id, link.location_id) == (service.id, location.id)
        assert last_entry().summary == "service changed"
        # A change changes the same place; nothing new is made.
        operations.edit_service(COMMAND_LINE, service, **_entry(
            address={**PLACE, "address_1": "Dorpsstraat 14"}, opening_hours="Alleen dinsdag"))
        db.commit()
        result = queries.get_service(staff.service)
        assert result.address.address_1 == "Dorpsstraat 14"
        assert result.opening_hours == "Alleen dinsdag"
        assert len(db.session().exec(select(Address)).all()) == 1
        assert len(db.session().exec(select(Schedule)).all()) == 1
        # Emptied: the place and the hours are gone.
        operations.edit_service(COMMAND_LINE, service, **_entry(
            address={"address_1": "", "postal_code": "", "city": "", "state_province": ""},
            opening_hours=""))
        db.commit()
        result = queries.get_service(staff.service)
        assert result.address is None and result.opening_hours is None
        for model in (Location, Address, ServiceAtLocation, Schedule):
            assert db.session().exec(select(model)).all() == []


def test_an_edit_without_place_fields_leaves_the_place_alone(app, staff):
    with app.app_context():
        service = _service(staff.service)
        operations.edit_service(COMMAND_LINE, service, **_entry(address=PLACE,
                                                                opening_hours="Dinsdag"))
        operations.edit_service(COMMAND_LINE, service, **_entry())  # e.g. an older caller
        db.commit()
        assert queries.get_service(staff.service).address.city == "Voorbeeldstad"


def test_the_hsds_export_keeps_its_format_with_addresses(app, staff):
    with app.app_context():
        before = hsds.package_files(hsds.export_tables())
        operations.edit_service(COMMAND_LINE, _service(staff.service), **_entry(
            address=PLACE, opening_hours="Dinsdag"))
        db.commit()
        after = hsds.package_files(hsds.export_tables())
    assert sorted(after) == sorted(before)
    assert after["datapackage.json"] == before["datapackage.json"]
