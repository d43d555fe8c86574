"""The professional who works on a family corrects its data; the old value is kept nowhere
in plain, and the log names the fields, not the values."""

import logging

import pytest
from sqlmodel import select

from referral import db
from referral.cases.models import Child, Family
from tests.conftest import audit_entries, post_form

NEW_NAME = "Zeynep Yıldız-MARKER-4471"
FORM = {"parent_names": NEW_NAME, "phone": "06-99999999", "email": "",
        "street": "Nieuwe Weg", "house_number": "12", "postcode": "1011 AB",
        "municipality": "GM0363", "language": "tr",
        "children-0-first_name": "Elif", "children-0-birth_date": "2017-03-02"}


def _form(app, world, **changes):
    """FORM with the id of the world's child, as the correction page gives it."""
    with app.app_context():
        child = db.session().exec(select(Child.id).where(Child.family_id == world.family_id)).one()
    return {**FORM, "children-0-ref": str(child), **changes}


def _raw_database(app):
    """Every byte of the database as text (SQLite file, or a PostgreSQL dump of all rows)."""
    engine = app.extensions["referral.engine"]
    if engine.dialect.name == "sqlite":
        with open(engine.url.database, "rb") as fh:
            data = fh.read()
        wal = engine.url.database + "-wal"
        try:
            with open(wal, "rb") as fh:
                data += fh.read()
        except FileNotFoundError:
            pass
        return data.decode("latin-1")
    with engine.connect() as conn:
        tables = [row[0] for row in conn.exec_driver_sql(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        return "\n".join(str(row) for table in tables
                         for row in conn.exec_driver_sql(f'SELECT * FROM "{table}"'))


@pytest.mark.own_database
def test_the_owner_corrects_the_family(client, world, login, app, caplog):
    caplog.set_level(logging.DEBUG)
    login(world.owner)
    page = client.get(f"/families/{world.family_id}/edit")
    assert page.status_code == 200 and 'value="Zeynep Yilmaz"' in page.text
    response = post_form(client, f"/families/{world.family_id}/edit", _form(app, world))
    assert response.status_code == 303
    family_page = client.get(f"/families/{world.family_id}").text
    assert NEW_NAME in family_page and "06-99999999" in family_page
    assert "Zeynep Yilmaz" not in family_page.split("<h1>")[1].split("</h1>")[0]
    with app.app_context():
        session = db.session()
        family = session.get(Family, world.family_id)
        child = session.exec(select(Child).where(Child.family_id == family.id)).one()
        assert (family.postcode, family.address, family.language) == (
            "1011AB", "Nieuwe Weg 12", "tr")
        assert child.birth_date.isoformat() == "2017-03-02"
    [entry] = [e for e in audit_entries(app, family_id=world.family_id, action="update")
               if e.summary.startswith("family data corrected")]
    assert entry.summary == ("family data corrected: address, language, parent names, "
                             "phone, postcode")
    [child_entry] = audit_entries(app, family_id=world.family_id, action="update",
                                  object_type="child")
    assert child_entry.summary == "child data corrected"
    raw = _raw_database(app)
    assert "MARKER-4471" not in raw and "06-99999999" not in raw and "Nieuwe Weg" not in raw
    assert not any("MARKER-4471" in record.getMessage() for record in caplog.records)


@pytest.mark.parametrize("change, message", [
    ({"parent_names": ""}, "Vul minstens één naam in."),
    ({"parent_names": "x" * 201}, None),
    ({"postcode": "12345"}, "Vul een postcode in zoals 1234 AB."),
    ({"children-0-first_name": ""}, None),
    ({"children-0-birth_date": "1900-01-01"}, None),
])
def test_bad_corrections_save_nothing(client, world, login, app, change, message):
    login(world.owner)
    response = post_form(client, f"/families/{world.family_id}/edit", _form(app, world, **change))
    assert response.status_code == 400
    assert "Er is een probleem" in response.text
    if message:
        assert message in response.text
    with app.app_context():
        assert db.session().get(Family, world.family_id).parent_names == "Zeynep Yilmaz"


@pytest.mark.parametrize("who", ["stranger", "colleague", "partner", "coordinator",
                                 "privacy"])
def test_only_who_works_on_the_family_corrects_it(client, world, login, app, who):
    login(getattr(world, who))
    assert client.get(f"/families/{world.family_id}/edit").status_code == 404
    response = post_form(client, f"/families/{world.family_id}/edit", FORM,
                         page="/account")
    assert response.status_code == 404
    with app.app_context():
        assert db.session().get(Family, world.family_id).parent_names == "Zeynep Yilmaz"
    assert audit_entries(app, outcome="denied", action="update")
