import uuid
from datetime import date, timedelta

import pytest

UTRECHT = ("GM0344", "Utrecht")


@pytest.fixture
def directory(make_service):
    """A small directory with one service of each kind the search must tell apart."""
    return {
        "breakfast": make_service("Schoolontbijt", domains=["food", "school_costs"],
                                  minimum_age=4, maximum_age=12, phone="010-1"),
        "cafe": make_service("Kookcafé", description="Samen koken in het café.",
                             organisation="Buurthuis Noël", phone="010-2"),
        "sport": make_service("Sportfonds", domains=["sport_culture"], areas=[UTRECHT],
                              minimum_age=4, maximum_age=18, organisation="Jeugdfonds",
                              referral_route="inbox"),
        "closed": make_service("Zomerkamp", domains=["sport_culture"], capacity="closed",
                               organisation="Jeugdfonds", referral_route="inbox"),
        "inactive": make_service("Oude voedselhulp", status="inactive", phone="010-3"),
        "stale": make_service("Kledingbank", domains=["clothing"], areas=[],
                              checked=date.today() - timedelta(days=400)),
    }


def service_ids(page_text):
    import re

    return {uuid.UUID(m) for m in re.findall(r'id="service-([0-9a-f-]{36})"', page_text)}
