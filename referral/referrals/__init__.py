"""Referrals: a signal sent to a service, followed up until the loop is closed."""

from flask import Blueprint

bp = Blueprint("referrals", __name__, url_prefix="/referrals")
