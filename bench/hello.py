"""The bare Flask app the page benchmark compares every page with: one route, "hello".

Started by bench/pages.py under gunicorn with the real app's settings (`hello:app`)."""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello, World!"
