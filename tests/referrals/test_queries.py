"""Pages keep the same number of SQL queries as referrals, events and notes grow."""

import re

from sqlmodel import select

from referral import db
from referral.auth.models import User
from referral.referrals.models import Referral
from referral.referrals.operations import add_note, change_status
from tests.conftest import count_queries
from tests.world import refer_again


def _grow(app, world, n):
    """n more referrals to the inbox service, each accepted with a note: more rows and events."""
    for _ in range(n):
        referral_id = refer_again(app, world, world.inbox_service)
        with app.app_context():
            session = db.session()
            partner = session.get(User, world.partner.id)
            referral = session.get(Referral, referral_id)
            change_status(partner, referral, "accepted")
            add_note(partner, referral, "We hebben gebeld.")
            db.commit()


def test_queries_per_page_do_not_grow(app, client, login, world):
    pages = [
        (world.owner, ["/referrals/", f"/families/{world.family_id}",
                       f"/referrals/{world.inbox_referral}"]),
        (world.partner, ["/referrals/", f"/referrals/{world.inbox_referral}"]),
        (world.coordinator, ["/referrals/stuck"]),
    ]

    def measure():
        counts = {}
        for person, paths in pages:
            login(person)
            for path in paths:
                counts[(person.email, path)] = count_queries(app, client, path)
        return counts

    _all_stuck(app)
    measure()  # what a worker reads once (the need domains)
    few = measure()
    _grow(app, world, 6)
    _all_stuck(app)
    assert measure() == few


def _all_stuck(app):
    """Every referral long past its follow-up date, so the coordinator's list has them all."""
    with app.app_context():
        for referral in db.session().exec(select(Referral)).all():
            referral.follow_up_on = referral.follow_up_on.replace(year=2020)
        db.commit()


def test_the_stuck_list_comes_in_pages(app, client, login, world, monkeypatch):
    from referral.referrals import queries

    for _ in range(2):
        refer_again(app, world, world.inbox_service)
    _all_stuck(app)
    monkeypatch.setattr(queries, "STUCK_PAGE_SIZE", 2)
    login(world.coordinator)
    first = client.get("/referrals/stuck").text
    total = int(re.search(r"(\d+) vastgelopen verwijzingen", first).group(1))
    pages = -(-total // 2)
    assert total >= 3 and f"Pagina 1 van {pages}" in first
    seen = set()
    for page in range(1, pages + 1):
        html = client.get(f"/referrals/stuck?page={page}").text
        codes = re.findall(r"<code>([0-9a-f]{8})</code>", html)
        assert 1 <= len(codes) <= 2 and not seen & set(codes)
        seen |= set(codes)
    assert len(seen) == total
    assert f"Pagina {pages} van {pages}" in client.get("/referrals/stuck?page=999").text
