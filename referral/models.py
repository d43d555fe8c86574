"""Every table, imported together so SQLModel.metadata (and Alembic) knows them all."""

from referral.audit.models import AuditEvent, AuditHead
from referral.auth.models import LoginAttempt, User
from referral.directory.models import (
    NeedDomain,
    Organisation,
    Service,
    ServiceArea,
    ServiceDomain,
    ServiceLanguage,
    ServiceTerm,
    TaxonomyTerm,
)

__all__ = ["AuditEvent", "AuditHead", "LoginAttempt", "NeedDomain", "Organisation", "Service",
           "ServiceArea", "ServiceDomain", "ServiceLanguage", "ServiceTerm", "TaxonomyTerm",
           "User"]
