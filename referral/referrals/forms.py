from datetime import date, timedelta

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from referral.forms import CheckboxesField, ConfirmForm, ListFilters, SelectField
from referral.i18n import lazy_gettext as _l
from referral.referrals.models import OUTCOME_LABELS, REASON_LABELS, status_label
from referral.referrals.operations import MAX_MESSAGE, MAX_SERVICES


class PickerField(CheckboxesField):
    """The services to refer to, drawn by templates/referrals/_picker.html."""

    own_markup = True


UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class ReferForm(FlaskForm):
    services = PickerField(_l("Refer to"), validators=[
        DataRequired(_l("Choose at least one service."))])
    message = TextAreaField(_l("What the partner needs to know"), validators=[
        DataRequired(_l("Write what the partner needs to know.")), Length(max=MAX_MESSAGE)])
    follow_up_on = DateField(_l("Follow up on"), validators=[
        DataRequired(_l("Enter a date like 2026-12-31."))])
    # Made when the form is shown: the same form sent twice makes its referrals once.
    form_token = HiddenField(validators=[DataRequired(), Regexp(UUID)])
    send = SubmitField(_l("Send the referral"))
    draft = SubmitField(_l("Save as draft"))

    def validate_services(self, field):
        if len(field.data or []) > MAX_SERVICES:
            raise ValidationError(_l("Choose at most %(num)d services at once.",
                                     num=MAX_SERVICES))

    def validate_follow_up_on(self, field):
        if field.data and not date.today() <= field.data <= date.today() + timedelta(days=366):
            raise ValidationError(_l("Choose a follow-up date within the coming year."))


def _within_a_year(_form, field):
    if field.data and not date.today() <= field.data <= date.today() + timedelta(days=366):
        raise ValidationError(_l("Choose a follow-up date within the coming year."))


class FollowUpForm(FlaskForm):
    follow_up_on = DateField(_l("New follow-up date"), validators=[
        DataRequired(_l("Enter a date like 2026-12-31.")), _within_a_year])


class DraftForm(FlaskForm):
    """A draft's service, message and follow-up date, changed before it is sent."""

    service = SelectField(_l("Service"), validators=[DataRequired(_l("Choose a service."))])
    message = TextAreaField(_l("What the partner needs to know"), validators=[
        DataRequired(_l("Write what the partner needs to know.")), Length(max=MAX_MESSAGE)])
    follow_up_on = DateField(_l("Follow up on"), validators=[
        DataRequired(_l("Enter a date like 2026-12-31.")), _within_a_year])
    # Optional(): a form without it is refused by the operation exactly like a stale form.
    version = IntegerField(widget=HiddenField.widget, validators=[Optional()])


class StatusForm(FlaskForm):
    target = HiddenField(validators=[DataRequired(), Length(max=20)])
    # Optional(): a form without it is refused by the operation exactly like a stale form.
    version = IntegerField(widget=HiddenField.widget, validators=[Optional()])
    reason = TextAreaField(_l("Reason"), validators=[Optional(), Length(max=2000)])
    outcome = SelectField(_l("Outcome"), validators=[Optional()], choices=[
        SelectChoice("", "—")] + [SelectChoice(k, v) for k, v in OUTCOME_LABELS.items()])
    reason_code = SelectField(_l("What kind of reason"), validators=[Optional()], choices=[
        SelectChoice("", "—")] + [SelectChoice(k, v) for k, v in REASON_LABELS.items()])


class StopForm(StatusForm, ConfirmForm):
    """A step that ends the referral without the help it asked for: the box must be
    ticked."""


class NoteForm(FlaskForm):
    text = TextAreaField(_l("Note"), validators=[
        DataRequired(_l("Write the note.")), Length(max=2000)])


class HandoverForm(FlaskForm):
    colleague = SelectField(_l("Colleague"), validators=[
        DataRequired(_l("Choose a colleague."))])
    note = TextAreaField(_l("Note for your colleague"), validators=[
        Optional(), Length(max=1000)])


class DecideForm(FlaskForm):
    accept = SubmitField(_l("Accept the handover"))
    decline = SubmitField(_l("Decline"))


