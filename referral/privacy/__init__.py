"""Privacy: the access log viewer, access requests, erasure, the processing register and
retention."""

from flask import Blueprint

bp = Blueprint("privacy", __name__, url_prefix="/privacy")
