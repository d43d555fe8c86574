"""The directory's version: a token that a trigger replaces on every write to a directory
table, so a page of directory data drawn once can be kept until the directory changes

Revision ID: 5c2e9a7d4b18
Revises: 3e8a5c7d1b90
Create Date: 2026-12-06 01:30:00.000000
"""
from alembic import op
import sqlalchemy as sa


revision = '5c2e9a7d4b18'
down_revision = '3e8a5c7d1b90'
branch_labels = None
depends_on = None

# As referral.directory.models.VERSIONED was when this was written (a migration does not
# change with the code after it).
VERSIONED = ("need_domain", "organisation", "service", "service_area", "hsds_record",
             "service_language", "service_domain", "taxonomy_term", "service_term",
             "location", "address", "service_at_location", "schedule")
# SQLite's random() and this are 64-bit integers: a token is never used twice, not even the
# one of a transaction that was rolled back.
NEW_TOKEN = {"sqlite": "random()",
             "postgresql": "floor(random() * 9000000000000000000)::bigint"}


def upgrade():
    op.create_table(
        'directory_version',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('token', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_directory_version')))
    op.execute("INSERT INTO directory_version (id, token) VALUES (1, 0)")
    create_triggers(VERSIONED)


def create_triggers(tables):
    """Every write to these tables replaces the token. A later migration that rebuilds one of
    them on SQLite (batch_alter_table) drops its triggers and must call this again: a test
    checks that every table has them."""
    dialect = op.get_bind().dialect.name
    change = f"UPDATE directory_version SET token = {NEW_TOKEN[dialect]}"
    if dialect == "sqlite":
        for table in tables:
            for verb in ("INSERT", "UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {table}_version_{verb.lower()} AFTER {verb} "
                           f"ON {table} BEGIN {change}; END")
        return
    op.execute("CREATE FUNCTION directory_changed() RETURNS trigger LANGUAGE plpgsql AS "
               f"$$ BEGIN {change}; RETURN NULL; END $$")
    for table in tables:
        op.execute(f"CREATE TRIGGER {table}_version AFTER INSERT OR UPDATE OR DELETE OR "
                   f"TRUNCATE ON {table} FOR EACH STATEMENT EXECUTE FUNCTION "
                   "directory_changed()")


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for table in VERSIONED:
            for verb in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER {table}_version_{verb}")
    else:
        op.execute("DROP FUNCTION directory_changed() CASCADE")
    op.drop_table('directory_version')
