"""The access log (NEN 7513)."""

from referral.audit.services import record, remove_before

__all__ = ["record", "remove_before"]
