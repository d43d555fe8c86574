"""Feedback from families and children: one-time links, public forms in six languages."""

from flask import Blueprint

bp = Blueprint("feedback", __name__)

# The languages of the public forms, in the order of the first screen.
LANGUAGES = {"nl": "Nederlands", "en": "English", "ar": "العربية", "tr": "Türkçe",
             "pl": "Polski", "uk": "Українська"}
RTL = {"ar"}
