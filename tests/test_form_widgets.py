"""The fast widgets write the same HTML as the WTForms widgets they replace (issue 18)."""

import pytest
from markupsafe import Markup
from werkzeug.datastructures import MultiDict
from wtforms.fields.choices import SelectChoice
from wtforms.widgets import ListWidget

from referral.cases.forms import SignalForm
from referral.directory.forms import SearchForm, ServiceForm
from referral.feedback.forms import InviteForm

CHOICES = [SelectChoice("food", "Voeding"), SelectChoice("money", 'Geld & "schulden" <x>'),
           SelectChoice("sport_culture", "")]
WIDGETS = [(SearchForm, "domains"), (ServiceForm, "domains"), (SignalForm, "domains"),
           (InviteForm, "whom")]


def _reference(field, **kwargs):
    return ListWidget(prefix_label=False)(field, **kwargs)


@pytest.mark.parametrize(("form_class", "name"), WIDGETS)
@pytest.mark.parametrize("chosen", [[], ["money"], ["food", "sport_culture"], ["nothing"]])
def test_checkboxes_write_what_wtforms_writes(app, form_class, name, chosen):
    with app.test_request_context("/", method="POST"):
        form = form_class(formdata=MultiDict([(name, value) for value in chosen]),
                          meta={"csrf": False})
        field = form[name]
        field.choices = CHOICES
        field.validate(form)  # errors as a submitted form has them
        fast = field()
        assert isinstance(fast, Markup)
        assert str(fast) == str(_reference(field))
        assert str(field(class_="x")) == str(_reference(field, class_="x"))
        assert str(fast).count("checked") == len(set(chosen) & {"food", "money",
                                                                "sport_culture"})
