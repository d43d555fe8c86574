"""Scaled demo data: a municipality's or the whole country's families, referrals and feedback.

Every row is made by the row builders of the operations (`new_family`, `new_referral`,
`new_user`, ...), so it reads exactly like one the app makes: the same sealed columns bound
to their rows, the same keyed blind indexes and search texts. What this module adds is the
story: an event for every status change the lifecycle allows, at times that follow each
other, and the referral's dates taken from its events. Only the writing is its own: the
built rows go in with bulk inserts, a batch of families per transaction.

A professional's caseload does not grow with the country; the country grows by having more
professionals. So the demo accounts keep a share that does not grow with the scale:
jgz@demo.example works on NURSE_FAMILIES families and the demo food bank receives about
PARTNER_REFERRALS referrals; the rest belongs to generated professionals and organisations.

Generated accounts share one password hash, of a random password that is thrown away at
once: nobody can log in as them. Log in with the demo accounts.
"""

import gc
import random
import secrets
import uuid
from datetime import timedelta
from types import SimpleNamespace

from flask import current_app
from sqlmodel import select

from referral import audit, db
from referral.auth.credentials import hash_password
from referral.auth.models import Role, User
from referral.auth.operations import new_user
from referral.auth.queries import find_user
from referral.cases.models import Child, Consent, Family, Signal, SignalDomain
from referral.cases.operations import (
    new_child,
    new_consent,
    new_family,
    new_signal,
    new_signal_domains,
)
from referral.dev.directory_data import DORPENLAND, VOORBEELDSTAD
from referral.directory.models import (
    NeedDomain,
    Organisation,
    Service,
    ServiceArea,
    ServiceDomain,
    ServiceLanguage,
    ServiceStatus,
)
from referral.directory.operations import new_organisation, new_service, new_service_links
from referral.feedback.models import FeedbackForm, FeedbackInvite, FeedbackResponse
from referral.feedback.operations import new_invitation, new_response
from referral.feedback.queries import form_for
from referral.referrals.models import (
    CLOSED,
    REASON_LABELS,
    EventKind,
    HandoverAnswer,
    Referral,
    ReferralEvent,
)
from referral.referrals.models import Status as S
from referral.referrals.operations import new_event, new_referral
from referral.referrals.queries import default_follow_up

SCALES = {"municipality": 0.1, "national": 1.0}
NATIONAL = {"families": 100_000, "services": 5_000, "organisations": 1_000,
            "municipalities": 350, "users": 10_000}
NURSE, PARTNER = "jgz@demo.example", "partner@demo.example"
NURSE_FAMILIES, PARTNER_REFERRALS = 40, 100
MAIL_DOMAIN = "scale.demo.example"
BATCH = 1_000  # families per transaction, with their signals, referrals and events
ALREADY = ("Scaled demo data is already loaded; start from an empty database to load it "
           "again.")

PREFIXES = ["Oost", "West", "Noord", "Zuid", "Hoog", "Laag", "Nieuw", "Oud", "Groot", "Klein"]
ROOTS = ["broek", "dam", "dijk", "veen", "wijk", "horst", "hoven", "rade", "zand", "meer",
         "berg", "burg", "hem", "loo", "sloot", "woude", "kerk", "haven", "vliet", "stein",
         "dorp", "wolde", "veld", "beek", "mond", "gracht", "rijp", "naarde", "tuin", "ven",
         "zijl", "bosch", "rode", "lo", "zwaag"]

