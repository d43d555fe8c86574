from flask_wtf import FlaskForm
from wtforms import DateField, FieldList, Form, FormField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, ValidationError

from referral.forms import SelectField
from referral.i18n import lazy_gettext as _l
from referral.monitor.models import MAX_ACTIVITIES, PROGRESS_LABELS


class ActivityForm(Form):
    what = StringField(_l("What"), validators=[Optional(), Length(max=300)])
    for_whom = StringField(_l("For whom"), validators=[Optional(), Length(max=200)])
    target = StringField(_l("Target"), validators=[Optional(), Length(max=200)])
    due = DateField(_l("By when"), validators=[Optional()])

    def validate_what(self, field):
        if not field.data and (self.for_whom.data or self.target.data or self.due.data):
            raise ValidationError(_l("Say what the activity is."))


class PledgeForm(FlaskForm):
    activities = FieldList(FormField(ActivityForm), min_entries=MAX_ACTIVITIES,
                           max_entries=MAX_ACTIVITIES)
    new_partner = StringField(_l("The new partner your organisation brought into the alliance"),
                              validators=[Optional(), Length(max=200)])

    def activity_list(self):
        return [entry.data for entry in self.activities if entry.what.data]

    def validate_activities(self, field):
        if not self.activity_list():
            raise ValidationError(_l("Describe at least one activity."))


class ReportEntryForm(Form):
    progress = SelectField(_l("Progress"), validators=[Optional()], choices=[
        SelectChoice("", "—")] + [SelectChoice(str(k), v) for k, v in PROGRESS_LABELS.items()])
    text = TextAreaField(_l("In a few words"), validators=[Optional(), Length(max=500)])


class ReportForm(FlaskForm):
    entries = FieldList(FormField(ReportEntryForm), max_entries=MAX_ACTIVITIES)

    def validate_entries(self, field):
        if not any(entry.progress.data for entry in field):
            raise ValidationError(_l("Report on at least one activity."))
