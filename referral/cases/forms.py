from datetime import date

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from referral.cases.models import (
    LANGUAGES,
    METHOD_LABELS,
    SOURCE_LABELS,
    URGENCY_LABELS,
)
from referral.forms import EMAIL, CheckboxesField, LongSelect

MAX_CHILDREN = 6



class ChildForm(Form):
    first_name = StringField(_l("First name"), validators=[Optional(), Length(max=80)])
    birth_date = DateField(_l("Date of birth"), validators=[Optional()])

    # Each runs only when its own field is filled in (Optional stops the chain otherwise).
    def validate_first_name(self, field):
        if not (self.birth_date.raw_data or [""])[0]:
            raise ValidationError(_l("Give both the first name and the date of birth."))

    def validate_birth_date(self, field):
        if field.data is None:  # not a date: the field says so already
            return
        if not self.first_name.data:
            raise ValidationError(_l("Give both the first name and the date of birth."))
        if not date(date.today().year - 27, 1, 1) <= field.data <= date.today():
            raise ValidationError(_l("Enter a date of birth in the past 27 years."))


class FamilyForm(FlaskForm):
    parent_names = StringField(_l("Name(s) of the parent(s) or guardian(s)"), validators=[
        DataRequired(_l("Enter at least one name.")), Length(max=200)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=40)])
    email = StringField(_l("Email address"), validators=[
        Optional(), Length(max=254), Regexp(EMAIL, message=_l("Enter a valid email address."))])
    street = StringField(_l("Street"), validators=[Optional(), Length(max=120)])
    house_number = StringField(_l("House number"), validators=[Optional(), Length(max=12)])
    postcode = StringField(_l("Postcode"), validators=[
        Optional(), Regexp(r"^\s*\d{4}\s*[A-Za-z]{2}\s*$",
                           message=_l("Enter a postcode like 1234 AB."))])
    municipality = SelectField(_l("Municipality"), validators=[Optional()],
                               widget=LongSelect())
    language = SelectField(_l("Preferred language"),
                           choices=[SelectChoice(k, v) for k, v in LANGUAGES.items()])
    children = FieldList(FormField(ChildForm), min_entries=3, max_entries=MAX_CHILDREN)
    confirm_new = BooleanField(_l("This is another family: create it anyway"))

    def validate_children(self, field):
        if not any(entry.form.first_name.data for entry in field.entries):
            raise ValidationError(_l("Enter at least one child."))

    def child_list(self):
        return [(entry.form.first_name.data.strip(), entry.form.birth_date.data)
                for entry in self.children.entries if entry.form.first_name.data]


class CorrectChildForm(Form):
    first_name = StringField(_l("First name"), validators=[
        DataRequired(_l("Enter the first name.")), Length(max=80)])
    birth_date = DateField(_l("Date of birth"), validators=[
        DataRequired(_l("Enter a date of birth."))])

    validate_birth_date = ChildForm.validate_birth_date


class CorrectFamilyForm(FlaskForm):
    """Rectification: the same fields as a new family, the children as they are."""

    parent_names = FamilyForm.parent_names
    phone = FamilyForm.phone
    email = FamilyForm.email
    street = FamilyForm.street
    house_number = FamilyForm.house_number
    postcode = FamilyForm.postcode
    municipality = FamilyForm.municipality
    language = FamilyForm.language
    children = FieldList(FormField(CorrectChildForm), max_entries=MAX_CHILDREN)


def _text(label, limit, *validators):
    return TextAreaField(label, validators=[*validators, Length(max=limit)])


class SignalForm(FlaskForm):
    domains = CheckboxesField(_l("Need domains you noticed"), validators=[
        DataRequired(_l("Choose at least one need domain."))])
    observations = _text(_l("What did you notice?"), 4000,
                         DataRequired(_l("Describe what you noticed.")))
    stress_factors = _text(_l("Stress factors"), 2000, Optional())
    strengths = _text(_l("What goes well"), 2000, Optional())
    parent_wishes = _text(_l("What does the parent want?"), 2000, Optional())
    child_wishes = _text(_l("What does the child want?"), 2000, Optional())
    urgency = SelectField(_l("Urgency"),
                          choices=[SelectChoice(k, v) for k, v in URGENCY_LABELS.items()])
    source = SelectField(_l("Source"),
                         choices=[SelectChoice(k, v) for k, v in SOURCE_LABELS.items()])


class ConsentForm(FlaskForm):
    organisation = SelectField(_l("Share with"), validators=[DataRequired()])
    scope = _text(_l("What may be shared"), 1000,
                  DataRequired(_l("Write what may be shared.")))
    child = SelectField(_l("About"), validators=[Optional()])
    parent_agreed = BooleanField(_l("A parent or guardian agreed"))
    child_agreed = BooleanField(_l("The child or young person agreed"))
    given_by = StringField(_l("Who agreed (names)"), validators=[
        DataRequired(_l("Write who agreed.")), Length(max=200)])
    method = SelectField(_l("How"), choices=[SelectChoice(k, v) for k, v in METHOD_LABELS.items()])
    given_on = DateField(_l("When"), default=date.today, validators=[
        DataRequired(_l("Enter the date."))])

    def validate_given_on(self, field):
        if field.data and field.data > date.today():
            raise ValidationError(_l("The date cannot be in the future."))


class FamilySearchForm(FlaskForm):
    """Search my families: a name or postcode is personal, so it is posted, never put in
    the address."""

    text = StringField(_l("Name, child's first name or postcode"), validators=[
        Length(max=100, message=_l("Search with at most %(max)d characters."))])
    search = SubmitField(_l("Search"))
    clear = SubmitField(_l("Show all families"))
