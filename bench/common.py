"""What the benchmarks share: an in-process logged-in client and a statement counter."""

import re


def logged_in(app, email):
    """A test client logged in as a demo account."""
    client = app.test_client()
    page = client.get("/login").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post("/login", data={"csrf_token": token, "email": email,
                                "password": "oefen-wachtwoord-2026"})
    return client


def statements(app, client, path, *, method="GET", data=None, expect=200):
    """The SQL statements the app runs to serve one request of path."""
    from sqlalchemy import event

    seen = []
    engine = app.extensions["referral.engine"]

    def track(*args):
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", track)
    try:
        response = client.open(path, method=method, data=data)
    finally:
        event.remove(engine, "before_cursor_execute", track)
    assert response.status_code == expect, (path, response.status_code)
    return len(seen)
