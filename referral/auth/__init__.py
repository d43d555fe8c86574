"""People, login, two-factor and access rules."""

from flask import Blueprint

bp = Blueprint("auth", __name__)
