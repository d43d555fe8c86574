"""A small data set, counted by hand, appears exactly in the page and in the export; small
numbers never do; everyone who may see the monitor sees the same figures."""

import csv
import io
import re
from datetime import date

import pytest
from sqlmodel import select

from referral import db
from referral.auth.models import User
from referral.cases.models import Family
from referral.feedback import operations as feedback
from referral.referrals.models import Referral
from referral.referrals.operations import assign_bridge, decide_bridge
from tests.conftest import count_queries, post_form
from tests.monitor.conftest import YEAR, build, table_of


def test_hand_counted_figures_appear_exactly(client, login, alliance):
    login(alliance["coordinator"])
    html = client.get(f"/monitor/?year={YEAR}").text
    assert table_of(html, "signals_source") == {
        "een gesprek": ["10"], "iets wat ik zag": ["6"], "het gezin vroeg om hulp": ["5"],
        "Totaal": ["21"]}
    domains = table_of(html, "signals_domain")
    # food 11, money 6, housing 8, seven domains 0. A signal names one domain or more, so the
    # domains have no total to subtract from: only the small ones are hidden.
    assert domains["Voeding"] == ["11"] and domains["Wonen"] == ["8"]
    assert domains["Geld en schulden"] == ["6"] and domains["Kleding"] == ["•"]
    assert "Totaal" not in domains
    statuses = table_of(html, "referrals_status")
    assert statuses["aangevraagd"] == ["6"] and statuses["afgerond"] == ["6"]
    # Three rejected, hidden, and the five accepted with them: else 20 - 6 - 6 - 5 = 3.
    assert statuses["afgewezen"] == ["•"] and statuses["aangenomen"] == ["•"]
    assert statuses["Totaal"] == ["20"]
    # The reasons add up the rejected and failed ones, hidden above: hidden too, no total.
    reasons = table_of(html, "reasons")
    assert set(map(tuple, reasons.values())) == {("•",)} and "Totaal" not in reasons
    # All six completed met the need: shown, that would say so of each of them.
    outcomes = table_of(html, "outcomes")
    assert outcomes["hulpvraag beantwoord"] == ["•"] and outcomes["Totaal"] == ["6"]
    assert table_of(html, "referrals_organisation") == {
        "Voedselbank": ["12"], "Jeugdfonds": ["8"], "Totaal": ["20"]}
    key = table_of(html, "key")
    assert key["Gezinnen bereikt"] == ["21"]
    assert key["Afgerond met de hulpvraag beantwoord"] == ["•"]  # 6 of 6: none failed
    assert table_of(html, "age_bands")["4-11"] == ["•"]  # the other bands are 0: all hidden
    assert table_of(html, "age_bands")["Totaal"] == ["21"]
    assert table_of(html, "municipalities") == {"Amsterdam": ["21", "21", "20"]}
    matrix = table_of(html, "matrix")
    assert matrix["Voeding"] == ["10", "•"] and matrix["Wonen"] == ["•", "8"]
    assert "Gezin 3" not in html and "gezien" not in html and "graag" not in html


def test_a_country_of_organisations_shows_the_largest_and_adds_up_the_rest(
        client, login, alliance, monkeypatch):
    from referral.monitor import queries

    monkeypatch.setattr(queries, "LARGEST", 1)
    login(alliance["coordinator"])
    html = client.get(f"/monitor/?year={YEAR}").text
    assert table_of(html, "referrals_organisation") == {
        "Voedselbank": ["12"], "Alle andere": ["8"], "Totaal": ["20"]}
    matrix = re.search(r'aria-labelledby="matrix-heading">(.*?)</section>', html, re.S).group(1)
    assert "Alle andere" in matrix and "Jeugdfonds" not in matrix


