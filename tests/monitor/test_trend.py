"""The monthly trend counts the chosen year too: referrals made in December show in
December, on the page and in the export. (Six more in November: with every other month
empty, December alone would be hidden as "•", so that the year's total minus December
does not tell that the other months are empty; see suppression.py.)"""

import csv
import io
from datetime import UTC, datetime

from sqlalchemy import update
from sqlmodel import select

from referral import db
from referral.cases.models import Signal
from referral.referrals.models import Referral
from tests.monitor.conftest import YEAR, build, table_of

FIFTEEN = [("conversation", ["food"], "Voedselpakket", "requested")] * 15


def test_referrals_made_in_december_show_in_the_chosen_years_december(
        app, client, login, make_user, make_service):
    nurse = make_user("professional", organisation="JGZ")
    partner = make_user("partner", organisation="Voedselbank")
    coordinator = make_user("coordinator", organisation="Alliantie")
    service = make_service("Voedselpakket", organisation="Voedselbank", referral_route="inbox")
    build(app, nurse.id, {"Voedselpakket": partner.id}, {"Voedselpakket": service}, FIFTEEN)
    with app.app_context():
        session = db.session()
        referrals = session.exec(select(Referral).order_by(Referral.created_at)).all()
        for n, referral in enumerate(referrals):
            when = datetime(YEAR, 12 if n < 9 else 11, 2, 13, 5, tzinfo=UTC)
            session.exec(update(Referral).where(Referral.id == referral.id).values(
                created_at=when, requested_at=when))
            session.exec(update(Signal).where(Signal.id == referral.signal_id).values(
                created_at=when))
        db.commit()

    login(coordinator)
    trend = table_of(client.get(f"/monitor/?year={YEAR}").text, "trend")
    assert trend[f"{YEAR}-12"] == ["9", "9"]  # referrals, signals
    assert trend[f"{YEAR}-11"] == ["•", "•"]  # six: hidden to cover the empty months
    assert trend[f"{YEAR - 1}-12"] == ["•", "•"]  # none a year earlier
    rows = list(csv.reader(io.StringIO(client.get(f"/monitor/export.csv?year={YEAR}").text)))
    assert ["Per maand, over twee jaar", f"{YEAR}-12", "Verwijzingen", "9"] in rows
    assert ["Per maand, over twee jaar", f"{YEAR}-12", "Signalen", "9"] in rows
