"""family keys: every family's data key, wrapped by the key ring (crypto-shredding)

Revision ID: 9d4b6e1f2a3c
Revises: b7d41c9e2f60
Create Date: 2026-12-03 13:30:00.000000

Values sealed the old way (v1, with the key ring) keep opening; 'flask keys rotate' moves
them to their family's key (docs/operations.md).
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)


revision = '9d4b6e1f2a3c'
down_revision = 'b7d41c9e2f60'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('family_key',
                    sa.Column('family_id', sa.Uuid(), nullable=False),
                    sa.Column('wrapped', sqlmodel.sql.sqltypes.AutoString(length=120),
                              nullable=False),
                    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
                    sa.PrimaryKeyConstraint('family_id', name=op.f('pk_family_key')))


def downgrade():
    # Values sealed with a family's key would open with nothing once the table is gone:
    # seal them with the key ring again first (the app runs migrations with its keys).
    from referral import crypto, familykeys

    connection = op.get_bind()
    if connection.execute(sa.text("SELECT COUNT(*) FROM family_key")).scalar_one():
        familykeys.to_ring(connection, crypto.keyring())
    op.drop_table('family_key')
