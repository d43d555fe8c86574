"""The lists people open fifty times a day: rows they can tell apart, filters in the address
(a view can be bookmarked), sorted and paged, and an empty result that says so."""

import re
from datetime import date, timedelta

import pytest
from sqlmodel import select

from referral import db
from referral.auth.models import User
from referral.cases.models import Consent, Signal
from referral.cases.operations import create_family, log_signal, record_consent, withdraw_consent
from referral.directory.models import Service
from referral.referrals.models import Referral
from referral.referrals.operations import change_status, refer
from referral.referrals.queries import default_follow_up
from tests.conftest import counted_queries, post_form
from tests.matrix import accompany
from tests.world import age, refer_again


def text_of(response):
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.text))


def name_of(app, person):
    with app.app_context():
        return db.session().get(User, person.id).name


def set_urgency(app, world, urgency):
    with app.app_context():
        signal = db.session().get(Signal, world.signal_id)
        signal.urgency = urgency
        db.commit()


def close(app, world, referral_id):
    with app.app_context():
        session = db.session()
        partner = session.get(User, world.partner.id)
        referral = session.get(Referral, referral_id)
        change_status(partner, referral, "rejected", reason="Geen plek.")
        db.commit()


def another_family(app, world, parent_names, service_id, *, consent=True, urgency="normal",
                   municipality="GM0363"):
    """A second family of the owner, referred to a service (with the family's consent)."""
    with app.app_context():
        session = db.session()
        nurse, service = session.get(User, world.owner.id), session.get(Service, service_id)
        family = create_family(nurse, parent_names=parent_names, municipality_code=municipality,
                               children=[("Sam", date(2018, 5, 5))])
        signal = log_signal(nurse, family, domains=["food"], source="conversation",
                            observations="gezien", urgency=urgency)
        if consent:
            record_consent(nurse, family, organisation_id=service.organisation_id,
                           given_by="ouder", scope="naam", method="spoken",
                           given_on=date.today(), parent_agreed=True)
        [made] = refer(nurse, family, signal, [service], message="graag",
                       follow_up_on=default_follow_up(), send=True,
                       form_token=f"form-{parent_names}")
        db.commit()
        return made.id


# --- the partner's inbox: rows you can tell apart ------------------------------------------

def test_an_inbox_row_names_family_referrer_date_waiting_and_urgency(app, client, login,
                                                                      world):
    """Was: "Voedselpakket · 2 dec 2026 — aangevraagd", five times, nothing to tell apart."""
    age(app, world.inbox_referral, 5)
    set_urgency(app, world, "urgent")
    login(world.partner)
    row = text_of(client.get("/referrals/")).split("Status", 1)[1]
    for shown in ("Zeynep Yilmaz", "Amsterdam", "Voedselpakket", name_of(app, world.owner),
                  "JGZ Noord", "5 dagen", "dringend", "aangevraagd"):
        assert shown in row, shown
    html = client.get("/referrals/").text
    for label in ("Gezin", "Aanbod", "Verwezen door", "Verstuurd", "Wacht", "Urgentie",
                  "Status"):
        assert f'data-label="{label}"' in html


def test_an_inbox_row_of_a_municipality_no_service_names_shows_its_code(app, client, login,
                                                                         world):
    another_family(app, world, "Anna de Vries", world.inbox_service, municipality="GM9999")
    login(world.partner)
    row = text_of(client.get("/referrals/")).split("Anna de Vries", 1)[1].split("Status")[0]
    assert "GM9999" in row


def test_the_inbox_shows_the_family_only_while_its_consent_stands(app, client, login, world):
    login(world.partner)
    assert "Zeynep Yilmaz" in client.get("/referrals/").text
    with app.app_context():
        session = db.session()
        consent = session.exec(select(Consent).where(
            Consent.family_id == world.family_id,
            Consent.organisation_id == session.get(Service, world.inbox_service)
            .organisation_id)).one()
        withdraw_consent(session.get(User, world.owner.id), consent)
        db.commit()
    page = text_of(client.get("/referrals/"))
    assert "Zeynep" not in page and "Amsterdam" not in page
    assert "naam niet gedeeld: geen toestemming" in page
    assert "Voedselpakket" in page and "JGZ Noord" in page  # the rest still tells it apart


