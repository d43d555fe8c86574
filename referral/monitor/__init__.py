"""The monitor: what works, per year and per partner, counted in SQL with no person in it."""

from flask import Blueprint

bp = Blueprint("monitor", __name__, url_prefix="/monitor")
