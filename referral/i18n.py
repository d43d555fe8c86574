"""Translation for code and templates: the request's catalog looked up once, and templates
compiled once per language with their fixed strings already translated.

A page shows a hundred or more strings. Through Flask-Babel each costs 4 µs (it asks the app
context for its domain, locale and catalog every time), through Jinja's gettext 7 µs (two
context calls, a Markup, a `%` on every string): together a tenth of a page's time. Here
code and forms ask `gettext`, which keeps the catalog beside the locale Flask-Babel chose;
and a template's `_("fixed text")` is translated when the template is compiled, so the
page writes it as it writes the HTML around it. Strings with values (`_("%(n)d", n=…)`),
plurals and `{% trans %}` with variables are translated as the page is drawn.
"""

import functools
import numbers
import types
import weakref

import flask_babel
from flask import g
from flask.templating import Environment as FlaskEnvironment
from flask_babel.speaklater import LazyString
from jinja2 import nodes, pass_eval_context, runtime
from jinja2.visitor import NodeTransformer
from markupsafe import Markup, escape


def translations(find=flask_babel.get_translations):
    """The catalog of the request's language. Kept beside the locale Flask-Babel chose, so a
    changed locale (force_locale for a mail in the family's language, refresh) is followed
    at once; `find` finds it (Flask-Babel's answer when no locale is chosen yet)."""
    return per_language("referral_catalog", find)


def per_language(name, make):
    """What `make` gives for the request's language (its catalog, how it writes dates),
    made once per request and language: kept beside the locale Flask-Babel chose, and made
    again when it changes. Outside a request, or before a locale is chosen, made each time."""
    try:
        context = g._get_current_object()
    except RuntimeError:  # no app context
        return make()
    state = getattr(context, "_flask_babel", None)
    locale = getattr(state, "babel_locale", None)
    if locale is None:  # not chosen yet in this request: making it chooses it (or not)
        made = make()
        state = getattr(context, "_flask_babel", None)
        locale = getattr(state, "babel_locale", None)
        if locale is not None:
            setattr(state, name, (locale, made))
        return made
    found = getattr(state, name, None)
    if found is None or found[0] is not locale:
        found = (locale, make())
        setattr(state, name, found)
    return found[1]


def gettext(string, **variables):
    """Flask-Babel's gettext, from the kept catalog."""
    text = translations().ugettext(string)
    return text % variables if variables else text


@pass_eval_context
def page_gettext(eval_context, string, **variables):
    """A template's `_()` and `gettext()` with values (those without are translated when the
    template is compiled): the kept catalog, formatted and escaped as Jinja's newstyle
    gettext does. Jinja's own asks the context for the function again on every call, in a
    loop first copies the context, and formats through Markup's `%`: 4 µs a string that a
    list shows on every row, against 1."""
    return _formatted(eval_context, translations().ugettext(string), variables)


@pass_eval_context
def page_ngettext(eval_context, singular, plural, num, **variables):
    """A template's `ngettext()`, as `page_gettext` (`num` among the values)."""
    return _formatted(eval_context, translations().ungettext(singular, plural, num),
                      {"num": num, **variables})


def _formatted(eval_context, text, variables):
    """The translation is the page's own text, its values are not: escaped, but numbers,
    which `%d` needs as they are (and which need no escaping)."""
    if not eval_context.autoescape:
        return text % variables
    escaped = {name: value if isinstance(value, numbers.Number) else escape(value)
               for name, value in variables.items()}
    return Markup(text % escaped)  # noqa: S704  # nosec B704 (our text, escaped values)


def lazy_gettext(string, **variables):
    """A string translated each time it is shown (labels, choices, messages defined at
    import time), through `gettext`."""
    return Lazy(gettext, string, **variables)


class Lazy(LazyString):
    """Flask-Babel's lazy string, which also names what it says in every language: its
    untranslated text and values (`key`), for what is kept per language (referral.kept)
    without translating it first."""

    def __init__(self, func, string, **variables):
        super().__init__(func, string, **variables)
        self.key = (string, *sorted(variables.items()))


class Domain(flask_babel.Domain):
    """Flask-Babel's message domain, reading the kept catalog (its own gettext, ngettext and
    format functions go through here)."""

    def get_translations(self):
        return translations(super().get_translations)


GETTEXT = {"_", "gettext"}


class _TranslateFixed(NodeTransformer):
    """`_("text")` and `gettext("text")` without values become the translated text, marked
    safe where the template escapes, as Jinja's newstyle gettext marks it at run time."""

    def __init__(self, catalog):
        self.catalog = catalog

    def visit_Call(self, node):
        if (isinstance(node.node, nodes.Name) and node.node.name in GETTEXT
                and len(node.args) == 1 and isinstance(node.args[0], nodes.Const)
                and isinstance(node.args[0].value, str) and not node.kwargs
                and node.dyn_args is None and node.dyn_kwargs is None):
            try:  # newstyle gettext formats every string, with no values too ('%%' → '%')
                text = self.catalog.ugettext(node.args[0].value) % {}
            except (TypeError, ValueError, KeyError):
                return self.generic_visit(node)  # fails as it did: at run time
            return nodes.MarkSafeIfAutoescape(nodes.Const(text, lineno=node.lineno),
                                              lineno=node.lineno)
        return self.generic_visit(node)


class Context(runtime.Context):
    """Jinja's template context, calling a plain function at once. Jinja calls every
    function a template calls through the context, which asks the function twice whether
    it wants the context passed (and copies the context for one that does, in a loop): 0.8
    µs a call, a hundred calls a page (addresses, dates, labels). A plain function (or a
    partial of one) that asks for nothing is called as it is; anything else as Jinja does."""

    def call(__self, __obj, *args, **kwargs):  # noqa: N805  (Jinja's own signature)
        if type(__obj) in PLAIN and "jinja_pass_arg" not in __obj.__dict__:
            if kwargs:  # what Jinja passes for the context it would have copied
                kwargs.pop("_loop_vars", None)
                kwargs.pop("_block_vars", None)
            try:
                return __obj(*args, **kwargs)
            except StopIteration:  # as Jinja: a template cannot end a loop by it
                return __self.environment.undefined(
                    "value was undefined because a callable raised a StopIteration exception")
        return super().call(__obj, *args, **kwargs)


PLAIN = (types.FunctionType, functools.partial)


class Environment(FlaskEnvironment):
    """Flask's template environment, compiling each template once per language (the cache is
    keyed by the catalog as well as the name) with its fixed strings translated."""

    context_class = Context

    def make_globals(self, d):
        """A template's globals as one dict over the environment's, not Jinja's ChainMap:
        every render, `include` and `import … with context` copies them into a new
        context, and a ChainMap is copied key by key in Python (a family page includes a
        template per event). The environment's globals are all set as the app is made,
        before any template is loaded (as Jinja asks: it does not promise to follow a
        change after that)."""
        return {**self.globals, **(d or {})}

    def _load_template(self, name, globals):
        if self.loader is None:
            raise TypeError("no loader for this environment specified")
        catalog = translations()
        key = (weakref.ref(self.loader), name, catalog)
        template = self.cache.get(key) if self.cache is not None else None
        if template is not None and (not self.auto_reload or template.is_up_to_date):
            if globals:
                template.globals.update(globals)
            return template
        template = self.loader.load(self, name, self.make_globals(globals))
        if self.cache is not None:
            self.cache[key] = template
        return template

    def _parse(self, source, name, filename):
        return _TranslateFixed(translations()).visit(super()._parse(source, name, filename))
