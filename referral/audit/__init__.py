"""The access log (NEN 7513)."""

from referral.audit.chain import denied_since, record, remove_before

__all__ = ["denied_since", "record", "remove_before"]
