"""The processing register describes every column of every table."""

from sqlmodel import SQLModel

from referral.privacy import register


def test_every_model_column_is_in_the_register(app):
    assert register.missing() == []


def test_the_register_describes_nothing_that_does_not_exist(app):
    tables = {table.name: {c.name for c in table.columns}
              for table in SQLModel.metadata.sorted_tables}
    assert set(register.REGISTER) == set(tables)
    stale = [f"{name}.{column}" for name, spec in register.REGISTER.items()
             for column in spec.columns if column not in tables[name]]
    assert stale == []


def test_encrypted_columns_are_marked_encrypted(app):
    kinds = {(e.table, e.column): e.kind for e in register.entries()}
    for table in SQLModel.metadata.sorted_tables:
        for column in table.columns:
            if column.info.get("encrypted"):
                assert kinds[(table.name, column.name)] == register.ENCRYPTED


def test_the_register_page_for_everyone(client, make_user, login):
    login(make_user("partner", organisation="Voedselbank"))
    page = client.get("/privacy/register")
    assert page.status_code == 200
    assert "<code>parent_names_enc</code>" in page.text
    assert "Namen van de ouders of verzorgers" in page.text
    assert "over een persoon, versleuteld" in page.text
    client.delete_cookie("referral_session")
    assert client.get("/privacy/register").status_code == 302