def test_the_inbox_names_a_family_exactly_where_the_policy_shares_the_content(app, client,
                                                                           login, world):
    """The list's condition (policy.content_shared) and the rule for one referral
    ("referral.content") agree: a referral entered in error shares nothing any more."""
    from referral import policy

    second = another_family(app, world, "Anna de Vries", world.inbox_service)
    with app.app_context():
        session = db.session()
        owner = session.get(User, world.owner.id)
        change_status(owner, session.get(Referral, second), "entered-in-error",
                      reason="Verkeerd gezin.")
        db.commit()
    login(world.partner)
    html = client.get("/referrals/?status=all").text
    with app.app_context():
        session = db.session()
        partner = session.get(User, world.partner.id)
        for referral_id in (world.inbox_referral, second):
            referral = session.get(Referral, referral_id)
            row = html.split(f'href="/referrals/{referral_id}"', 1)[1].split("</tr>", 1)[0]
            shared = policy.allowed(partner, "referral.content", referral)
            assert shared == (referral_id == world.inbox_referral)
            assert ("Zeynep Yilmaz" in row or "Anna de Vries" in row) == shared
            assert ("naam niet gedeeld" in row) == (not shared)


def test_a_family_without_consent_for_the_partner_is_not_named(app, client, login, world,
                                                                make_service):
    """Another family, referred to the same organisation's other service without consent
    (a draft is not in the inbox; the consent is withdrawn after sending)."""
    other = make_service("Kerstpakket", organisation="Voedselbank", referral_route="inbox")
    another_family(app, world, "Anna de Vries", other)
    login(world.partner)
    assert "Anna de Vries" in client.get("/referrals/").text
    login(world.other_partner)  # another organisation: neither family at all
    page = client.get("/referrals/").text
    assert "Anna" not in page and "Zeynep" not in page


def test_closed_items_do_not_say_soon(app, client, login, world):
    """Was: a rejected referral still read "binnenkort"."""
    set_urgency(app, world, "soon")
    login(world.partner)
    assert "binnenkort" in text_of(client.get("/referrals/"))
    close(app, world, world.inbox_referral)
    closed = text_of(client.get("/referrals/?status=closed"))
    assert "afgewezen" in closed and "gesloten" in closed
    rows = closed.split("Gesorteerd", 1)[1]
    assert "binnenkort" not in rows and "dagen" not in rows


def test_the_inbox_filters_by_status_waiting_time_and_service(app, client, login, world,
                                                             make_service):
    other = make_service("Kerstpakket", organisation="Voedselbank", referral_route="inbox")
    another_family(app, world, "Anna de Vries", other)
    age(app, world.inbox_referral, 20)
    login(world.partner)
    both = text_of(client.get("/referrals/"))
    assert "Zeynep Yilmaz" in both and "Anna de Vries" in both and "2 verwijzingen." in both
    waited = text_of(client.get("/referrals/?waiting=14"))
    assert "Zeynep Yilmaz" in waited and "Anna de Vries" not in waited
    by_service = text_of(client.get(f"/referrals/?service={other}"))
    assert "Anna de Vries" in by_service and "Zeynep" not in by_service
    close(app, world, world.inbox_referral)
    open_ = text_of(client.get("/referrals/"))
    assert "Anna de Vries" in open_ and "Zeynep" not in open_
    assert "Zeynep Yilmaz" in text_of(client.get("/referrals/?status=all"))
    assert "Zeynep Yilmaz" in text_of(client.get("/referrals/?status=closed"))


