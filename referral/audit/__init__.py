"""The access log (NEN 7513)."""

from referral.audit.chain import record, remove_before

__all__ = ["record", "remove_before"]
