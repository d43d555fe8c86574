"""The fast widgets write the same HTML as the WTForms widgets they replace (issue 18)."""

import ast
from pathlib import Path

import pytest
from flask_wtf import FlaskForm
from hypothesis import given
from hypothesis import strategies as st
from markupsafe import Markup
from werkzeug.datastructures import MultiDict
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.widgets import ListWidget, Select

from referral.cases.forms import SignalForm
from referral.directory.forms import SearchForm, ServiceForm
from referral.feedback.forms import InviteForm
from referral.forms import WTFORMS_HTML_PARAMS, SelectField, html_params

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


@pytest.mark.parametrize("chosen", [None, "money", "sport_culture", "nothing"])
@pytest.mark.parametrize("required", [False, True])
def test_selects_write_what_wtforms_writes(app, chosen, required):
    """Every select of the tool is a referral.forms.SelectField (drawn by PlainSelect)."""
    class Form(FlaskForm):
        choice = SelectField("Keuze", validators=[DataRequired()] if required else [])

    with app.test_request_context("/", method="POST"):
        form = Form(formdata=MultiDict({"choice": chosen} if chosen else {}),
                    meta={"csrf": False})
        form.choice.choices = [("", "—"), *[(c.value, c.label) for c in CHOICES]]
        form.validate()
        fast = form.choice()
        assert isinstance(fast, Markup)
        assert str(fast) == str(Select()(form.choice))
        assert str(form.choice(class_="x")) == str(Select()(form.choice, class_="x"))
        assert str(fast).count("selected") == (chosen in {"money", "sport_culture"})


def test_no_form_takes_the_select_field_from_wtforms():
    """A WTForms SelectField imported beside ours would draw its options the slow way."""
    package = Path(__file__).resolve().parent.parent / "referral"
    for path in package.rglob("*.py"):
        if path == package / "forms.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "wtforms":
                assert "SelectField" not in {alias.name for alias in node.names}, path


ATTRIBUTE_VALUES = st.one_of(st.text(), st.booleans(), st.none(), st.integers(),
                             st.text().map(Markup))
ATTRIBUTE_NAMES = st.sampled_from(["id", "name", "value", "class_", "for_", "data_row_id",
                                   "aria_describedby", "maxlength", "required", "x_y"])


@given(st.dictionaries(ATTRIBUTE_NAMES, ATTRIBUTE_VALUES, max_size=6))
def test_attributes_are_written_as_wtforms_writes_them(attributes):
    assert html_params(**attributes) == WTFORMS_HTML_PARAMS(**attributes)
    assert isinstance(html_params(**attributes), Markup)


def test_every_widget_writes_its_attributes_through_the_fast_function():
    """TextArea and Select call the module's function; Input and Button keep their own."""
    from wtforms.widgets import core

    assert core.html_params is html_params
    assert core.Input.html_params is html_params and core.Button.html_params is html_params