def test_the_export_has_the_same_figures(client, login, alliance, runner, tmp_path):
    login(alliance["coordinator"])
    response = client.get(f"/monitor/export.csv?year={YEAR}")
    assert response.headers["Content-Disposition"].startswith("attachment")
    rows = list(csv.reader(io.StringIO(response.text)))
    assert ["Signalen per bron", "een gesprek", "Signalen", "10"] in rows
    assert ["Verwijzingen per status", "afgewezen", "Verwijzingen", "•"] in rows
    assert ["Verwijzingen per status", "total", "", "20"] in rows
    out = tmp_path / "monitor.csv"
    result = runner.invoke(args=["monitor", "export", "--year", str(YEAR), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert list(csv.reader(io.StringIO(out.read_text()))) == rows


def test_a_partner_sees_the_same_figures_as_the_coordinator(client, login, alliance):
    """One set of figures per year: a partner's own view beside the alliance's would let
    the two be subtracted (its own referrals it sees one by one in its inbox)."""
    login(alliance["coordinator"])
    theirs = client.get(f"/monitor/?year={YEAR}").text
    login(alliance["sport"])
    mine = client.get(f"/monitor/?year={YEAR}").text
    for key in ("referrals_organisation", "referrals_status", "matrix", "targets"):
        assert table_of(mine, key) == table_of(theirs, key)
    filtered = client.get(f"/monitor/?year={YEAR}&municipality=GM0363").text  # an old link

    def figures(html):
        return re.findall(r'<section class="figure".*?</section>', html, re.S)

    assert figures(filtered) == figures(mine)


def test_no_filter_shows_a_number_under_five(client, login, alliance):
    login(alliance["coordinator"])
    for query in (f"year={YEAR}", f"year={YEAR - 1}", "year=1999", "year=abc"):
        html = client.get(f"/monitor/?{query}").text
        numbers = re.findall(r"<td[^>]*>(\d+)</td>", html)
        assert all(int(n) >= 5 for n in numbers), query
        svg_numbers = re.findall(r">(\d+)</text>", html)
        assert all(int(n) >= 5 or n == "0" for n in svg_numbers), query  # "0" is an axis


def test_spreadsheet_formulas_are_neutralised():
    from referral.monitor.export import safe

    assert safe("=HYPERLINK(1)") == "'=HYPERLINK(1)" and safe("@x") == "'@x"
    assert safe("+1") == "'+1" and safe("-1") == "'-1" and safe("Voeding") == "Voeding"


@pytest.mark.parametrize("role", ["professional", "bridge", "privacy_officer"])
def test_others_have_no_monitor(client, login, make_user, role):
    login(make_user(role))
    assert client.get("/monitor/").status_code == 403
    assert client.get("/monitor/export.csv").status_code == 403


def test_feedback_scores_from_five_answers(app, client, login, alliance):
    def answer(n, score):
        with app.app_context():
            session = db.session()
            owner = session.get(User, alliance["owner"].id)
            family = session.exec(select(Family)).first()
            for _ in range(n):
                invitation, _token = feedback.invite(owner, family)
                feedback.submit(invitation, language="nl", scores={"heard": score}, texts={})
            db.commit()

    answer(4, 4)
    login(alliance["coordinator"])
    rows = table_of(client.get(f"/monitor/?year={YEAR}").text, "feedback")
    # A mean of too few answers says so: "< 5" would read as a score under five.
    assert rows["voelde zich gehoord"] == ["te weinig antwoorden", "te weinig antwoorden"]
    answer(1, 5)
    html = client.get(f"/monitor/?year={YEAR}").text
    assert table_of(html, "feedback")["voelde zich gehoord"] == ["4.2", "te weinig antwoorden"]
    month = f"{YEAR}-{date.today().month:02d}"
    assert table_of(html, "feedback_trend")[month] == ["4.2"]  # five answers this month
    earlier = table_of(html, "feedback_trend")[f"{YEAR - 1}-01"]
    assert earlier == ["te weinig antwoorden"]
    rows = list(csv.reader(io.StringIO(client.get(f"/monitor/export.csv?year={YEAR}").text)))
    assert ["Feedbackscores (1 tot 5)", "voelde zich gehoord", "Kinderen",
            "te weinig antwoorden"] in rows
    post_form(client, "/language", {"language": "en", "next": "/"}, page="/")
    english = table_of(client.get(f"/monitor/?year={YEAR}").text, "feedback")
    assert english["felt heard"] == ["4.2", "too few answers"]


def test_queries_per_dashboard_do_not_grow(app, client, login, alliance, make_service,
                                           make_user):
    login(alliance["coordinator"])
    few = count_queries(app, client, f"/monitor/?year={YEAR}")
    services, partners = {}, {}
    for n in range(3):  # more organisations, services, partners and referrals
        name = f"Extra {n}"
        services[name] = make_service(name, organisation=f"Organisatie {n}",
                                      referral_route="inbox")
        partners[name] = make_user("partner", organisation=f"Organisatie {n}").id
    build(app, alliance["owner"].id, partners, services,
           [("observation", ["clothing"], f"Extra {n % 3}", "completed") for n in range(9)])
    login(alliance["coordinator"])
    assert count_queries(app, client, f"/monitor/?year={YEAR}") == few


def test_printable_report_has_the_same_figures(client, login, alliance):
    login(alliance["coordinator"])
    report = client.get(f"/monitor/report?year={YEAR}").text
    assert "Monitorrapport" in report and "<svg" in report
    assert table_of(report, "signals_source") == table_of(
        client.get(f"/monitor/?year={YEAR}").text, "signals_source")


def test_bridge_workers_count_when_they_accompany_a_family(app, client, login, alliance,
                                                           make_user):
    """Eight bridge workers are new; six accompany a referral of this year, one was asked
    and has not answered (not counted), one was never asked."""
    bridges = [make_user("bridge", organisation="Alliantie").id for _ in range(8)]
    with app.app_context():
        session = db.session()
        owner = session.get(User, alliance["owner"].id)
        referrals = session.exec(select(Referral).order_by(Referral.created_at)).all()
        for n, (referral, bridge) in enumerate(zip(referrals, bridges[:7], strict=False)):
            assign_bridge(owner, referral, session.get(User, bridge), family_agreed=True)
            if n < 6:
                decide_bridge(session.get(User, bridge), referral, accept=True)
        db.commit()
    login(alliance["coordinator"])
    targets = table_of(client.get(f"/monitor/?year={YEAR}").text, "targets")
    assert targets["Brugfunctionarissen die dit jaar een gezin begeleidden"] == ["6"]
    assert targets["Nieuwe brugfunctionarissen in de laatste drie jaar (doel: 100)"] == ["8"]