def _list_statement(app, client, query, total, joining):
    """The list statements (those joining `joining`) of a list page shown a second time,
    once its total on the page is checked."""
    client.get(f"/referrals/{query}")
    with counted_queries(app) as statements:
        page = text_of(client.get(f"/referrals/{query}"))
    assert (f"{total} verwijzing" in page) or (total == 0 and "Niets" in page), query
    return [s for s in statements if joining in s and "LIMIT" in s]


def test_the_inbox_totals_its_status_counts_instead_of_counting_again(app, client, login,
                                                                      world, make_service):
    """Filtered by status alone, the inbox's total is the sum of the counts it shows above
    the list (one count of the organisation's referrals, not two); filtered otherwise, it
    is counted with the page. Either way the total is what the list holds."""
    other = make_service("Kerstpakket", organisation="Voedselbank", referral_route="inbox")
    another_family(app, world, "Anna de Vries", other)
    another_family(app, world, "Bram Bakker", other)
    close(app, world, world.inbox_referral)
    login(world.partner)
    for query, total, counted_with_page in (("", 2, False), ("?status=closed", 1, False),
                                            ("?status=all", 3, False),
                                            (f"?service={other}", 2, True),
                                            ("?waiting=3", 0, True)):
        [listed] = _list_statement(app, client, query, total, "JOIN service")
        assert ("count(*)" in listed) is counted_with_page, query


def test_the_inbox_sorts_most_urgent_then_longest_waiting(app, client, login, world,
                                                         make_service):
    other = make_service("Kerstpakket", organisation="Voedselbank", referral_route="inbox")
    another_family(app, world, "Anna de Vries", other, urgency="urgent")
    age(app, world.inbox_referral, 10)
    login(world.partner)

    def order(query=""):
        return re.findall(r"(Zeynep Yilmaz|Anna de Vries)", text_of(
            client.get(f"/referrals/{query}")))

    assert order() == ["Anna de Vries", "Zeynep Yilmaz"]  # urgent first
    assert order("?sort=waiting") == ["Zeynep Yilmaz", "Anna de Vries"]
    assert order("?sort=newest") == ["Anna de Vries", "Zeynep Yilmaz"]
    home = client.get("/").text.split('id="work-new"', 1)[1].split("</section>", 1)[0]
    assert re.findall(r"(Kerstpakket|Voedselpakket)", home) == ["Kerstpakket", "Voedselpakket"]


def _ranks(app):
    with app.app_context():
        return dict(db.session().exec(select(Referral.id, Referral.urgency_rank)).all())


def test_a_referral_keeps_its_signals_urgency_for_the_inbox_order(app, client, login, world,
                                                                   make_service):
    """The inbox pages through an index of the referral's own copy of the urgency (its
    signal's does not change once logged): urgent, then soon, then the rest."""
    parcel = make_service("Kerstpakket", organisation="Voedselbank", referral_route="inbox")
    soon = another_family(app, world, "Anna de Vries", parcel, urgency="soon")
    urgent = another_family(app, world, "Bram Bakker", world.inbox_service, urgency="urgent")
    age(app, world.inbox_referral, 10)  # waiting longest, but normal
    ranks = _ranks(app)
    assert (ranks[urgent], ranks[soon], ranks[world.inbox_referral]) == (0, 1, 2)
    login(world.partner)
    assert re.findall(r"(Zeynep Yilmaz|Anna de Vries|Bram Bakker)", text_of(
        client.get("/referrals/"))) == ["Bram Bakker", "Anna de Vries", "Zeynep Yilmaz"]


