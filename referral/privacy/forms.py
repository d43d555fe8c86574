from flask_wtf import FlaskForm
from wtforms import DateField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, Regexp

from referral.audit.labels import ACTION_LABELS
from referral.forms import SelectField
from referral.i18n import lazy_gettext as _l

UUID = r"^\s*[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}\s*$"


class LogFilterForm(FlaskForm):
    """The access log's filters. A family reference and an employee's email address are
    personal, so the form is posted (with its CSRF token) and never put in an address; the
    pages after the first carry only an opaque handle to the filters kept in the session."""

    family = StringField(_l("Family reference"), validators=[
        Optional(), Length(max=40), Regexp(UUID, message=_l("Enter a family reference as shown "
                                                            "on the family page."))])
    user = StringField(_l("Email address of the employee"),
                       validators=[Optional(), Length(max=254)])
    action = SelectField(_l("Action"), validators=[Optional()], choices=[
        SelectChoice("", _l("all"))] + [SelectChoice(k, v) for k, v in ACTION_LABELS.items()])
    start = DateField(_l("From"), validators=[Optional()])
    end = DateField(_l("Up to and including"), validators=[Optional()])


class FindForm(FlaskForm):
    """Find a family for its request: by name, reference or address. A name or an address
    is personal, so the form is posted, never put in the address."""

    name = StringField(_l("Name of a parent or a child"), validators=[
        Optional(), Length(min=2, max=100, message=_l("Enter between %(min)d and %(max)d "
                                                      "characters of a name."))])
    reference = StringField(_l("Family reference"), validators=[
        Optional(), Length(max=40), Regexp(UUID, message=_l("Enter a family reference as shown "
                                                            "on the family page."))])
    postcode = StringField(_l("Postcode"), validators=[
        Optional(), Regexp(r"^\s*\d{4}\s*[A-Za-z]{2}\s*$",
                           message=_l("Enter a postcode like 1234 AB."))])
    house_number = StringField(_l("House number"), validators=[Optional(), Length(max=12)])

    def validate(self, extra_validators=None):
        if not super().validate(extra_validators):
            return False
        if self.postcode.data and not (self.house_number.data or "").strip():
            self.house_number.errors.append(_l("Give the house number with the postcode."))
            return False
        if not any((self.name.data, self.reference.data, self.postcode.data)):
            self.form_errors.append(_l("Fill in a name, a family reference, or a postcode "
                                       "and house number."))
            return False
        return True
