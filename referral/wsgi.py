"""The application for a WSGI server: `gunicorn 'referral.wsgi:app'`.

Built once in each worker (gunicorn imports this module after forking). What is built with
it — the app, its routes, the tables' metadata, SQLAlchemy's and Jinja's machinery — lives
as long as the worker, so it is moved out of the garbage collector's way: the collector's
full passes then walk what requests make, not the whole application every time."""

import gc

from referral import create_app

app = create_app()
gc.collect()
gc.freeze()
