"""The one error every operation raises when a rule says no."""


class Refused(Exception):
    """A rule said no. The message is for the person who asked; `field` names the form field
    it is about, if one."""

    def __init__(self, message, field=None):
        super().__init__(message)
        self.field = field


class Denied(Refused):
    """Not this user's to see or do. `hidden`: even the object's existence is private, so
    the web answers 404 rather than 403."""

    def __init__(self, message="", *, hidden=False):
        super().__init__(message)
        self.hidden = hidden