# name, need domains, description, ages (low, high), income limit (% of the social minimum)
CATALOGUE = {
    "Voedselpakket": (["food"], "Elke week een pakket met boodschappen.", None, 120),
    "Kinderontbijt": (["food", "school_costs"], "Ontbijt op school, zonder aanmelding.",
                      (4, 12), None),
    "Schoolspullen": (["school_costs"], "Vergoeding voor schoolspullen en de schoolreis.",
                      (4, 18), 120),
    "Laptop voor school": (["digital", "school_costs"], "Een laptop in bruikleen.", (10, 18),
                           120),
    "Fiets voor school": (["transport", "school_costs"], "Een fiets voor de weg naar school.",
                          (10, 18), 120),
    "Contributie sportclub": (["sport_culture"], "De contributie en sportkleding betaald.",
                              (4, 18), 120),
    "Muziekles": (["sport_culture"], "Les op een instrument, het instrument te leen.",
                  (6, 18), 120),
    "Zwemles": (["sport_culture"], "Zwemles tot en met diploma B.", (4, 12), 120),
    "Kledingpas": (["clothing"], "Twee keer per jaar gratis kleding uitzoeken.", None, 130),
    "Schoenen voor kinderen": (["clothing"], "Nieuwe schoenen voor elk kind.", (0, 18), 130),
    "Schuldhulpverlening": (["money"], "Samen een plan maken voor de schulden.", None, None),
    "Budgetcoach": (["money", "stress_parenting"], "Een vrijwilliger helpt met de post en het "
                    "budget.", None, None),
    "Formulierenhulp": (["money"], "Hulp bij toeslagen en aanvragen.", None, None),
    "Gezinsondersteuning": (["stress_parenting"], "Een gezinscoach aan huis.", None, None),
    "Woonbegeleiding": (["housing"], "Hulp bij huurachterstand en woningzoeken.", None, None),
    "Huiswerkbegeleiding": (["school_costs"], "Huiswerkklas na school, met vrijwilligers.",
                            (8, 16), None),
    "Computerhulp thuis": (["digital"], "Een digimaatje helpt thuis met computer en "
                           "internet.", None, None),
    "Internet voor gezinnen": (["digital"], "Een jaar internet thuis betaald.", None, 120),
    "Opvoedspreekuur": (["stress_parenting"], "Vragen over opvoeden, zonder afspraak.",
                        (0, 18), None),
    "Oudercursus": (["stress_parenting"], "Acht avonden over opvoeden met weinig geld.",
                    None, None),
    "OV-pas voor jongeren": (["transport"], "Een OV-pas voor school en sport.", (12, 18),
                             120),
    "Bril en tandarts": (["health_costs"], "Vergoeding van bril en tandarts.", (0, 18), 130),
    "Aanvullende verzekering": (["health_costs", "money"], "De aanvullende zorgverzekering "
                                "via de gemeente.", None, 130),
}
KINDS = [
    ("Voedselbank", ["Voedselpakket", "Kinderontbijt"]),
    ("Stichting Leergeld", ["Schoolspullen", "Laptop voor school", "Fiets voor school"]),
    ("Jeugdfonds Sport & Cultuur", ["Contributie sportclub", "Muziekles", "Zwemles"]),
    ("Kledingbank", ["Kledingpas", "Schoenen voor kinderen"]),
    ("Schuldhulp", ["Schuldhulpverlening", "Budgetcoach", "Formulierenhulp"]),
    ("Wijkteam", ["Gezinsondersteuning", "Woonbegeleiding"]),
    ("Huiswerkklas", ["Huiswerkbegeleiding"]),
    ("Digimaatjes", ["Computerhulp thuis", "Internet voor gezinnen"]),
    ("Opvoedpunt", ["Opvoedspreekuur", "Oudercursus"]),
    ("Stichting Vervoer", ["OV-pas voor jongeren"]),
    ("Zorgloket", ["Bril en tandarts", "Aanvullende verzekering"]),
]

FIRST_NAMES = ["Noor", "Daan", "Emma", "Sem", "Julia", "Liam", "Mila", "Lucas", "Sara", "Finn",
               "Yara", "Adam", "Zoë", "Mohamed", "Eva", "Levi", "Fenna", "Milan", "Aya", "Bram",
               "Lina", "Ibrahim", "Tess", "Jayden", "Nina", "Oliwia", "Amir", "Roos", "Sofiia",
               "Elif", "Ravi", "Isa"]
ADULT_NAMES = ["Sanne", "Mark", "Fatima", "Kees", "Anouk", "Mehmet", "Petra", "Youssef",
               "Linda", "Dennis", "Ayşe", "Marieke", "Piotr", "Olena", "Khadija", "Ruud",
               "Esther", "Samir", "Ingrid", "Tom", "Naima", "Bas", "Hatice", "Joyce"]
LAST_NAMES = ["de Vries", "Jansen", "Bakker", "Visser", "Smit", "Yilmaz", "El Amrani",
              "de Boer", "Mulder", "Bos", "Kaya", "Meijer", "Kowalski", "Hendriks", "Dijkstra",
              "Bouali", "van Dijk", "Peters", "Koval", "Demir", "de Jong", "Vermeulen"]
STREETS = ["Voorbeeldlaan", "Dorpsstraat", "Kerkstraat", "Schoolstraat", "Molenweg",
           "Stationsplein", "Lindelaan", "Beukenlaan", "Nieuwstraat", "Julianastraat"]
OBSERVATIONS = ["Komt vaak zonder ontbijt op school.", "Heeft geen gymkleding en schaamt zich.",
                "Kan niet mee op schoolreis, ouders zeggen dat het geld op is.",
                "Moeder vertelt over oplopende schulden en stress.",
                "Kinderen dragen al weken dezelfde kleding.",
                "Geen laptop thuis, huiswerk lukt niet.", "Het gezin woont krap en tijdelijk.",
                "Vader heeft zijn baan verloren; de huur is twee maanden achter.",
                "Zoon wil op voetbal, maar de contributie is te duur."]
STRESS = ["Schulden", "Huurachterstand", "Ziekte in het gezin", "Scheiding", "Werkloosheid"]
STRENGTHS = ["Ouders zoeken zelf hulp.", "Oma helpt veel mee.", "De kinderen gaan graag naar "
             "school.", "Moeder is open over geldzorgen.", "Goed netwerk in de buurt."]
PARENT_WISHES = ["Dat de kinderen gewoon mee kunnen doen.", "Rust in de financiën.",
                 "Een laptop voor school.", "Dat mijn dochter weer op zwemles kan."]