@pytest.mark.own_database
def test_the_migration_gives_every_referral_its_signals_urgency(app, runner, world,
                                                                make_service):
    parcel = make_service("Kerstpakket", organisation="Voedselbank", referral_route="inbox")
    made = {another_family(app, world, "Anna de Vries", parcel, urgency="soon"): 1,
            another_family(app, world, "Bram Bakker", world.inbox_service, urgency="urgent"): 0,
            world.inbox_referral: 2}
    app.extensions["referral.engine"].dispose()
    assert runner.invoke(args=["db", "downgrade", "5c2e9a7d4b18"]).exit_code == 0
    assert runner.invoke(args=["db", "upgrade"]).exit_code == 0
    ranks = _ranks(app)
    assert {referral: ranks[referral] for referral in made} == made


@pytest.mark.parametrize("target", ["cancelled", "entered-in-error"])
def test_a_draft_stopped_before_it_was_sent_never_reaches_the_partner(app, client, login,
                                                                      world, target):
    """Its status is no longer draft, but it was never sent: not in the inbox, not on the
    partner's home page, not to be opened; a referral stopped after it was sent still is."""
    draft = refer_again(app, world, world.inbox_service, send=False)
    with app.app_context():
        session = db.session()
        change_status(session.get(User, world.owner.id), session.get(Referral, draft), target,
                      reason="Toch niet nodig.")
        db.commit()
    close(app, world, world.inbox_referral)  # sent, then rejected: theirs to see
    login(world.partner)
    for path in ("/referrals/?status=closed", "/referrals/?status=all", "/"):
        page = client.get(path).text
        assert str(draft) not in page, path
    assert str(world.inbox_referral) in client.get("/referrals/?status=closed").text
    assert client.get(f"/referrals/{draft}").status_code == 404
    assert client.get(f"/referrals/{world.inbox_referral}").status_code == 200


def test_an_empty_filter_says_so_with_a_way_back(app, client, login, world):
    login(world.partner)
    page = client.get("/referrals/?status=waiting")
    assert page.status_code == 200
    assert "Niets past bij deze filters." in text_of(page)
    assert 'href="/referrals/">Filters wissen</a>' in page.text


@pytest.mark.parametrize("query", [
    "?status=nonsense", "?waiting=abc", "?waiting=-3", "?service=not-a-uuid",
    "?service=00000000-0000-0000-0000-000000000000", "?sort=%27%3Bdrop", "?page=abc",
    "?page=-1", "?page=99999999999999", "?status=open&status=closed",
    "?status=%00", "?waiting=1e9",
])
@pytest.mark.parametrize("who", ["owner", "partner", "bridge", "coordinator"])
def test_a_bad_filter_is_ignored_with_a_word_never_a_500(app, client, login, world, who,
                                                        query):
    accompany(app, world)
    login(getattr(world, who))
    path = "/referrals/stuck" if who == "coordinator" else "/referrals/"
    response = client.get(f"{path}{query}")
    assert response.status_code == 200, response.status_code
    if ("status=nonsense" in query and who != "coordinator") or (
            "waiting=abc" in query and who == "partner"):
        assert "Niet begrepen, dus niet gebruikt:" in text_of(response)


def test_page_links_keep_the_filters(app, client, login, world, make_service, monkeypatch):
    from referral.referrals import queries

    monkeypatch.setattr(queries, "LIST_SIZE", 1)
    other = make_service("Kerstpakket", organisation="Voedselbank", referral_route="inbox")
    another_family(app, world, "Anna de Vries", other)
    another_family(app, world, "Bram Bakker", other)
    login(world.partner)
    first = client.get(f"/referrals/?service={other}&sort=newest")
    assert "Pagina 1 van 2" in text_of(first)
    [link] = re.findall(r'href="(/referrals/\?[^"]*page=2[^"]*)"', first.text)
    assert f"service={other}" in link and "sort=newest" in link
    second = text_of(client.get(link.replace("&amp;", "&")))
    assert "Pagina 2 van 2" in second and "Zeynep" not in second



