"""Every table, imported together so SQLModel.metadata (and Alembic) knows them all."""

from referral.audit.models import AuditCheckpoint, AuditEvent, AuditHead
from referral.auth.models import AccountLink, LoginAttempt, User
from referral.cases.models import Child, Consent, Family, Signal, SignalDomain
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
from referral.familykeys import FamilyKey
from referral.feedback.models import FeedbackAttempt, FeedbackInvite, FeedbackResponse
from referral.mail import OutboxMessage
from referral.monitor.models import Pledge, PledgeActivity, PledgeReport
from referral.privacy.models import ErasureReceipt
from referral.referrals.models import Handover, Referral, ReferralEvent, ReferralSeen

__all__ = ["AccountLink", "AuditCheckpoint", "AuditEvent", "AuditHead", "Child", "Consent", "ErasureReceipt", "Family", "FamilyKey", "FeedbackAttempt",
           "FeedbackInvite", "FeedbackResponse", "Handover", "LoginAttempt",
           "NeedDomain", "Organisation", "OutboxMessage", "Pledge", "PledgeActivity",
           "PledgeReport", "Referral", "ReferralEvent", "ReferralSeen", "Service",
           "ServiceArea", "ServiceDomain", "ServiceLanguage", "ServiceTerm", "Signal",
           "SignalDomain", "TaxonomyTerm", "User"]
