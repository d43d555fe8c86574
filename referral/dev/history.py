"""Two years of history in Voorbeeldstad for the demo: enough families, referrals and
answers that every figure of the monitor shows a number instead of "< 5".

The families belong to generated professionals of the demo's own JGZ and school, and are
referred to the demo directory's services in Voorbeeldstad; the partners' steps are taken by
generated staff of those organisations. The scale generator (scale.py) writes them, with its
row builders and its story of each referral; this module only chooses the place and the
people. The generated accounts cannot log in (like the scale's): use the demo logins.
"""

import random
import secrets
from datetime import timedelta

from sqlmodel import select

from referral.auth.credentials import hash_password
from referral.auth.models import Role
from referral.auth.operations import new_user
from referral.auth.queries import find_user
from referral.dev import scale
from referral.dev.directory_data import VOORBEELDSTAD
from referral.directory.models import (
    Organisation,
    Service,
    ServiceArea,
    ServiceDomain,
    ServiceStatus,
)

FAMILIES = 150  # over two years: about 30 referrals a month in the current year
PROFESSIONALS = 10
BRIDGES = 6
MAIL_DOMAIN = "voorbeeldstad.demo.example"
SEED = 15
FEEDBACK_SHARE = .9  # of the completed referrals get a feedback invitation


def _email(role, number):
    return f"{role.replace('_', '-')}-{number:03d}@{MAIL_DOMAIN}"


def is_loaded():
    return find_user(_email(Role.professional, 1)) is not None


class _History(scale._Generator):
    """The scale generator, confined to Voorbeeldstad and the demo's organisations."""

    def __init__(self, password_hash):
        super().__init__(0, None)
        # A seed of its own: with the scale generator's, the ids it draws would be the ones
        # `demo load --scale` draws next.
        self.rng = random.Random(SEED)  # nosec B311  (fictional data, repeatable on purpose)
        self.feedback_share = FEEDBACK_SHARE
        self.password_hash = password_hash
        self.places = [VOORBEELDSTAD]
        self._directory()
        self._people()

    def _directory(self):
        """The demo's active services in Voorbeeldstad, by need domain."""
        code = VOORBEELDSTAD[0]
        rows = self.session.exec(
            select(Service.id, Service.organisation_id, Service.referral_route,
                   ServiceDomain.domain_code)
            .join(ServiceArea, ServiceArea.service_id == Service.id)
            .join(ServiceDomain, ServiceDomain.service_id == Service.id)
            .where(ServiceArea.municipality_code == code,
                   Service.status == ServiceStatus.active)
            .order_by(Service.id, ServiceDomain.domain_code)).all()
        self.by_place = {}
        for service_id, organisation_id, route, domain in rows:
            entry = (service_id, organisation_id, route == "inbox")
            self.by_place.setdefault((code, domain), []).append(entry)
            if entry not in self.by_place.setdefault((code, None), []):
                self.by_place[(code, None)].append(entry)

    def _account(self, role, number, organisation_id=None, trained_on=None):
        rng = self.rng
        user = new_user(id=self.uid(), email=_email(role, number), role=role,
                        password_hash=self.password_hash, organisation_id=organisation_id,
                        name=f"{rng.choice(scale.ADULT_NAMES)} {rng.choice(scale.LAST_NAMES)} "
                             "(demo)",
                        trained_on=trained_on,
                        created_at=self.now - timedelta(days=rng.uniform(30, 900)))
        self.add(user)
        return user.id

    def _people(self):
        """Professionals of the demo JGZ and school, staff for each partner organisation
        that has an inbox here, and bridge workers."""
        names = ["JGZ Voorbeeldstad (demo)", "Basisschool De Regenboog (demo)"]
        homes = [self.session.exec(select(Organisation.id).where(Organisation.name == name))
                 .one() for name in names]
        self.professionals = []
        for n in range(1, PROFESSIONALS + 1):
            organisation_id = homes[n % 2]
            trained = self.today - timedelta(days=self.rng.randint(10, 900))
            self.professionals.append((self._account(Role.professional, n, organisation_id,
                                                     trained), organisation_id,
                                       VOORBEELDSTAD[0]))
        inboxes = sorted({entry[1] for entries in self.by_place.values()
                          for entry in entries if entry[2]})
        self.partners = {organisation_id: [self._account(Role.partner, n, organisation_id)]
                         for n, organisation_id in enumerate(inboxes, start=1)}
        self.bridges = [self._account(Role.bridge, n) for n in range(1, BRIDGES + 1)]

    def run(self, families):
        for _ in range(families):
            self.family(*self.rng.choice(self.professionals))
        self.write()
        return self.made


def load(families=FAMILIES):
    """Add the history once (the demo's directory and accounts must be there)."""
    if is_loaded():
        return {}
    # One hash for every generated account, of a password nobody keeps.
    return _History(hash_password(secrets.token_urlsafe(24))).run(families)
