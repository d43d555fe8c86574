"""A small alliance with a data set counted by hand, for the monitor's tests."""

import re
import uuid
from datetime import date

import pytest

from referral import db
from referral.auth.models import User
from referral.cases.operations import create_family, log_signal, record_consent
from referral.directory.models import Service
from referral.referrals.operations import change_status, refer
from referral.referrals.queries import default_follow_up

YEAR = date.today().year
# source, need domains, service, what happens: 21 signals, 20 referrals.
PLAN = (
    [("conversation", ["food"], "Voedselpakket", "completed")] * 6
    + [("conversation", ["food", "money"], "Voedselpakket", "requested")] * 4
    + [("observation", ["money"], "Voedselpakket", "requested")] * 2
    + [("observation", ["housing"], "Sportfonds", "accepted")] * 4
    + [("family_asked", ["housing"], "Sportfonds", "accepted")]
    + [("family_asked", ["housing"], "Sportfonds", "rejected")] * 3
    + [("family_asked", ["food"], None, None)]
)


@pytest.fixture
def alliance(app, make_user, make_service):
    owner = make_user("professional", organisation="JGZ")
    food_partner = make_user("partner", organisation="Voedselbank")
    sport_partner = make_user("partner", organisation="Jeugdfonds")
    coordinator = make_user("coordinator", organisation="Alliantie")
    services = {"Voedselpakket": make_service("Voedselpakket", organisation="Voedselbank",
                                              referral_route="inbox"),
                "Sportfonds": make_service("Sportfonds", organisation="Jeugdfonds",
                                           referral_route="inbox")}
    build(app, owner.id, {"Voedselpakket": food_partner.id, "Sportfonds": sport_partner.id},
           services, PLAN)
    return {"coordinator": coordinator, "food": food_partner, "sport": sport_partner,
            "owner": owner}


def build(app, owner_id, partner_ids, services, plan, municipality="GM0363"):
    """Families, signals and referrals as the plan says, through the services layer."""
    with app.app_context():
        session = db.session()
        nurse = session.get(User, owner_id)
        partners = {name: session.get(User, pid) for name, pid in partner_ids.items()}
        for n, (source, domains, service_name, status) in enumerate(plan):
            family = create_family(nurse, parent_names=f"Gezin {n}", municipality_code=municipality,
                                   children=[(f"Kind {n}", date(YEAR - 7, 1, 1 + n % 28))])
            signal = log_signal(nurse, family, domains=domains, source=source,
                                observations="gezien")
            if service_name is None:
                continue
            referral = refer_with_consent(nurse, family, signal,
                                          session.get(Service, services[service_name]))
            partner = partners[service_name]
            if status in ("accepted", "completed"):
                change_status(partner, referral, "accepted")
            if status == "completed":
                change_status(partner, referral, "in-progress")
                change_status(partner, referral, "completed", outcome="need_met")
            if status == "rejected":
                change_status(partner, referral, "rejected", reason="vol")
        db.commit()


def refer_with_consent(nurse, family, signal, service):
    """The family agrees to the service's organisation, and the nurse refers the signal."""
    record_consent(nurse, family, organisation_id=service.organisation_id, given_by="ouder",
                   scope="alles", method="spoken", given_on=date.today(), parent_agreed=True)
    [referral] = refer(nurse, family, signal, [service], message="graag",
                       follow_up_on=default_follow_up(), send=True,
                       form_token=str(uuid.uuid4()))
    return referral


def table_of(html, key):
    """The rows of one figure's table on the page: {row label: [cells]}."""
    section = re.search(rf'<section class="figure" aria-labelledby="{key}-heading">(.*?)'
                        r"</section>", html, re.S).group(1)
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", section, re.S):
        head = re.search(r'<th scope="row">(.*?)</th>', row, re.S)
        if head:
            rows[head.group(1).strip()] = [c.strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row,
                                                                          re.S)]
    return rows
