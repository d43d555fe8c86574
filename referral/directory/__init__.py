"""The partner directory (sociale kaart)."""

from flask import Blueprint

bp = Blueprint("directory", __name__, url_prefix="/directory")
