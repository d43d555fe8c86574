"""feedback link bound to the first browser that opens it; a new link replaces the old one

Revision ID: b7d41c9e2f60
Revises: 5c1f0e2a9b47
Create Date: 2026-12-03 13:30:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)


revision = 'b7d41c9e2f60'
down_revision = '5c1f0e2a9b47'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('feedback_invite', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opened_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('holder_hash', sqlmodel.sql.sqltypes.AutoString(
            length=64), nullable=True))
        batch_op.add_column(sa.Column('replaced_at', sa.DateTime(timezone=True),
                                      nullable=True))


def downgrade():
    with op.batch_alter_table('feedback_invite', schema=None) as batch_op:
        batch_op.drop_column('replaced_at')
        batch_op.drop_column('holder_hash')
        batch_op.drop_column('opened_at')
