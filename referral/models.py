"""Every table, imported together so SQLModel.metadata (and Alembic) knows them all."""

from referral.audit.models import AuditEvent, AuditHead
from referral.auth.models import LoginAttempt, User
from referral.directory.models import Organisation

__all__ = ["AuditEvent", "AuditHead", "LoginAttempt", "Organisation", "User"]
