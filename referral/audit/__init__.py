"""The access log (NEN 7513)."""

from referral.audit.services import record

__all__ = ["record"]