def _families_in_order(client, path):
    """Every row's family (or, without consent, its reference) of a list, page after page."""
    names, page = [], 1
    while True:
        html = client.get(f"{path}&page={page}").text
        names += re.findall(r">(Fam \w|Zeynep Yilmaz|Verwijzing \w+)</a>", html)
        pages = re.search(r"Pagina \d+ van (\d+)", html)
        if pages is None or page >= int(pages.group(1)):
            return names
        page += 1


@pytest.mark.parametrize("who,sorts", [
    ("partner", ("urgency", "waiting", "newest")),
    ("owner", ("due", "newest", "oldest", "service")),
])
def test_a_long_list_pages_through_every_row_once_in_its_order(
        app, client, login, world, make_service, monkeypatch, who, sorts):
    """A page is chosen on the referrals' own columns first, and the wide columns (family,
    referrer, the consent each row's name needs) are read for its rows only: page after page
    shows the same rows in the same order as one long page, each once, names as consented.
    Six families of four urgencies, sent on six days."""
    from referral.referrals import queries

    other = make_service("Kerstpakket", organisation="Voedselbank", referral_route="inbox")
    for number, urgency in enumerate(("normal", "urgent", "soon", "normal", "urgent", "soon")):
        made = another_family(app, world, f"Fam {'ABCDEF'[number]}", other, urgency=urgency)
        age(app, made, number * 2)
    with app.app_context():  # the first family's consent to the inbox's organisation ends
        session = db.session()
        withdraw_consent(session.get(User, world.owner.id), session.exec(select(Consent).where(
            Consent.family_id == world.family_id,
            Consent.organisation_id == session.get(Service, other).organisation_id)).one())
        db.commit()
    login(world.partner if who == "partner" else world.owner)
    for sort in sorts:
        path = f"/referrals/?sort={sort}"
        monkeypatch.setattr(queries, "LIST_SIZE", 100)
        whole = _families_in_order(client, path)
        fams = sorted(name for name in whole if name.startswith("Fam"))
        assert fams == ["Fam A", "Fam B", "Fam C", "Fam D", "Fam E", "Fam F"]
        # The first family's row is there; to the partner, without its name.
        assert ("Zeynep Yilmaz" in whole) is (who == "owner")
        assert any(name.startswith("Verwijzing") for name in whole) is (who == "partner")
        monkeypatch.setattr(queries, "LIST_SIZE", 2)
        assert _families_in_order(client, path) == whole, sort
        assert f"{len(whole)} verwijzingen" in text_of(client.get(f"{path}&page=2")) or \
            who == "owner"
        last = text_of(client.get(f"{path}&page=99"))  # past the end: the last page
        pages = -(-len(whole) // 2)
        assert f"Pagina {pages} van {pages}" in last


# --- the bridge worker's list --------------------------------------------------------------

def test_the_bridge_workers_list_names_the_family_as_its_consent_allows(app, client, login,
                                                                        world):
    accompany(app, world)
    age(app, world.inbox_referral, 3)
    login(world.bridge)
    page = text_of(client.get("/referrals/"))
    for shown in ("Zeynep Yilmaz", "Amsterdam", "Voedselpakket", "Voedselbank",
                  name_of(app, world.owner), "JGZ Noord", "3 dagen", "aangevraagd"):
        assert shown in page, shown
    close(app, world, world.inbox_referral)
    assert "Zeynep" not in text_of(client.get("/referrals/"))  # open ones by default
    closed = text_of(client.get("/referrals/?status=closed"))
    assert "Zeynep Yilmaz" in closed and "binnenkort" not in closed


# --- my referrals --------------------------------------------------------------------------

def test_my_referrals_filter_by_status_overdue_service_organisation_and_period(
        app, client, login, world, make_service):
    other = make_service("Kerstpakket", organisation="Jeugdfonds", referral_route="inbox")
    another_family(app, world, "Anna de Vries", other)
    age(app, world.letter_referral, 60)  # sent two months ago, and overdue
    login(world.owner)

    def families(query=""):
        return sorted(set(re.findall(r"(Zeynep Yilmaz|Anna de Vries)", text_of(
            client.get(f"/referrals/{query}")))))

    def services(query=""):
        body = text_of(client.get(f"/referrals/{query}")).split("Verstuurd", 2)[-1]
        return sorted(set(re.findall(r"(Voedselpakket|Schoolspullen|Kerstpakket)", body)))

    assert services() == ["Kerstpakket", "Schoolspullen", "Voedselpakket"]
    assert services("?overdue=y") == ["Schoolspullen"]
    assert services(f"?service={world.inbox_service}") == ["Voedselpakket"]
    with app.app_context():
        jeugdfonds = db.session().get(Service, other).organisation_id
    assert families(f"?organisation={jeugdfonds}") == ["Anna de Vries"]
    assert services("?days=30") == ["Kerstpakket", "Voedselpakket"]
    assert services("?days=30&page=99") == ["Kerstpakket", "Voedselpakket"]  # the last page
    close(app, world, world.inbox_referral)
    assert services("?status=closed") == ["Voedselpakket"]
    assert services("?status=requested") == ["Kerstpakket", "Schoolspullen"]
    assert services("?status=open&days=30") == ["Kerstpakket"]


def test_my_referrals_total_their_status_counts_and_page_on_the_referral_alone(
        app, client, login, world, make_service):
    """Filtered by status alone, my referrals' total is the sum of the counts shown above
    the list (not counted again); filtered otherwise, it is counted with the page, from the
    referral alone. Either way the page is chosen on the referral (and the service, sorted
    by its name), and the family, its key and the organisation are read for its rows only.
    The total is what the list holds."""
    other = make_service("Kerstpakket", organisation="Jeugdfonds", referral_route="inbox")
    another_family(app, world, "Anna de Vries", other)
    close(app, world, world.inbox_referral)
    login(world.owner)
    for query, total, counted_with_page in (("", 3, False), ("?status=closed", 1, False),
                                            ("?status=open", 2, False),
                                            (f"?service={other}", 1, True),
                                            ("?overdue=y", 0, True),
                                            ("?sort=service", 3, False)):
        [listed] = _list_statement(app, client, query, total, "JOIN family ")
        assert ("count(*)" in listed) is counted_with_page, query
        chosen = listed.split("LIMIT", 1)[0].rsplit("(SELECT referral.id", 1)[1]
        assert "family" not in chosen and "organisation" not in chosen, query
        assert ("JOIN service" in chosen) is ("sort=service" in query), query


def test_my_referrals_label_every_cell_for_a_phone(client, login, world):
    """At 360 px the rows stack: every cell carries its column's name, the follow-up date
    too (it was cut off)."""
    login(world.owner)
    html = client.get("/referrals/").text
    cells = re.findall(r"<td( [^>]*)?>", html)
    assert cells and all('data-label="' in (attributes or "") for attributes in cells)
    assert 'data-label="Opvolgen op"' in html


# --- the coordinator's stuck list ----------------------------------------------------------

def test_the_stuck_list_filters_by_partner_organisation_and_status(app, client, login, world):
    for referral_id in (world.inbox_referral, world.letter_referral):
        age(app, referral_id, 60)
    login(world.coordinator)
    both = text_of(client.get("/referrals/stuck"))
    assert "Voedselpakket" in both and "Schoolspullen" in both
    with app.app_context():
        voedselbank = db.session().get(Service, world.inbox_service).organisation_id
    one = text_of(client.get(f"/referrals/stuck?organisation={voedselbank}"))
    assert "Voedselpakket" in one and "Schoolspullen" not in one
    assert "Niets past bij deze filters." in text_of(
        client.get("/referrals/stuck?status=on-hold"))
    longest = text_of(client.get("/referrals/stuck?sort=longest"))
    assert "Langst te laat eerst" in longest and "Voedselbank" in longest


@pytest.mark.parametrize("who, query, written", [
    ("owner", "?status=open", "'requested'"), ("owner", "?status=closed&sort=newest", "'rejected'"),
    ("partner", "", "'requested'"), ("partner", "?status=closed&service=x", "'rejected'"),
    ("bridge", "", "'requested'"), ("bridge", "?status=closed", "'rejected'")])
def test_a_lists_status_filter_is_written_into_its_kept_statement(app, client, login, world,
                                                                  who, query, written):
    """A status filter's statuses are the code's words: written into the list's kept
    statement, which runs as it was prepared, not finished again on every run with a list
    parameter's values (db.one_of)."""
    if who == "bridge":
        accompany(app, world)
    login(getattr(world, who))
    client.get(f"/referrals/{query}")
    with counted_queries(app) as statements:
        assert client.get(f"/referrals/{query}").status_code == 200
    [listed] = [s for s in statements if "LIMIT" in s and "FROM referral" in s]
    assert written in listed, query
    with app.app_context():
        [plan] = [p for (_, dialect), p in db._plans.items()
                  if p.sql == listed and dialect == db.engine().dialect.name]
    assert not plan.finished_per_run


# --- statements stay the same as the lists grow --------------------------------------------

LISTS = {
    "owner": ["/referrals/", "/referrals/?status=open&overdue=y&days=365&sort=service"],
    "partner": ["/referrals/", "/referrals/?status=all&waiting=3&sort=waiting"],
    "bridge": ["/referrals/", "/referrals/?status=all&sort=urgency"],
    "coordinator": ["/referrals/stuck", "/referrals/stuck?sort=longest&status=requested"],
}


def test_the_lists_read_the_same_statements_as_they_grow(app, client, login, world):
    accompany(app, world)

    def measure():
        with app.app_context():
            for referral in db.session().exec(select(Referral)).all():
                referral.follow_up_on = date.today() - timedelta(days=400)
                referral.bridge_id = world.bridge.id
            db.commit()
        counts = {}
        for who, paths in LISTS.items():
            login(getattr(world, who))
            for path in paths:
                with counted_queries(app) as statements:
                    assert client.get(path).status_code == 200
                counts[(who, path)] = len(statements)
        return counts

    few = measure()
    for n in range(4):
        another_family(app, world, f"Gezin {n}", world.inbox_service)
        another_family(app, world, f"Brief {n}", world.letter_service)
    assert measure() == few


def test_a_lists_filters_are_drawn_once_for_their_values_and_choices(
        app, client, login, world, make_service, monkeypatch):
    """The filter form above a list is the same for everyone who chose the same filters
    from the same choices: drawn once for them, and again when any of them changes."""
    from referral import web
    from referral.kept import store_of

    login(world.owner)

    def filters(query=""):
        html = client.get(f"/referrals/{query}").text
        return re.search(r'<form method="get"[^>]*class="filters".*?</form>', html, re.S).group(0)

    kept = store_of(app, "blocks")
    first = filters("?status=requested")
    assert filters("?status=requested") == first and len(kept) == 1
    assert re.search(r'<option[^>]*selected[^>]*value="requested"|'
                     r'<option[^>]*value="requested"[^>]*selected', first)
    closed = filters("?status=closed")
    assert closed != first and len(kept) == 2
    assert "Voedselpakket" in first
    with app.app_context():
        db.session().get(Service, world.inbox_service).name = "Voedselpakket plus"
        db.commit()
    assert "Voedselpakket plus" in filters("?status=requested")  # a choice's label changed
    assert "Niet begrepen, dus niet gebruikt" in filters("?status=nonsense")
    post_form(client, "/language", {"language": "en", "next": "/"}, page="/")
    assert "Sort by" in filters("?status=requested")
    monkeypatch.setattr(web, "KEPT_BLOCKS", 2)
    for days in ("7", "30", "90"):
        filters(f"?days={days}")
        assert len(kept) <= 2
