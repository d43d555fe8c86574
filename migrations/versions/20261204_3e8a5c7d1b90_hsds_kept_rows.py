"""HSDS import keeps every row as the source wrote it; phones and area names are not cut; an address has its province; how to refer and capacity may be not known

Revision ID: 3e8a5c7d1b90
Revises: 9d4b6e1f2a3c
Create Date: 2026-12-04 17:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate writes sqlmodel.sql.sqltypes.AutoString)


revision = '3e8a5c7d1b90'
down_revision = '9d4b6e1f2a3c'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'hsds_record',
        sa.Column('table_name', sqlmodel.sql.sqltypes.AutoString(length=40), nullable=False),
        sa.Column('id', sa.Uuid(), nullable=False),
        sa.Column('fields', sa.Text(), nullable=False),
        sa.Column('used', sa.Boolean(), nullable=False),
        sa.Column('service_id', sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint('table_name', 'id'))
    op.create_index(op.f('ix_hsds_record_service_id'), 'hsds_record', ['service_id'],
                    unique=False)
    for table in ('organisation', 'service'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('phone', existing_type=sqlmodel.sql.sqltypes.AutoString(
                length=40), type_=sqlmodel.sql.sqltypes.AutoString(length=100),
                existing_nullable=True)
    with op.batch_alter_table('service', schema=None) as batch_op:
        # Not known, for a service from another directory that does not say.
        batch_op.alter_column('referral_route', existing_type=sqlmodel.sql.sqltypes
                              .AutoString(length=10), nullable=True)
        batch_op.alter_column('capacity', existing_type=sqlmodel.sql.sqltypes
                              .AutoString(length=20), nullable=True)
    with op.batch_alter_table('address', schema=None) as batch_op:
        batch_op.add_column(sa.Column('state_province', sqlmodel.sql.sqltypes.AutoString(
            length=100), nullable=True))
    with op.batch_alter_table('service_area', schema=None) as batch_op:
        batch_op.alter_column('municipality_name', existing_type=sqlmodel.sql.sqltypes
                              .AutoString(length=120), type_=sqlmodel.sql.sqltypes
                              .AutoString(length=500), existing_nullable=False)


def downgrade():
    with op.batch_alter_table('service_area', schema=None) as batch_op:
        batch_op.alter_column('municipality_name', existing_type=sqlmodel.sql.sqltypes
                              .AutoString(length=500), type_=sqlmodel.sql.sqltypes
                              .AutoString(length=120), existing_nullable=False)
    with op.batch_alter_table('address', schema=None) as batch_op:
        batch_op.drop_column('state_province')
    op.execute("UPDATE service SET referral_route = 'phone' WHERE referral_route IS NULL")
    op.execute("UPDATE service SET capacity = 'open' WHERE capacity IS NULL")
    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.alter_column('capacity', existing_type=sqlmodel.sql.sqltypes
                              .AutoString(length=20), nullable=False)
        batch_op.alter_column('referral_route', existing_type=sqlmodel.sql.sqltypes
                              .AutoString(length=10), nullable=False)
    for table in ('organisation', 'service'):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column('phone', existing_type=sqlmodel.sql.sqltypes.AutoString(
                length=100), type_=sqlmodel.sql.sqltypes.AutoString(length=40),
                existing_nullable=True)
    op.drop_index(op.f('ix_hsds_record_service_id'), table_name='hsds_record')
    op.drop_table('hsds_record')
