"""A family's access-log entries indexed with their action: the family page's history (its
creation, corrections and children) is a few entries among every read of the family, which
the log gains each time the family is opened; with the action in the index the reads are
skipped, not read and left out (the page's history read grew with every visit)

Revision ID: 4b7e2d9c1a53
Revises: 8d3f1a6b2c47
Create Date: 2026-12-07 03:30:00.000000
"""
from alembic import op


revision = '4b7e2d9c1a53'
down_revision = '8d3f1a6b2c47'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_audit_event_family_action', 'audit_event', ['family_id', 'action'])
    op.drop_index('ix_audit_event_family_id', table_name='audit_event')


def downgrade():
    op.create_index('ix_audit_event_family_id', 'audit_event', ['family_id'])
    op.drop_index('ix_audit_event_family_action', table_name='audit_event')
