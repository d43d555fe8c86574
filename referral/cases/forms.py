import uuid
from datetime import date

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    HiddenField,
    StringField,
    SubmitField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional, Regexp, ValidationError

from referral.cases.models import (
    LANGUAGES,
    MAX_CHILDREN,
    METHOD_LABELS,
    SOURCE_LABELS,
    URGENCY_LABELS,
)
from referral.forms import EMAIL, LONG, CheckboxesField, SelectField
from referral.i18n import lazy_gettext as _l


class ChildForm(Form):
    """One row of children: a child of the family (`ref` holds its id on the correction
    form) or a new one, which may stay empty."""

    ref = HiddenField()
    first_name = StringField(_l("First name"), validators=[Optional(), Length(max=80)])
    birth_date = DateField(_l("Date of birth"), validators=[Optional()])

    def validate_ref(self, field):
        try:
            uuid.UUID(field.data) if field.data else None
        except ValueError:
            raise ValidationError(_l("Give every child's first name and date of birth.")) from None

    def validate_birth_date(self, field):
        if field.data is None:  # not a date: the field says so already
            return
        if field.data > date.today():
            raise ValidationError(_l("A date of birth cannot be in the future."))
        if field.data < date(date.today().year - 27, 1, 1):
            raise ValidationError(_l("Enter a date of birth in the past 27 years."))

    def validate(self, extra_validators=None):
        """A row is empty, or has both a first name and a date of birth (each message at
        its own field); a child of the family cannot be emptied here."""
        valid = super().validate(extra_validators)
        named = bool((self.first_name.data or "").strip())
        dated = bool((self.birth_date.raw_data or [""])[0].strip())
        if self.ref.data or named or dated:
            if not named:
                self.first_name.errors.append(_l("Enter the child's first name."))
                valid = False
            if not dated:
                self.birth_date.errors.append(_l("Enter the child's date of birth."))
                valid = False
        return valid

    def is_empty(self):
        return not (self.ref.data or (self.first_name.data or "").strip()
                    or (self.birth_date.raw_data or [""])[0].strip())


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
    municipality = SelectField(_l("Municipality"), validators=[Optional()])
    language = SelectField(_l("Preferred language"),
                           choices=[SelectChoice(k, v) for k, v in LANGUAGES.items()])
    # No max_entries: WTForms would drop the rows beyond it without a word.
    children = FieldList(FormField(ChildForm), min_entries=1)
    confirm_new = BooleanField(_l("This is another family: create it anyway"))

    def validate_children(self, field):
        rows = [entry.form for entry in field.entries if not entry.form.is_empty()]
        if not rows:
            raise ValidationError(_l("Enter at least one child."))
        if len(rows) > MAX_CHILDREN:
            raise ValidationError(_l("Enter at most %(number)d children.", number=MAX_CHILDREN))

    def add_row(self):
        """One more empty row of children (the "Add a child" button, without JavaScript)."""
        self.children.append_entry()

    def child_list(self):
        return [(entry.form.first_name.data.strip(), entry.form.birth_date.data)
                for entry in self.children.entries if not entry.form.is_empty()]


class CorrectFamilyForm(FlaskForm):
    """Rectification: the same fields as a new family, the children as they are and rows
    for new ones."""

    parent_names = FamilyForm.parent_names
    phone = FamilyForm.phone
    email = FamilyForm.email
    street = FamilyForm.street
    house_number = FamilyForm.house_number
    postcode = FamilyForm.postcode
    municipality = FamilyForm.municipality
    language = FamilyForm.language
    children = FieldList(FormField(ChildForm))

    validate_children = FamilyForm.validate_children
    add_row = FamilyForm.add_row

    def child_list(self):
        """(child id or None for a new child, first name, date of birth) of every row."""
        return [(uuid.UUID(entry.form.ref.data) if entry.form.ref.data else None,
                 (entry.form.first_name.data or "").strip(), entry.form.birth_date.data)
                for entry in self.children.entries if not entry.form.is_empty()]


def _text(label, limit, *validators):
    return TextAreaField(label, validators=[*validators, Length(max=limit, message=LONG)])


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
