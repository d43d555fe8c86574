"""Form pieces every feature shares: checkboxes, selects, the need domains, a confirmation
box and a bare button."""

import wtforms
from flask_babel import get_locale
from flask_wtf import FlaskForm
from markupsafe import Markup, escape
from wtforms import BooleanField, FieldList, FormField, HiddenField, SelectMultipleField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired
from wtforms.widgets import CheckboxInput, ListWidget, Select
from wtforms.widgets import core as widgets

from referral.directory.queries import need_domains
from referral.i18n import lazy_gettext as _l

# No quotes, brackets, commas or semicolons: a To header would read those differently.
EMAIL = r"^[^@\s\"<>()\[\],;:\\]+@[^@\s\"<>()\[\],;:\\]+\.[^@\s\"<>()\[\],;:\\]+$"

# The message of a long text's limit: how long it may be and how long it is.
LONG = _l("Write at most %(max)d characters; the text now has %(length)d.")


def html_params(**kwargs):
    """WTForms' html_params, the same attributes written without Markup.format: markupsafe
    formats through a string.Formatter that asks every value for its HTML, two thirds of the
    time WTForms took to draw a form's fields (the referral page's status forms, a fifth of
    its time)."""
    params = []
    for key, value in sorted(kwargs.items()):
        key = widgets.clean_key(key)
        if value is True:
            params.append(key)
        elif value is not False:
            value = str(escape(value)).replace('"', "&quot;")  # a Markup value keeps its quotes
            params.append(f'{escape(key)}="{value}"')
    # Every key and value is escaped above.
    return Markup(" ".join(params))  # noqa: S704  # nosec B704


# Every WTForms widget writes its attributes through it: the module's function, and the copy
# Input and Button keep as a class attribute (WTForms' own place to change it).
WTFORMS_HTML_PARAMS = widgets.html_params
widgets.html_params = html_params
widgets.Input.html_params = widgets.Button.html_params = staticmethod(html_params)


class PlainSelect(Select):
    """A select rendered without WTForms' per-option attribute handling, which made a
    country's municipalities a third of the search page's time and the lists' filters a
    fifth of theirs. The same HTML."""

    @classmethod
    def render_option(cls, choice, **kwargs):
        if kwargs or choice.render_kw:
            return super().render_option(choice, **kwargs)
        selected = "selected " if choice.selected else ""
        value, label = escape(choice.value), escape(choice.label or choice.value)
        # Both values are escaped above; the rest is fixed text.
        return Markup(f'<option {selected}value="{value}">{label}</option>')  # noqa: S704  # nosec B704


class SelectField(wtforms.SelectField):
    """WTForms' select field, drawn by PlainSelect: every select of the tool."""

    widget = PlainSelect()


class Checkboxes(ListWidget):
    """A list of checkboxes, the same HTML as WTForms' ListWidget(prefix_label=False) of
    CheckboxInputs, written from the choices directly: WTForms builds, binds and renders a
    field per box (html_params and markupsafe for every attribute), most of the directory
    search form's time."""

    def __init__(self):
        super().__init__(prefix_label=False)

    def __call__(self, field, **kwargs):
        if kwargs or field.render_kw or type(field.option_widget) is not CheckboxInput:
            return super().__call__(field, **kwargs)
        flags = field.flags
        disabled = " disabled" if getattr(flags, "disabled", False) else ""
        required = " required" if getattr(flags, "required", False) else ""
        name = escape(field.name)
        html = [f'<ul id="{escape(field.id)}">']
        for number, choice in enumerate(field._iter_choices_normalized()):
            box = escape(f"{field.id}-{number}")
            checked = " checked" if choice.selected else ""
            html.append(
                f'<li><input{checked}{disabled} id="{box}" name="{name}"{required} '
                f'type="checkbox" value="{escape(choice.value)}"> '
                f'<label for="{box}">{escape(choice.label or choice.value)}</label></li>')
        html.append("</ul>")
        # Every value is escaped above; the rest is fixed text.
        return Markup("".join(html))  # noqa: S704  # nosec B704


