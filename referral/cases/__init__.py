"""Families, children and signals: what a professional noticed, encrypted at rest."""

from flask import Blueprint

bp = Blueprint("cases", __name__, url_prefix="/families")
