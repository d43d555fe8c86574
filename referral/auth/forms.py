from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, HiddenField, PasswordField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from referral.auth.credentials import PASSWORD_MAX
from referral.auth.models import ROLE_LABELS, STATUS_LABELS, TRAINING_LABELS, Role
from referral.forms import EMAIL, SelectField
from referral.i18n import lazy_gettext as _l


class LoginForm(FlaskForm):
    email = StringField(_l("Email address"), validators=[
        DataRequired(_l("Enter your email address.")), Length(max=254)])
    password = PasswordField(_l("Password"), validators=[
        DataRequired(_l("Enter your password.")), Length(max=PASSWORD_MAX)])
    next = HiddenField(validators=[Length(max=500)])


class CodeForm(FlaskForm):
    code = StringField(_l("Six-digit code from your authenticator app"), validators=[
        DataRequired(_l("Enter the code.")), Length(max=10),
        Regexp(r"^\s*\d{3}\s?\d{3}\s*$", message=_l("The code has six digits."))])


class PasswordChangeForm(FlaskForm):
    current = PasswordField(_l("Current password"), validators=[
        DataRequired(_l("Enter your current password.")), Length(max=PASSWORD_MAX)])
    new = PasswordField(_l("New password"), validators=[
        DataRequired(_l("Enter a new password.")), Length(max=PASSWORD_MAX)])
    confirm = PasswordField(_l("New password again"), validators=[
        DataRequired(_l("Enter the new password again.")),
        EqualTo("new", _l("The two new passwords are not the same."))])


class ForgotForm(FlaskForm):
    email = StringField(_l("Email address"), validators=[
        DataRequired(_l("Enter your email address.")),
        Length(max=254, message=_l("An email address has at most 254 characters.")),
        Regexp(EMAIL, message=_l("Enter an email address like name@example.org."))])


class ChoosePasswordForm(FlaskForm):
    new = PasswordField(_l("New password"), validators=[
        DataRequired(_l("Enter a new password.")), Length(max=PASSWORD_MAX)])
    confirm = PasswordField(_l("New password again"), validators=[
        DataRequired(_l("Enter the new password again.")),
        EqualTo("new", _l("The two new passwords are not the same."))])


def _labelled(labels):
    return [SelectChoice(str(value), label) for value, label in labels.items()]


class InviteForm(FlaskForm):
    name = StringField(_l("Name"), validators=[
        DataRequired(_l("Enter the person's name.")),
        Length(max=120, message=_l("Enter a name of at most 120 characters."))])
    email = StringField(_l("Email address"), validators=[
        DataRequired(_l("Enter the email address.")),
        Length(max=254, message=_l("An email address has at most 254 characters.")),
        Regexp(EMAIL, message=_l("Enter an email address like name@example.org."))])
    role = SelectField(_l("Role"), validators=[DataRequired(_l("Choose a role."))])
    organisation = SelectField(_l("Organisation"))
    language = SelectField(_l("Language of the mail and the pages"),
                           choices=[SelectChoice("nl", "Nederlands"), SelectChoice("en", "English")])

    def __init__(self, *args, roles, organisations, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = _labelled({r: ROLE_LABELS[r] for r in Role if r in roles})
        self.organisation.choices = organisation_choices(organisations)


class RoleForm(FlaskForm):
    role = SelectField(_l("Role"), validators=[DataRequired(_l("Choose a role."))])
    organisation = SelectField(_l("Organisation"))

    def __init__(self, *args, roles, organisations, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = _labelled({r: ROLE_LABELS[r] for r in Role if r in roles})
        self.organisation.choices = organisation_choices(organisations)


class TrainingForm(FlaskForm):
    trained_on = DateField(_l("Date of the training"), validators=[
        DataRequired(_l("Enter a date like 2026-12-31."))])
    kind = SelectField(_l("Kind of training"), choices=_labelled(TRAINING_LABELS),
                       validators=[DataRequired(_l("Choose the kind of training."))])


def organisation_choices(organisations):
    return [SelectChoice("", _l("No organisation"))] + [
        SelectChoice(str(o.id), o.name) for o in organisations]


class UserFilterForm(FlaskForm):
    """The users list's filters: a GET, so the view can be bookmarked; no names in it."""

    class Meta:
        csrf = False

    role = SelectField(_l("Role"), validators=[Optional()])
    status = SelectField(_l("Status"), validators=[Optional()])
    organisation = SelectField(_l("Organisation"), validators=[Optional()])
    expired = BooleanField(_l("Only professionals whose training is missing or expired"))
    sort = SelectField(_l("Sort by"), validators=[Optional()], choices=_labelled({
        "name": _l("name"), "role": _l("role"), "training": _l("training date"),
        "status": _l("status"), "created": _l("date created")}))
    order = SelectField(_l("Order"), validators=[Optional()], choices=_labelled({
        "asc": _l("ascending"), "desc": _l("descending")}))

    def __init__(self, *args, organisations, **kwargs):
        super().__init__(*args, **kwargs)
        self.role.choices = [SelectChoice("", _l("All roles"))] + _labelled(ROLE_LABELS)
        self.status.choices = [SelectChoice("", _l("Every status"))] + _labelled(STATUS_LABELS)
        self.organisation.choices = [SelectChoice("", _l("All organisations"))] + [
            SelectChoice(str(o.id), o.name) for o in organisations]


class UserSearchForm(FlaskForm):
    """A name or email address to look for: posted, so it stays out of addresses and logs."""

    text = StringField(_l("Name or email address"), validators=[
        Length(max=100, message=_l("Search for at most 100 characters."))])
