import re

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    IntegerField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    URL,
    DataRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from referral.directory.models import CAPACITY_LABELS, ROUTE_LABELS, STATUS_LABELS
from referral.forms import EMAIL, CheckboxesField, SelectField
from referral.i18n import lazy_gettext as _l

AREA_LINE = re.compile(r"^\s*(GM\d{4})\s+(\S.{0,118})$")



def _choices(labels):
    return [SelectChoice(str(value), label) for value, label in labels.items()]


class SearchForm(FlaskForm):
    """The directory search: a plain GET with a shareable address."""

    class Meta:
        csrf = False  # a GET that changes nothing

    domains = CheckboxesField(_l("Need domains"), validators=[Optional()])
    municipality = SelectField(_l("Municipality"), validators=[Optional()])
    age = IntegerField(_l("Age of the child"), validators=[
        Optional(), NumberRange(0, 27, _l("Enter an age from 0 to 27."))])
    q = StringField(_l("Search words"), validators=[Optional(), Length(max=200)])
    everything = BooleanField(_l("Also show inactive services and services closed to "
                                 "new referrals"))


def _age():
    return IntegerField(validators=[Optional(), NumberRange(0, 120)])


class ServiceForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter a name.")),
                                               Length(max=200)])
    alternate_name = StringField(_l("Also known as"), validators=[Optional(), Length(max=200)])
    description = TextAreaField(_l("What it offers"), validators=[
        DataRequired(_l("Describe what the service offers.")), Length(max=4000)])
    domains = CheckboxesField(_l("Need domains"), validators=[
        DataRequired(_l("Choose at least one need domain."))])
    areas = TextAreaField(_l("Municipalities"), validators=[Optional(), Length(max=20000)])
    minimum_age = IntegerField(_l("From age"), validators=[Optional(), NumberRange(0, 120)])
    maximum_age = IntegerField(_l("Up to age"), validators=[Optional(), NumberRange(0, 120)])
    eligibility_description = TextAreaField(_l("Who can use it"), validators=[
        Optional(), Length(max=2000)])
    income_limit_percent = IntegerField(_l("Income limit (percentage of the social minimum)"),
                                        validators=[Optional(), NumberRange(50, 300)])
    # Empty when another directory did not say: whoever edits the service chooses.
    referral_route = SelectField(_l("How to refer"), choices=[
        SelectChoice("", _l("Choose…")), *_choices(ROUTE_LABELS)],
        validators=[DataRequired(_l("Choose how to refer."))])
    professional_applies = BooleanField(_l("A professional applies on the family's behalf"))
    capacity = SelectField(_l("Capacity"), choices=[
        SelectChoice("", _l("Choose…")), *_choices(CAPACITY_LABELS)],
        validators=[DataRequired(_l("Choose the capacity."))])
    waiting_weeks = IntegerField(_l("Expected waiting time in weeks"), validators=[
        Optional(), NumberRange(0, 104)])
    status = SelectField(_l("Status"), choices=_choices(STATUS_LABELS))
    application_process = TextAreaField(_l("How to apply"), validators=[
        Optional(), Length(max=2000)])
    fees_description = TextAreaField(_l("Costs"), validators=[Optional(), Length(max=1000)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=100)])
    email = StringField(_l("Email address"), validators=[
        Optional(), Length(max=254), Regexp(EMAIL, message=_l("Enter a valid email address."))])
    url = StringField(_l("Website"), validators=[
        Optional(), Length(max=500), URL(message=_l("Enter a web address starting with https://."))])
    languages = StringField(_l("Languages"), validators=[Optional(), Length(max=200)])
    # Where to go and when (HSDS location, address and schedule); not columns of Service.
    address_1 = StringField(_l("Street and number"), validators=[Optional(), Length(max=200)])
    postal_code = StringField(_l("Postcode"), validators=[
        Optional(), Length(max=10),
        Regexp(r"^\s*\d{4}\s?[A-Za-z]{2}\s*$", message=_l("Enter a postcode like 1234 AB."))])
    city = StringField(_l("Place"), validators=[Optional(), Length(max=120)])
    state_province = StringField(_l("Province"), validators=[Optional(), Length(max=100)])
    opening_hours = TextAreaField(_l("Opening hours"), validators=[Optional(), Length(max=500)])

    PLACE_FIELDS = ("address_1", "postal_code", "city", "state_province")

    def address(self):
        return {name: self[name].data or "" for name in self.PLACE_FIELDS}

    def validate_maximum_age(self, field):
        if (field.data is not None and self.minimum_age.data is not None
                and field.data < self.minimum_age.data):
            raise ValidationError(_l("The upper age is below the lower age."))

    def validate_areas(self, field):
        for number, line in enumerate((field.data or "").splitlines(), start=1):
            if line.strip() and not AREA_LINE.match(line):
                raise ValidationError(_l(
                    "Line %(n)d: write the CBS code and the name, like GM0363 Amsterdam.",
                    n=number))

    def validate_languages(self, field):
        for code in parse_languages(field.data):
            if not re.fullmatch(r"[a-z]{2,3}", code):
                raise ValidationError(_l("Write language codes like nl, en, ar."))

    def parsed_areas(self):
        return sorted({m.group(1): (m.group(1), m.group(2).strip())
                       for m in map(AREA_LINE.match, (self.areas.data or "").splitlines())
                       if m}.values())


def parse_languages(text):
    return sorted({code.strip().lower() for code in (text or "").split(",") if code.strip()})


class OrganisationForm(FlaskForm):
    name = StringField(_l("Name"), validators=[DataRequired(_l("Enter a name.")),
                                               Length(max=200)])
    alternate_name = StringField(_l("Also known as"), validators=[Optional(), Length(max=200)])
    # HSDS requires a description of every organisation: what another directory shows.
    description = TextAreaField(_l("Description"), validators=[
        DataRequired(_l("Describe in a sentence what the organisation does.")),
        Length(max=4000)])
    phone = StringField(_l("Phone"), validators=[Optional(), Length(max=100)])
    email = StringField(_l("Email address"), validators=[
        Optional(), Length(max=254), Regexp(EMAIL, message=_l("Enter a valid email address."))])
    website = StringField(_l("Website"), validators=[
        Optional(), Length(max=500), URL(message=_l("Enter a web address starting with https://."))])


class MergeForm(FlaskForm):
    into = SelectField(_l("Merge into"), validators=[DataRequired()])
    confirm = BooleanField(_l("I understand that this organisation disappears and its "
                              "services and accounts move"),
                           validators=[DataRequired(_l("Tick the box to confirm."))])