class BridgeAnswerForm(FlaskForm):
    """The bridge worker's answer to a request: the accept button, or a reason and the
    decline button."""

    reason = TextAreaField(_l("Why not? (optional, for the professional who asked)"),
                           validators=[Optional(), Length(max=2000)])
    accept = SubmitField(_l("Accept: I will accompany the family"))
    decline = SubmitField(_l("Decline the request"))


class BridgeForm(FlaskForm):
    bridge = SelectField(_l("Bridge worker"), validators=[
        DataRequired(_l("Choose a bridge worker."))])
    family_agreed = BooleanField(_l("The family agrees that this bridge worker joins"),
                                 validators=[DataRequired(_l("Tick the box to confirm."))])


def _choices(pairs, everything):
    return [SelectChoice("", everything)] + [SelectChoice(str(value), label)
                                             for value, label in pairs]


STATUS_FILTERS = [("open", _l("open")), ("new", _l("new")), ("active", _l("in progress")),
                  ("waiting", _l("waiting")), ("closed", _l("closed"))]


class MineFilters(ListFilters):
    """Filters of my referrals; the services and organisations are set by the view."""

    status = SelectField(_l("Status"), default="")
    overdue = BooleanField(_l("Only overdue"), default=False)
    service = SelectField(_l("Service"), default="")
    organisation = SelectField(_l("Organisation"), default="")
    days = SelectField(_l("Sent"), default="")
    sort = SelectField(_l("Sort by"), default="due", choices=[
        SelectChoice("due", _l("overdue first, then follow-up date")),
        SelectChoice("newest", _l("newest first")), SelectChoice("oldest", _l("oldest first")),
        SelectChoice("service", _l("service"))])

    def __init__(self, formdata, services, organisations, statuses):
        super().__init__(formdata)
        self.status.choices = _choices(
            STATUS_FILTERS + [(s.value, status_label(s)) for s in statuses], _l("all"))
        self.service.choices = _choices(services, _l("all"))
        self.organisation.choices = _choices(organisations, _l("all"))
        self.days.choices = _choices(PERIODS, _l("any time"))


PERIODS = [(7, _l("in the last week")), (30, _l("in the last 30 days")),
           (90, _l("in the last 3 months")), (365, _l("in the last year"))]


class InboxFilters(ListFilters):
    status = SelectField(_l("Status"), default="open")
    waiting = SelectField(_l("Waiting"), default="")
    service = SelectField(_l("Service"), default="")
    sort = SelectField(_l("Sort by"), default="urgency", choices=[
        SelectChoice("urgency", _l("most urgent first")),
        SelectChoice("waiting", _l("longest waiting first")),
        SelectChoice("newest", _l("newest first"))])

    def __init__(self, formdata, services, waiting_days):
        super().__init__(formdata)
        self.status.choices = [SelectChoice(value, label) for value, label in STATUS_FILTERS
                               ] + [SelectChoice("all", _l("all"))]
        self.waiting.choices = _choices(
            [(days, _l("more than %(num)d days", num=days)) for days in waiting_days],
            _l("any time"))
        self.service.choices = _choices(services, _l("all"))


class AccompanyFilters(ListFilters):
    status = SelectField(_l("Status"), default="open", choices=[
        SelectChoice("open", _l("open")), SelectChoice("closed", _l("closed")),
        SelectChoice("all", _l("all"))])
    sort = SelectField(_l("Sort by"), default="newest", choices=[
        SelectChoice("newest", _l("newest first")),
        SelectChoice("waiting", _l("longest waiting first")),
        SelectChoice("urgency", _l("most urgent first"))])


class StuckFilters(ListFilters):
    organisation = SelectField(_l("Partner organisation"), default="")
    status = SelectField(_l("Status"), default="")
    sort = SelectField(_l("Sort by"), default="organisation", choices=[
        SelectChoice("organisation", _l("by organisation")),
        SelectChoice("longest", _l("longest overdue first"))])

    def __init__(self, formdata, organisations, statuses):
        super().__init__(formdata)
        self.organisation.choices = _choices(organisations, _l("all"))
        self.status.choices = _choices([(s.value, status_label(s)) for s in statuses],
                                       _l("all"))