class CheckboxesField(SelectMultipleField):
    widget = Checkboxes()
    option_widget = CheckboxInput()
    # Drawn by a template of its own (the refer page's picker) inside a fieldset with the
    # field's id that takes focus: the error summary links to the fieldset, not to a box.
    own_markup = False


def need_domain_choices():
    """The need domains as checkbox choices, labelled in the page's language."""
    english = str(get_locale()) == "en"
    return [SelectChoice(d.code, d.label_en if english else d.label_nl) for d in need_domains()]


class ConfirmForm(FlaskForm):
    """A box to tick before something that cannot be undone; `label` says what."""

    confirm = BooleanField(_l("Yes, I am sure"),
                           validators=[DataRequired(_l("Tick the box to confirm."))])

    def __init__(self, *args, label=None, **kwargs):
        super().__init__(*args, **kwargs)
        if label is not None:
            self.confirm.label.text = label


class ButtonForm(FlaskForm):
    """A form with nothing but its CSRF token, for buttons that change something."""


def show_refusal(form, refused, *, default=None):
    """Show an operation's refusal beside its field (or the `default` field), else above the
    form (also for a list of fields, which has no place of its own)."""
    name = refused.field or default
    if name in form and not isinstance(form[name], FieldList):
        form[name].errors = [*form[name].errors, str(refused)]
    else:
        form.form_errors.append(str(refused))


class ListFilters(FlaskForm):
    """A list's filters and sort order, sent with GET so a view can be bookmarked: nothing
    changes, so no CSRF token, and nothing personal goes in it. A value that is not one of
    the choices (an old bookmark, a hand-made address) is dropped with a word, not refused."""

    class Meta:
        csrf = False

    def read(self):
        """Validate; reset each field whose value is not understood to its default. Return
        the labels of the fields that were reset, for a notice above the list."""
        ignored = []
        if not self.validate():
            for name, _messages in self.errors.items():
                field = self[name]
                field.data = field.default
                field.raw_data = []
                ignored.append(str(field.label.text))
            for name in list(self.errors):
                self[name].errors = []
        return ignored

    def args(self, **extra):
        """The chosen filters as query arguments (for page links), without the defaults."""
        chosen = {field.name: field.data for field in self
                  if field.data not in (None, "", False, field.default)}
        return {**chosen, **extra}

    def narrowed(self):
        """Whether any filter but the sort order is set away from its default."""
        return any(field.data not in (None, "", False, field.default)
                   for field in self if field.name != "sort")


def page_number(args):
    """The page asked for in the query string; 1 for anything that is not a page number."""
    page = args.get("page", "1")
    return int(page) if page.isascii() and page.isdigit() and 0 < int(page) < 100_000 else 1


def _focus_target(field):
    """The id of the first thing of a field that can take focus: the first box of a list of
    boxes, the first visible input of a row or of a list of rows."""
    if isinstance(field, FieldList):
        return _focus_target(field.entries[0]) if field.entries else field.id
    if isinstance(field, FormField):
        visible = [sub for sub in field.form if not isinstance(sub, HiddenField)]
        return _focus_target(visible[0]) if visible else field.id
    if (isinstance(field.widget, ListWidget) and not getattr(field, "own_markup", False)
            and list(field.iter_choices())):
        return f"{field.id}-0"
    return field.id


def _errors_of(field, target=None):
    if isinstance(field, FieldList):
        own = [message for message in field.errors if not isinstance(message, dict | list)]
        links = [(_focus_target(field), message) for message in own]
        for entry in field.entries:
            links.extend(_errors_of(entry))
        return links
    if isinstance(field, FormField):
        return [link for sub in field.form for link in _errors_of(
            sub, _focus_target(field) if isinstance(sub, HiddenField) else None)]
    return [(target or _focus_target(field), message) for message in field.errors]


def error_links(form):
    """(id to focus, message) of every error of the form, rows of rows included, in the
    order of its fields: the error summary links each message to its field."""
    return [link for field in form if field.short_name != "csrf_token"
            for link in _errors_of(field)]