CHILD_WISHES = ["Op voetbal.", "Op dansles.", "Een eigen fiets.", "Mee op kamp."]
MESSAGES = ["Moeder vraagt hulp; bel haar liefst na 15 uur.",
            "Vader is telefonisch goed bereikbaar, ook overdag.",
            "Het gezin spreekt weinig Nederlands; een tolk helpt.",
            "Graag eerst contact met mij voordat u het gezin belt."]
NOTES = ["Gezin gebeld, afspraak gemaakt.", "Nog geen contact gekregen, morgen opnieuw.",
         "Moeder was blij met het gesprek.", "Intake gepland voor volgende week."]
REASONS = ["Het gezin valt buiten de inkomensgrens.", "Er is nu geen plek; wachtlijst.",
           "Het gezin is niet bereikbaar geweest.", "Het gezin wil het toch niet.",
           "Andere hulp past beter."]
WENT_WELL = ["Snel geholpen.", "Vriendelijk en zonder oordeel.", "Fijn dat het zo makkelijk "
             "ging."]
DO_BETTER = ["Het duurde lang voordat er iemand belde.", "Meer uitleg over wat er kan."]
TO_GROWN_UPS = ["Ik vind het leuk op voetbal.", "Dank je wel.", "Ik wil nog een keer."]

SOURCES = [("conversation", 50), ("observation", 35), ("family_asked", 15)]
URGENCIES = [("normal", 70), ("soon", 22), ("urgent", 8)]
LANGUAGES = [("nl", 80), ("en", 5), ("ar", 5), ("tr", 4), ("pl", 3), ("uk", 3)]
OUTCOMES = [("need_met", 60), ("partly_met", 20), ("not_met", 8), ("not_reached", 7),
            ("declined", 5)]
ROUTES = [("inbox", 60), ("phone", 15), ("email", 15), ("letter", 10)]
# The status of a referral by its age: recent ones are open, old ones mostly closed.
FRESH = [(S.draft, 8), (S.requested, 35), (S.accepted, 22), (S.in_progress, 25),
         (S.on_hold, 2), (S.cancelled, 4), (S.rejected, 3), (S.entered_in_error, 1)]
RECENT = [(S.draft, 3), (S.requested, 6), (S.accepted, 6), (S.in_progress, 22),
          (S.on_hold, 5), (S.completed, 32), (S.failed, 5), (S.rejected, 10),
          (S.cancelled, 8), (S.entered_in_error, 3)]
SETTLED = [(S.draft, 1), (S.requested, 1), (S.in_progress, 2), (S.on_hold, 1),
           (S.completed, 64), (S.failed, 8), (S.rejected, 12), (S.cancelled, 9),
           (S.entered_in_error, 2)]
# The status changes that lead to each status, as the lifecycle allows them.
PATHS = {
    S.draft: [],
    S.requested: [S.requested],
    S.accepted: [S.requested, S.accepted],
    S.in_progress: [S.requested, S.accepted, S.in_progress],
    S.on_hold: [S.requested, S.accepted, S.in_progress, S.on_hold],
    S.completed: [S.requested, S.accepted, S.in_progress, S.completed],
    S.failed: [S.requested, S.accepted, S.in_progress, S.failed],
    S.rejected: [S.requested, S.rejected],
    S.cancelled: [S.requested, S.cancelled],
    S.entered_in_error: [S.entered_in_error],
}
DETOUR = [S.requested, S.accepted, S.in_progress, S.on_hold, S.in_progress, S.completed]
PARTNER_STEPS = {S.accepted, S.rejected, S.in_progress, S.on_hold, S.completed, S.failed}
NEEDS_REASON = {S.rejected, S.on_hold, S.failed, S.cancelled}
ROLE_SHARES = [(Role.coordinator, 1 / 1000), (Role.bridge, 4 / 100), (Role.partner, 16 / 100)]
DAY = 86_400
STATUSES = list(S)
REASON_CODES = list(REASON_LABELS)
CAPACITIES = ["open", "open", "open", "open", "waiting_list", "closed"]
CONSENT_METHODS = ["spoken", "spoken", "written", "digital"]
CONSENT_SCOPE = "Naam, telefoonnummer en de vraag om hulp."
# What each feedback form asks: its scores, and its free texts with the answers to draw from.
FORMS = {
    FeedbackForm.parent: (["heard", "useful", "easy", "better"],
                          [("went_well", WENT_WELL), ("do_better", DO_BETTER)]),
    FeedbackForm.child_young: (["heard", "better"], [("to_grown_ups", TO_GROWN_UPS)]),
    FeedbackForm.child_older: (["heard", "better"], [("to_grown_ups", TO_GROWN_UPS)]),
}
# The order of the inserts: parents before children.
TABLES = (Organisation, Service, ServiceArea, ServiceDomain, ServiceLanguage, User, Family,
          Child, Signal, SignalDomain, Consent, Referral, ReferralEvent, FeedbackInvite,
          FeedbackResponse)


