from flask_wtf import FlaskForm
from wtforms import RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, Length, Optional

from referral.feedback import LANGUAGES
from referral.forms import CheckboxesField, SelectField
from referral.i18n import lazy_gettext as _l

PARENT_SCALE = [(1, _l("No, not at all")), (2, _l("Not really")), (3, _l("A little")),
                (4, _l("Mostly")), (5, _l("Yes, completely"))]
# Five faces, from sad to happy, drawn as pictures (an emoji shows as an empty box where no
# emoji font is installed); every face has its words, which name the choice for all. The
# second item is the mouth, a curve from corner to corner in the face's 32 by 32 square.
FACES = [(1, "M10 24 Q16 16 22 24", _l("very bad")), (2, "M10 23 Q16 19 22 23", _l("not good")),
         (3, "M10 21 L22 21", _l("so-so")), (4, "M10 20 Q16 24 22 20", _l("good")),
         (5, "M9 19 Q16 28 23 19", _l("very good"))]


def _scale(label, choices):
    return RadioField(label, coerce=int, validators=[Optional()],
                      choices=[SelectChoice(value, text) for value, text in choices])


def _text(label):
    return TextAreaField(label, validators=[Optional(), Length(max=2000)])


class ParentForm(FlaskForm):
    heard = _scale(_l("Did you feel heard?"), PARENT_SCALE)
    useful = _scale(_l("Was the help useful to you?"), PARENT_SCALE)
    easy = _scale(_l("Was it easy to get the help?"), PARENT_SCALE)
    better = _scale(_l("Did anything change for your child?"), PARENT_SCALE)
    went_well = _text(_l("What went well?"))
    do_better = _text(_l("What should we do better?"))


FACE_CHOICES = [(value, label) for value, _face, label in FACES]


class YoungChildForm(FlaskForm):
    heard = _scale(_l("Did the grown-ups listen to you?"), FACE_CHOICES)
    better = _scale(_l("Are things better now?"), FACE_CHOICES)
    to_grown_ups = _text(_l("What would you like to tell the grown-ups?"))


class OlderChildForm(FlaskForm):
    heard = _scale(_l("Did you feel listened to?"), FACE_CHOICES)
    better = _scale(_l("Did things get better?"), FACE_CHOICES)
    to_grown_ups = _text(_l("What would you like the adults to know?"))


FORMS = {"parent": ParentForm, "child_8_11": YoungChildForm, "child_12_17": OlderChildForm}


class LanguageChoiceForm(FlaskForm):
    language = StringField(validators=[DataRequired(), AnyOf(list(LANGUAGES))])


class InviteForm(FlaskForm):
    whom = CheckboxesField(_l("Who is invited?"), validators=[
        DataRequired(_l("Choose at least one person."))])
    language = SelectField(_l("Language of the invitation"), validators=[
        AnyOf(list(LANGUAGES))], choices=[SelectChoice(code, name)
                                          for code, name in LANGUAGES.items()])
