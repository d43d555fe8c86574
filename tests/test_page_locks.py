"""A page that writes while it only shows — the family's or the referral's access-log entry —
commits before its template renders: the entry and the reads it records are one transaction
as before, and the next request that logs does not wait while this one renders (on SQLite
the one write lock, on PostgreSQL the access log's head row)."""

import pytest
import sqlalchemy as sa
from flask import render_template_string, template_rendered

from referral import audit, db, web
from tests.conftest import browser

PAGES = {"family": ("/families/{world.family_id}", "cases/family.html", "family"),
         "referral": ("/referrals/{world.inbox_referral}", "referrals/show.html", "referral")}


@pytest.mark.own_database
@pytest.mark.parametrize("page", PAGES)
def test_the_access_log_is_committed_and_free_while_the_page_renders(make_app, world, page):
    # Another worker waits at most a fifth of a second for a lock, then fails.
    app = make_app(SQLITE_BUSY_TIMEOUT_MS=200, POSTGRES_LOCK_TIMEOUT_MS=200)
    path, template_name, object_type = PAGES[page]
    client = browser(app, world.owner)
    engine = app.extensions["referral.engine"]
    seen = []

    def rendered(_app, template, context, **_extra):
        if template.name != template_name:
            return
        with engine.connect() as other:  # another worker, while this page is being sent
            other.execute(sa.text("UPDATE audit_head SET seq = seq WHERE id = 1"))
            seen.append(tuple(other.execute(sa.text(
                "SELECT object_type, action, outcome FROM audit_event "
                "ORDER BY seq DESC LIMIT 1")).one()))
            other.rollback()

    with template_rendered.connected_to(rendered, app):
        response = client.get(path.format(world=world))
    assert response.status_code == 200
    assert seen == [(object_type, "read", "success")]


@pytest.mark.own_database
def test_a_page_that_fails_to_render_keeps_its_access_log_entry(make_app, world, monkeypatch):
    """The data was read: its entry stays, although the page became an error."""
    app = make_app(PROPAGATE_EXCEPTIONS=False)  # a 500 page, as in production
    client = browser(app, world.owner)

    def broken(*_args, **_kwargs):
        raise RuntimeError("a mistake in the template")

    monkeypatch.setattr(web, "format_date", broken)
    response = client.get(f"/families/{world.family_id}")
    assert response.status_code == 500
    with app.extensions["referral.engine"].connect() as other:
        last = tuple(other.execute(sa.text("SELECT object_type, action, outcome FROM audit_event "
                                     "ORDER BY seq DESC LIMIT 1")).one())
    assert last == ("family", "read", "success")


@pytest.mark.own_database
@pytest.mark.parametrize("page", PAGES)
def test_the_page_reads_what_it_shows_before_it_logs(make_app, world, page):
    """From the access-log entry to the commit, the lock on the log's head is held: the
    page's reads come before it, only the entry's own statements and its last read after."""
    app = make_app()
    path, _template, _object_type = PAGES[page]
    client = browser(app, world.owner)
    engine = app.extensions["referral.engine"]
    sequence = []

    def statement(_conn, _cursor, text, *_args):
        sequence.append(" ".join(text.split()))

    def commit(_conn):
        sequence.append("COMMIT")

    sa.event.listen(engine, "before_cursor_execute", statement)
    sa.event.listen(engine, "commit", commit)
    try:
        assert client.get(path.format(world=world)).status_code == 200
    finally:
        sa.event.remove(engine, "before_cursor_execute", statement)
        sa.event.remove(engine, "commit", commit)
    # The entry begins where it takes the head (FOR UPDATE on PostgreSQL, where the insert
    # moves the head in the same statement).
    logged = next(n for n, text in enumerate(sequence) if "FROM audit_head" in text)
    held = sequence[logged:sequence.index("COMMIT", logged)]
    assert len(sequence[:logged]) >= 6 and len(held) <= 4, sequence


@pytest.mark.own_database
def test_a_page_drawn_from_a_string_after_a_write_commits_and_renders(make_app):
    """A template without a name (from a string) is not a mail: the page commits first."""
    app = make_app()

    @app.get("/drawn")
    def drawn():
        audit.record("read", object_type="directory", summary="a read that is logged")
        return render_template_string("{{ 1 + 1 }}")

    response = app.test_client().get("/drawn")
    assert (response.status_code, response.text) == (200, "2")
    with app.extensions["referral.engine"].connect() as other:
        last = other.execute(sa.text("SELECT summary FROM audit_event ORDER BY seq DESC LIMIT 1"))
        assert last.scalar() == "a read that is logged"


@pytest.mark.own_database
def test_a_form_post_never_commits_part_of_itself_to_log_apart(make_app):
    """Logging apart commits early only in a page that shows: a form post that logs a
    search on its way (the refer page shown again with its errors) stays one transaction,
    so when it fails nothing of it is saved. A page that shows keeps its entry (SQLite)."""
    app = make_app(WTF_CSRF_ENABLED=False)

    def logs_apart_then(status):
        audit.record("update", object_type="directory", summary=f"a change ({status})")
        db.write_apart()
        audit.record("search", object_type="directory", summary=f"a search ({status})")
        return "", status

    app.add_url_rule("/post-fails", "post_fails", lambda: logs_apart_then(500),
                     methods=["POST"])
    app.add_url_rule("/get-fails", "get_fails", lambda: logs_apart_then(500))
    client = app.test_client()
    assert client.post("/post-fails").status_code == 500
    assert client.get("/get-fails").status_code == 500
    engine = app.extensions["referral.engine"]
    with engine.connect() as other:
        kept = other.execute(sa.text("SELECT summary FROM audit_event WHERE summary LIKE 'a %'"))
        # On SQLite the page's reads, logged apart; on PostgreSQL nothing commits early
        # (no lock to let go of): the page that failed is one transaction too.
        assert sorted(kept.scalars()) == (["a change (500)"] if engine.dialect.name == "sqlite"
                                          else [])