def plan(factor):
    """How many of each the factor makes (at least two of each)."""
    return {name: max(2, round(count * factor)) for name, count in NATIONAL.items()}


def generated_email(role, number):
    return f"{role.replace('_', '-')}-{number:05d}@{MAIL_DOMAIN}"


def is_loaded():
    """Whether scaled data is in the database (its first coordinator exists)."""
    return find_user(generated_email(Role.coordinator, 1)) is not None


def _weighted(pairs):
    values, weights = zip(*pairs, strict=True)
    total, cumulative = 0, []
    for weight in weights:
        total += weight
        cumulative.append(total)
    return list(values), cumulative


# --- the bulk path: built rows straight to the driver -------------------------------------

def _model(row):
    """The model of a built row: a model object's class, a value's model (db.new_value)."""
    return getattr(type(row), "model", type(row))


def _columns(row):
    """A built row as the column values of its table (the model set every one of them)."""
    values = vars(row)
    return {column.name: values[column.name] for column in _model(row).__table__.columns}


def _insert(connection, table, rows):
    """Insert column dicts in the session's transaction: COPY on PostgreSQL, one executemany
    on SQLite (the ORM's unit of work per row would take most of the time)."""
    if connection.dialect.name == "postgresql":
        _copy(connection, table, rows)
    else:
        _execute_many(connection, table, rows)


def _copy(connection, table, rows):
    names = list(rows[0])
    columns = ", ".join(f'"{name}"' for name in names)
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor, cursor.copy(
            f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([row[name] for name in names])


def _execute_many(connection, table, rows):
    """One executemany with the dialect's own conversions of each column."""
    # Random ids land all over the indexes: a larger page cache saves most reads.
    connection.exec_driver_sql("PRAGMA cache_size = -400000")
    statement = table.insert().compile(dialect=connection.dialect, column_keys=list(rows[0]))
    convert = [(name, table.c[name].type.bind_processor(connection.dialect))
               for name in statement.positiontup]
    values = [tuple(row[name] if to is None or row[name] is None else to(row[name])
                    for name, to in convert) for row in rows]
    connection.exec_driver_sql(str(statement), values)


def settle(referral, events):
    """The referral's version, dates and outcome, read off its history as the app keeps them."""
    changes = [event for event in events if event.kind == EventKind.status]
    referral.version = 1 + len(changes)
    referral.last_activity_at = max(event.at for event in events)
    for event in changes:
        if event.to_status == S.requested:
            referral.requested_at = event.at
        elif event.to_status == S.accepted:
            referral.accepted_at = event.at
    if changes and changes[-1].to_status in CLOSED:
        referral.closed_at, referral.outcome = changes[-1].at, changes[-1].outcome


class _Generator:
    def __init__(self, factor, progress):
        self.counts = plan(factor)
        self.progress = progress or (lambda n: None)
        # Fictional data, repeatable on purpose: not for secrets.
        self.rng = random.Random(2026)  # nosec B311
        self.session = db.session()
        self.now = db.utcnow()
        self.today = self.now.date()
        self.feedback_days = timedelta(days=current_app.config["FEEDBACK_VALID_DAYS"])
        self.feedback_share = .4  # of the completed referrals get a feedback invitation
        self.rows = {}
        self.made = {}
        self.tables = {name: _weighted(pairs) for name, pairs in (
            ("source", SOURCES), ("urgency", URGENCIES), ("language", LANGUAGES),
            ("outcome", OUTCOMES), ("route", ROUTES), ("fresh", FRESH), ("recent", RECENT),
            ("settled", SETTLED))}
        self.domains = list(self.session.exec(
            select(NeedDomain.code).order_by(NeedDomain.code)).all())

    # --- helpers ---------------------------------------------------------------------------

    def uid(self):
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def pick(self, table):
        values, cumulative = self.tables[table]
        return self.rng.choices(values, cum_weights=cumulative)[0]

    def later(self, moment, most_seconds):
        """A moment after `moment`, at most `most_seconds` later and never in the future."""
        room = max(0.0, (self.now - moment).total_seconds())
        return moment + timedelta(seconds=self.rng.uniform(0.05, 1) * min(room, most_seconds))

    def add(self, *rows):
        """Keep finished rows as their column values until the next write."""
        for row in rows:
            self.rows.setdefault(_model(row), []).append(_columns(row))

    def write(self):
        """Insert what is kept, parents before children, and commit."""
        for model in TABLES:
            rows = self.rows.pop(model, None)
            if rows:
                _insert(self.session.connection(), model.__table__, rows)
                self.made[model.__tablename__] = self.made.get(model.__tablename__, 0) + len(rows)
        db.commit()

    # --- the directory ---------------------------------------------------------------------

    def directory(self):
        """Organisations of every kind in every place, and the services they offer."""
        self.places = self._places()
        self.organisations = [self._organisation(n) for n in range(self.counts["organisations"])]
        self.by_place, offered = {}, {}
        for n in range(self.counts["services"]):
            organisation, home, offers = self.organisations[n % len(self.organisations)]
            taken = offered.setdefault(organisation.id, [])
            taken.append(self._next_offer(offers, taken))
            self.service(organisation, home, taken[-1])
        self.progress(self.counts["services"])
        self.write()

    def _places(self):
        """The municipalities: made-up names, codes from GM8001 on."""
        names = [prefix + root for root in ROOTS for prefix in PREFIXES]
        self.rng.shuffle(names)
        return [(f"GM{8001 + n}", f"{names[n % len(names)]}"
                 f"{'' if n < len(names) else f' {n}'} (demo)")
                for n in range(self.counts["municipalities"])]

    def _organisation(self, n):
        """The n-th organisation, its home municipality and what it offers: the kinds take
        turns, then the places."""
        kind, offers = KINDS[n % len(KINDS)]
        code, place = self.places[(n // len(KINDS)) % len(self.places)]
        town = place.removesuffix(" (demo)")
        name = (f"{kind} {town} (demo)" if n < len(KINDS) * len(self.places) else
                f"{kind} {town} {n} (demo)")
        organisation = new_organisation(id=self.uid(), name=name, phone=f"010-{5600000 + n}",
                                        website=f"https://org{n}.{MAIL_DOMAIN}",
                                        created_at=self.now)
        self.add(organisation)
        return organisation, code, offers

    def _next_offer(self, offers, taken):
        """An organisation offers its own kind first, then something else."""
        if len(taken) < len(offers):
            return offers[len(taken)]
        return self.rng.choice([name for name in CATALOGUE if name not in taken]
                               or list(CATALOGUE))

    def service(self, organisation, home, name):
        """A service of the catalogue, in its home municipality and up to two others."""
        rng = self.rng
        domains, description, ages, income = CATALOGUE[name]
        low, high = ages or (None, None)
        capacity = rng.choice(CAPACITIES)
        service = new_service(
            organisation, id=self.uid(), name=name, description=description,
            status=ServiceStatus.active if rng.random() > .04 else ServiceStatus.inactive,
            capacity=capacity,
            waiting_weeks=rng.randint(2, 12) if capacity == "waiting_list" else None,
            referral_route=self.pick("route"), professional_applies=rng.random() < .4,
            minimum_age=low, maximum_age=high, income_limit_percent=income,
            eligibility_description=(f"Inkomen tot {income}% van het sociaal minimum."
                                     if income else None),
            phone=organisation.phone, url=organisation.website,
            assured_date=self.today - timedelta(days=rng.randint(0, 500)),
            last_modified=self.now)
        codes = sorted({home} | {rng.choice(self.places)[0] for _ in range(rng.randint(0, 2))})
        names = dict(self.places)
        self.add(service, *new_service_links(
            service.id, domains=domains, areas=[(code, names[code]) for code in codes],
            languages=["nl"]))
        if service.status == ServiceStatus.active:
            self._list(service, codes, domains)

    def _list(self, service, codes, domains):
        """Where referrals may find the service: by municipality and need domain."""
        entry = (service.id, service.organisation_id, service.referral_route == "inbox")
        for code in codes:
            for domain in domains:
                self.by_place.setdefault((code, domain), []).append(entry)
            self.by_place.setdefault((code, None), []).append(entry)

    # --- people ----------------------------------------------------------------------------

    def users(self):
        """Accounts in proportion: many professionals, a partner for every organisation,
        some bridge workers, a coordinator per thousand."""
        # One hash for everyone, of a password nobody keeps: generated accounts never log in.
        password_hash = hash_password(secrets.token_urlsafe(24))
        # Professionals work for the youth health care (JGZ) of a municipality.
        self.jgz = [self._jgz(code, place) for code, place in self.places]
        self.professionals, self.partners, self.bridges = [], {}, []
        numbers = self._role_numbers()
        for role, number in numbers.items():
            for n in range(1, number + 1):
                self.user(role, n, password_hash)
        self.progress(self.counts["users"])
        self.write()

    def _role_numbers(self):
        total = self.counts["users"]
        numbers = {role: max(1, round(total * share)) for role, share in ROLE_SHARES}
        numbers[Role.partner] = max(numbers[Role.partner], len(self.organisations))
        numbers[Role.professional] = max(1, total - sum(numbers.values()))
        return numbers

    def _jgz(self, code, place):
        organisation = new_organisation(id=self.uid(), name=f"JGZ {place}", created_at=self.now)
        self.add(organisation)
        return organisation.id, code

    def user(self, role, n, password_hash):
        """The n-th account of this role."""
        rng, user_id = self.rng, self.uid()
        organisation_id, trained_on = self._work(role, n, user_id)
        self.add(new_user(
            id=user_id, email=generated_email(role, n), role=role, password_hash=password_hash,
            name=f"{rng.choice(ADULT_NAMES)} {rng.choice(LAST_NAMES)} (demo)",
            organisation_id=organisation_id, trained_on=trained_on,
            language="en" if rng.random() < .05 else "nl",
            created_at=self.now - timedelta(days=rng.uniform(30, 900))))

    def _work(self, role, n, user_id):
        """Where the account works and when it was trained; noted for families and referrals."""
        if role == Role.partner:
            organisation_id = self.organisations[(n - 1) % len(self.organisations)][0].id
            self.partners.setdefault(organisation_id, []).append(user_id)
            return organisation_id, None
        if role == Role.professional:
            organisation_id, code = self.jgz[(n - 1) % len(self.jgz)]
            # Most took the signal training in the last three years; only they log signals.
            if n == 1 or self.rng.random() < .92:
                self.professionals.append((user_id, organisation_id, code))
                return organisation_id, self.today - timedelta(days=self.rng.randint(10, 1000))
            return organisation_id, None
        if role == Role.bridge:
            self.bridges.append(user_id)
        return None, None

    # --- families and what happens to them -------------------------------------------------

    def families(self):
        """The demo nurse's families first, then the ones referred to the demo food bank,
        then everyone else's; written a batch at a time."""
        nurse, to = find_user(NURSE), self._demo_inbox()
        total = self.counts["families"]
        nurse_families = min(NURSE_FAMILIES, total // 5)
        self.partner_left, self.nurse_referrals = min(PARTNER_REFERRALS, total // 2), 0
        for n in range(total):
            if n < nurse_families:
                self.family(nurse.id, nurse.organisation_id,
                            self.rng.choice([VOORBEELDSTAD[0], DORPENLAND[0]]), nurse=True)
            elif self.partner_left > 0:
                owner, organisation_id, _code = self.rng.choice(self.professionals)
                self.family(owner, organisation_id, VOORBEELDSTAD[0], to=to)
            else:
                self.family(*self._anywhere())
            if (n + 1) % BATCH == 0 or n + 1 == total:
                self.write()
                self.progress((n % BATCH) + 1)

    def _demo_inbox(self):
        """The demo food bank's parcel service, whose inbox the demo partner reads."""
        partner = find_user(PARTNER)
        parcel = self.session.exec(select(Service).where(
            Service.organisation_id == partner.organisation_id,
            Service.referral_route == "inbox")).first()
        self.partners[partner.organisation_id] = [partner.id]
        return parcel.id, partner.organisation_id, True

    def _anywhere(self):
        """Who owns another family, and where it lives: a trained professional's own
        municipality, or now and then another one."""
        owner, organisation_id, code = self.rng.choice(self.professionals)
        if self.rng.random() < .1:
            code = self.rng.choice(self.places)[0]  # a family that moved
        return owner, organisation_id, code

    def family(self, owner, organisation_id, code, *, nurse=False, to=None):
        """A family with its children, and the signals logged about it over time."""
        rng = self.rng
        created = self.now - timedelta(days=rng.uniform(1, 730), seconds=rng.uniform(0, DAY))
        parents = f"{rng.choice(ADULT_NAMES)} {rng.choice(LAST_NAMES)} (demo)"
        family = new_family(organisation_id, owner, id=self.uid(), created_at=created,
                            parent_names=parents, municipality_code=code,
                            language=self.pick("language"), **self._contact())
        self.add(family)
        # The family as its signals, referrals and feedback need it: names and dates of
        # birth in plain text, and the organisations it has consented to so far.
        case = SimpleNamespace(family=family, parents=parents, children=[], consents=set())
        for _ in range(rng.choice([1, 1, 2, 2])):
            case.children.append(self._child(family, created.date()))
        moments = sorted(rng.uniform(0, 1) for _ in range(rng.choice([1, 2, 3, 3, 4, 5])))
        for share in moments:
            self.signal(case, created + (self.now - created) * share * .9, nurse=nurse, to=to)

    def _contact(self):
        """Phone, email and address, each as often as families give them."""
        rng, contact = self.rng, {}
        if rng.random() < .9:
            contact["phone"] = f"06-{rng.randint(10000000, 99999999)}"
        if rng.random() < .4:
            contact["email"] = f"gezin{rng.getrandbits(32)}@{MAIL_DOMAIN}"
        if rng.random() < .85:
            contact.update(street=rng.choice(STREETS), house_number=str(rng.randint(1, 250)),
                           postcode=f"{rng.randint(1000, 9999)} ZZ")
        return contact

    def _child(self, family, today):
        """A child of the family; its id and date of birth, for the feedback forms."""
        first_name = f"{self.rng.choice(FIRST_NAMES)} (demo)"
        born = today - timedelta(days=self.rng.randint(30, 17 * 365))
        child = new_child(family.id, family.organisation_id, id=self.uid(),
                          first_name=first_name, birth_date=born, today=today)
        self.add(child)
        return SimpleNamespace(id=child.id, birth_date=born)

    def signal(self, case, at, *, nurse, to):
        """A signal about the family, and the referrals it led to."""
        rng = self.rng
        signal = new_signal(
            case.family.id, case.family.created_by, id=self.uid(), created_at=at,
            urgency=self.pick("urgency"), source=self.pick("source"),
            observations=rng.choice(OBSERVATIONS), **self._signal_texts())
        domains = rng.sample(self.domains, rng.choice([1, 1, 2, 2, 3]))
        self.add(signal, *new_signal_domains(signal.id, domains))
        form_token = str(self.uid())
        for service in self._services_for(case.family.municipality_code, at, domains, to):
            # The demo nurse has a referral in every status: they take turns.
            status = self._nurse_status() if nurse else None
            self.referral(case, signal, service, form_token, status)

    def _signal_texts(self):
        """What goes well and what the family wants, each as often as professionals write it."""
        texts = {}
        for name, choices, share in (("stress_factors", STRESS, .4),
                                     ("strengths", STRENGTHS, .7),
                                     ("parent_wishes", PARENT_WISHES, .6),
                                     ("child_wishes", CHILD_WISHES, .4)):
            if self.rng.random() < share:
                texts[name] = self.rng.choice(choices)
        return texts

    def _services_for(self, code, at, domains, to):
        """The services a signal is referred to: the demo food bank while it has room, else
        ones near the family for its needs. A signal without a referral is erased after a
        year, so older ones all led somewhere."""
        old = (self.now - at).days > 300
        services = []
        for _ in range(self.rng.choice([1, 1, 2] if old else [0, 1, 1, 1, 2])):
            service = to if to and self.partner_left > 0 else self.choose(code, domains)
            if service in services:
                continue
            if service == to:
                self.partner_left -= 1
            services.append(service)
        return services

    def choose(self, code, domains):
        """A service in the municipality for one of the needs, else any there, else any."""
        for key in [(code, d) for d in domains] + [(code, None)]:
            if key in self.by_place:
                return self.rng.choice(self.by_place[key])
        return self.rng.choice(self.rng.choice(list(self.by_place.values())))

    def _nurse_status(self):
        status = STATUSES[self.nurse_referrals % len(STATUSES)]
        self.nurse_referrals += 1
        return status

    # --- a referral and its history --------------------------------------------------------

    def referral(self, case, signal, service, form_token, status=None):
        """A referral to the service with its history, its dates read off the history."""
        service_id, organisation_id, by_inbox = service
        created = self.later(signal.created_at, 3 * DAY)
        referral = new_referral(
            id=self.uid(), family_id=case.family.id, signal=signal,
            service_id=service_id, organisation_id=organisation_id, by_inbox=by_inbox,
            owner_id=case.family.created_by, message=self.rng.choice(MESSAGES),
            follow_up_on=default_follow_up(created.date()), form_token=form_token,
            status=status or self._status_by_age(created), created_at=created)
        events = self._history(referral, self.partners.get(organisation_id) if by_inbox else None)
        settle(referral, events)
        if referral.status in (S.rejected, S.failed):
            referral.reason_code = self.rng.choice(REASON_CODES)
        if referral.requested_at:
            self.consent(case, organisation_id, referral.requested_at)
        self.add(referral, *events, *self._bridge(referral))
        if referral.status == S.completed and self.rng.random() < self.feedback_share:
            self.feedback(case, referral)

    def _status_by_age(self, created):
        """Recent referrals are mostly open, old ones mostly closed."""
        age = (self.now - created).days
        return self.pick("fresh" if age < 14 else "recent" if age < 60 else "settled")

    def _history(self, referral, staff):
        """One event per step, each at its moment: `staff` are the partner's accounts, or
        None when the partner works outside the tool."""
        steps = self._steps(self._path(referral.status))
        moments = self._moments(referral.created_at, steps)
        return [self._event(referral, step, at, staff)
                for step, at in zip(steps, moments, strict=True)]

    def _path(self, status):
        """The status changes that lead to `status`; a completed one sometimes waited."""
        return DETOUR if status == S.completed and self.rng.random() < .1 else PATHS[status]

    def _steps(self, path):
        """(kind, from, to) for the creation, each status change, and a note now and then."""
        steps, source = [(EventKind.created, None, S.draft)], S.draft
        for target in path:
            steps.append((EventKind.status, source, target))
            source = target
            if target != S.entered_in_error and self.rng.random() < .12:
                steps.append((EventKind.note, None, None))
        return steps

    def _moments(self, created, steps):
        """When each step happened: in order, spread out until now. Most referrals are sent
        as soon as they are made (consent was already there)."""
        most = min((self.now - created).total_seconds() / (len(steps) + 1), 12 * DAY)
        moments = [created]
        for _kind, _source, target in steps[1:]:
            quick = target == S.requested and self.rng.random() < .85
            moments.append(self.later(moments[-1], 60 if quick else most))
        return moments

    def _event(self, referral, step, at, staff):
        """The event of one step: who took it, and the reason or note it carries."""
        kind, source, target = step
        actor, on_behalf = self._actor(referral.owner_id, kind, target, staff)
        return new_event(referral.id, actor, kind, id=self.uid(), at=at, from_status=source,
                         to_status=target, on_behalf=on_behalf,
                         outcome=self.pick("outcome") if target == S.completed else None,
                         text=self._event_text(kind, target))

    def _actor(self, owner, kind, target, staff):
        """(actor, on behalf): the partner's own staff take the partner's steps; for a partner
        outside the tool, the owner records them on its behalf."""
        rng = self.rng
        if kind == EventKind.note:
            return (rng.choice(staff) if staff and rng.random() < .5 else owner), False
        partner_side = kind == EventKind.status and (
            target in PARTNER_STEPS or (target == S.cancelled and staff and rng.random() < .5))
        if not partner_side:
            return owner, False
        return (rng.choice(staff), False) if staff else (owner, True)

    def _event_text(self, kind, target):
        if kind == EventKind.note:
            return self.rng.choice(NOTES)
        if kind == EventKind.status and target in NEEDS_REASON:
            return self.rng.choice(REASONS)
        return None

    def _bridge(self, referral):
        """Now and then a bridge worker accompanies a sent referral: its event, or none."""
        if (referral.status in (S.draft, S.entered_in_error) or not self.bridges
                or self.rng.random() >= .05):
            return []
        referral.bridge_id = self.rng.choice(self.bridges)
        asked = self.later(referral.requested_at, 2 * DAY)
        referral.bridge_accepted_at = self.later(asked, DAY)  # the bridge worker agreed
        return [new_event(referral.id, referral.owner_id, EventKind.bridge, id=self.uid(),
                          at=asked),
                new_event(referral.id, referral.bridge_id, EventKind.bridge, id=self.uid(),
                          at=referral.bridge_accepted_at, outcome=HandoverAnswer.accepted)]

    def consent(self, case, organisation_id, before):
        """The family's consent for this organisation, recorded just before it was needed."""
        if organisation_id in case.consents:
            return
        case.consents.add(organisation_id)
        at = before - timedelta(minutes=self.rng.uniform(1, 30))
        self.add(new_consent(case.family.id, organisation_id, case.family.created_by,
                             id=self.uid(), recorded_at=at, given_on=at.date(),
                             method=self.rng.choice(CONSENT_METHODS), parent_agreed=True,
                             given_by=case.parents, scope=CONSENT_SCOPE))

    # --- feedback --------------------------------------------------------------------------

    def feedback(self, case, referral):
        """An invitation after the help, like the feedback service makes, often answered."""
        created = self.later(referral.closed_at, 7 * DAY)
        child_id, form = self._who_answers(case, created.date())
        invitation = new_invitation(
            case.family.id, case.family.created_by, id=self.uid(), created_at=created,
            token=secrets.token_urlsafe(24), form=form, language=case.family.language,
            expires_at=created + self.feedback_days, referral_id=referral.id,
            child_id=child_id)
        if self.rng.random() < .7:
            invitation.used_at = self.later(created, self.feedback_days.total_seconds())
            self.add(invitation, self._answers(invitation, case, referral))
        else:
            self.add(invitation)

    def _who_answers(self, case, on):
        """(child id, form): mostly a parent; now and then a child of 8 or older answers for
        themselves, on the form that fits their age."""
        if self.rng.random() < .3:
            for child in case.children:
                form = form_for(child, on)
                if form is not None:
                    return child.id, form
        return None, FeedbackForm.parent

    def _answers(self, invitation, case, referral):
        """The scores and texts of an answered invitation: most questions answered."""
        rng = self.rng
        scores, texts = FORMS[invitation.form]
        return new_response(
            invitation, id=self.uid(), language=invitation.language,
            submitted_at=invitation.used_at, service_id=referral.service_id,
            organisation_id=referral.organisation_id,
            municipality_code=case.family.municipality_code,
            scores={name: rng.choices([1, 2, 3, 4, 5], weights=[4, 6, 15, 40, 35])[0]
                    for name in scores if rng.random() < .95},
            texts={name: rng.choice(choices) for name, choices in texts if rng.random() < .35})


def generate(factor, *, progress=None):
    """Generate scaled demo data (the regular demo must be loaded); return rows per table.
    `progress` is called with the number of services, users and families done."""
    generator = _Generator(factor, progress)
    # Building a row makes many short-lived objects, freed by reference counting; the cyclic
    # collector would walk the growing heap again and again (a tenth of the time) for none.
    gc.disable()
    try:
        generator.directory()
        generator.users()
        generator.families()
    finally:
        gc.enable()
    made = generator.made
    audit.record("create", object_type="demo", summary=(
        f"scaled demo data generated (factor {factor}): {made.get('family', 0)} families, "
        f"{made.get('referral', 0)} referrals, {made.get('service', 0)} services, "
        f"{made.get('user_account', 0)} accounts"))
    db.commit()
    return made


def progress_length(factor):
    """The length of the progress bar: services, users and families."""
    counts = plan(factor)
    return counts["services"] + counts["users"] + counts["families"]
