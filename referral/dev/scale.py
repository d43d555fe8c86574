"""Scaled demo data: a municipality's or the whole country's families, referrals and feedback.

Rows go in with Core inserts in batches, one commit per batch, yet read exactly like the ones
the services make: the same sealed columns bound to their rows, the same keyed blind indexes,
an event for every status change at times that follow each other, and the referral's dates
taken from its events. A professional's caseload does not grow with the country; the country
grows by having more professionals. So the demo accounts keep a share that does not grow with
the scale: jgz@demo.example works on NURSE_FAMILIES families and the demo food bank receives
about PARTNER_REFERRALS referrals; the rest belongs to generated professionals and
organisations.

Generated accounts share one password hash, of a random password that is thrown away at
once: nobody can log in as them. Log in with the demo accounts.
"""

import hashlib
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
from referral.auth.queries import email_index, find_user
from referral.cases.models import (
    Child,
    Consent,
    Family,
    Signal,
    SignalDomain,
    address_index,
    age_band,
    age_on,
    child_index,
    normal_postcode,
)
from referral.crypto import keyring
from referral.dev import directory_data
from referral.directory.models import (
    NeedDomain,
    Organisation,
    Service,
    ServiceArea,
    ServiceDomain,
    ServiceLanguage,
    refresh_search_text,
)
from referral.feedback.models import FeedbackInvite, FeedbackResponse
from referral.referrals.models import (
    CLOSED,
    REASON_LABELS,
    EventKind,
    Referral,
    ReferralEvent,
)
from referral.referrals.models import Status as S

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


class _Generator:
    def __init__(self, factor, progress):
        self.counts = plan(factor)
        self.progress = progress or (lambda n: None)
        # Fictional data, repeatable on purpose: not for secrets.
        self.rng = random.Random(2026)  # nosec B311
        self.ring = keyring()
        self.session = db.session()
        self.now = db.utcnow()
        self.today = self.now.date()
        self.follow_up = timedelta(days=current_app.config["FOLLOW_UP_DAYS"])
        self.feedback_days = timedelta(days=current_app.config["FEEDBACK_VALID_DAYS"])
        self.rows = {}
        self.made = {}
        self.tables = {name: _weighted(pairs) for name, pairs in (
            ("source", SOURCES), ("urgency", URGENCIES), ("language", LANGUAGES),
            ("outcome", OUTCOMES), ("route", ROUTES), ("fresh", FRESH), ("recent", RECENT),
            ("settled", SETTLED))}
        self.domains = list(self.session.exec(select(NeedDomain.code).order_by(NeedDomain.code)).all())

    # --- helpers ---------------------------------------------------------------------------

    def uid(self):
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)

    def pick(self, table):
        values, cumulative = self.tables[table]
        return self.rng.choices(values, cum_weights=cumulative)[0]

    def seal(self, model, column, row_id, text):
        return self.ring.seal(text, f"{model.__tablename__}/{column}/{row_id}")

    def add(self, model, row):
        self.rows.setdefault(model, []).append(row)

    def later(self, moment, most_seconds):
        """A moment after `moment`, at most `most_seconds` later and never in the future."""
        room = max(0.0, (self.now - moment).total_seconds())
        return moment + timedelta(seconds=self.rng.uniform(0.05, 1) * min(room, most_seconds))

    def write(self):
        """Insert what is buffered, parents before children, and commit."""
        for model in (Organisation, Service, ServiceArea, ServiceDomain, ServiceLanguage, User,
                      Family, Child, Signal, SignalDomain, Consent, Referral, ReferralEvent,
                      FeedbackInvite, FeedbackResponse):
            rows = self.rows.pop(model, None)
            if rows:
                self.insert(model.__table__, rows)
                self.made[model.__tablename__] = self.made.get(model.__tablename__, 0) + len(rows)
        db.commit()

    def insert(self, table, rows):
        """Straight to the driver, in the session's transaction: COPY on PostgreSQL, one
        executemany with the dialect's own conversions on SQLite (the ORM's per-row work
        would take most of the time)."""
        connection = self.session.connection()
        names = list(rows[0])
        columns = ", ".join(f'"{name}"' for name in names)
        if connection.dialect.name == "postgresql":
            driver = connection.connection.driver_connection
            with driver.cursor() as cursor, cursor.copy(
                    f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row([row[name] for name in names])
            return
        # Random ids land all over the indexes: a larger page cache saves most reads.
        connection.exec_driver_sql("PRAGMA cache_size = -400000")
        statement = table.insert().compile(dialect=connection.dialect, column_keys=names)
        convert = [(name, table.c[name].type.bind_processor(connection.dialect))
                   for name in statement.positiontup]
        values = [tuple(row[name] if to is None or row[name] is None else to(row[name])
                        for name, to in convert) for row in rows]
        connection.exec_driver_sql(str(statement), values)

    # --- the directory ---------------------------------------------------------------------

    def directory(self):
        rng, count = self.rng, self.counts["municipalities"]
        places = [p + r for r in ROOTS for p in PREFIXES]
        rng.shuffle(places)
        self.places = [(f"GM{8001 + n}", f"{places[n % len(places)]}"
                        f"{'' if n < len(places) else f' {n}'} (demo)") for n in range(count)]
        self.organisations = []
        for n in range(self.counts["organisations"]):
            kind, offers = KINDS[n % len(KINDS)]
            code, place = self.places[(n // len(KINDS)) % count]
            name = f"{kind} {place.removesuffix(' (demo)')} (demo)"
            if n >= len(KINDS) * count:
                name = f"{kind} {place.removesuffix(' (demo)')} {n} (demo)"
            org = dict(id=self.uid(), name=name, active=True, phone=f"010-{5600000 + n}",
                       website=f"https://org{n}.{MAIL_DOMAIN}", created_at=self.now,
                       last_modified=self.now)
            self.organisations.append((org, code, offers))
            self.add(Organisation, org)
        # Services: each organisation offers its own kind first, then something else.
        self.by_place = {}
        offered = {}
        for n in range(self.counts["services"]):
            org, home, offers = self.organisations[n % len(self.organisations)]
            taken = offered.setdefault(org["id"], [])
            name = (offers[len(taken)] if len(taken) < len(offers) else
                    rng.choice([c for c in CATALOGUE if c not in taken] or list(CATALOGUE)))
            taken.append(name)
            self.service(org, home, name)
        self.progress(self.counts["services"])
        self.write()

    def service(self, org, home, name):
        rng = self.rng
        domains, description, ages, income = CATALOGUE[name]
        route = self.pick("route")
        capacity = rng.choice(["open", "open", "open", "open", "waiting_list", "closed"])
        service = SimpleNamespace(name=name, alternate_name=None, description=description,
                                  eligibility_description=(
                                      f"Inkomen tot {income}% van het sociaal minimum."
                                      if income else None))
        refresh_search_text(service, SimpleNamespace(name=org["name"], alternate_name=None))
        row = dict(id=self.uid(), organisation_id=org["id"], name=name, description=description,
                   status="active" if rng.random() > .04 else "inactive", capacity=capacity,
                   waiting_weeks=rng.randint(2, 12) if capacity == "waiting_list" else None,
                   referral_route=route, professional_applies=rng.random() < .4,
                   minimum_age=ages[0] if ages else None, maximum_age=ages[1] if ages else None,
                   income_limit_percent=income,
                   eligibility_description=service.eligibility_description,
                   phone=org["phone"], url=org["website"],
                   assured_date=self.today - timedelta(days=rng.randint(0, 500)),
                   last_modified=self.now, search_name=service.search_name,
                   search_text=service.search_text)
        self.add(Service, row)
        codes = {home} | {rng.choice(self.places)[0] for _ in range(rng.randint(0, 2))}
        names = dict(self.places)
        for code in sorted(codes):
            self.add(ServiceArea, dict(id=self.uid(), service_id=row["id"],
                                       municipality_code=code, municipality_name=names[code]))
        for code in domains:
            self.add(ServiceDomain, dict(service_id=row["id"], domain_code=code))
        self.add(ServiceLanguage, dict(id=self.uid(), service_id=row["id"], code="nl"))
        if row["status"] == "active":
            entry = (row["id"], org["id"], route == "inbox")
            for code in sorted(codes):
                for domain in domains:
                    self.by_place.setdefault((code, domain), []).append(entry)
                self.by_place.setdefault((code, None), []).append(entry)

    # --- people ----------------------------------------------------------------------------

    def users(self):
        rng, total = self.rng, self.counts["users"]
        # One hash for everyone, of a password nobody keeps: generated accounts never log in.
        password_hash = hash_password(secrets.token_urlsafe(24))
        numbers = {role: max(1, round(total * share)) for role, share in ROLE_SHARES}
        numbers[Role.partner] = max(numbers[Role.partner], len(self.organisations))
        numbers[Role.professional] = max(1, total - sum(numbers.values()))
        # Professionals work for the youth health care (JGZ) of a municipality.
        self.jgz = []
        for code, place in self.places:
            org = dict(id=self.uid(), name=f"JGZ {place}", active=True, created_at=self.now,
                       last_modified=self.now)
            self.jgz.append((org["id"], code))
            self.add(Organisation, org)
        self.professionals, self.partners, self.bridges = [], {}, []
        for role, number in numbers.items():
            for n in range(1, number + 1):
                user_id, email = self.uid(), generated_email(role, n)
                name = f"{rng.choice(ADULT_NAMES)} {rng.choice(LAST_NAMES)} (demo)"
                trained = None
                if role == Role.partner:
                    org_id = self.organisations[(n - 1) % len(self.organisations)][0]["id"]
                    self.partners.setdefault(org_id, []).append(user_id)
                elif role == Role.professional:
                    org_id, code = self.jgz[(n - 1) % len(self.jgz)]
                    # Most took the signal training in the last three years.
                    if n == 1 or rng.random() < .92:
                        trained = self.today - timedelta(days=rng.randint(10, 1000))
                        self.professionals.append((user_id, org_id, code))
                else:
                    org_id = None
                    if role == Role.bridge:
                        self.bridges.append(user_id)
                created = self.now - timedelta(days=rng.uniform(30, 900))
                self.add(User, dict(
                    id=user_id, email_enc=self.seal(User, "email_enc", user_id, email),
                    email_index=email_index(email), name_enc=self.seal(User, "name_enc", user_id,
                                                                        name),
                    role=role, organisation_id=org_id, trained_on=trained,
                    language="en" if rng.random() < .05 else "nl", active=True,
                    password_hash=password_hash, password_changed_at=created,
                    session_version=1, created_at=created))
        self.progress(total)
        self.write()

    # --- families and what happens to them -------------------------------------------------

    def families(self):
        session = self.session
        nurse, partner = find_user(NURSE), find_user(PARTNER)
        food_bank = session.get(Organisation, partner.organisation_id)
        parcel = session.exec(select(Service).where(
            Service.organisation_id == food_bank.id, Service.referral_route == "inbox")).first()
        self.partners[food_bank.id] = [partner.id]
        total = self.counts["families"]
        nurse_families = min(NURSE_FAMILIES, total // 5)
        self.partner_left = min(PARTNER_REFERRALS, total // 2)
        self.nurse_referrals = 0
        demo_codes = [directory_data.VOORBEELDSTAD[0], directory_data.DORPENLAND[0]]
        for n in range(total):
            if n < nurse_families:
                self.family(nurse.id, nurse.organisation_id, self.rng.choice(demo_codes),
                            nurse=True)
            elif self.partner_left > 0:
                owner, org_id, _code = self.rng.choice(self.professionals)
                self.family(owner, org_id, directory_data.VOORBEELDSTAD[0],
                            to=(parcel.id, food_bank.id, True))
            else:
                owner, org_id, code = self.rng.choice(self.professionals)
                if self.rng.random() < .1:
                    code = self.rng.choice(self.places)[0]  # a family that moved
                self.family(owner, org_id, code)
            if (n + 1) % BATCH == 0 or n + 1 == total:
                self.write()
                self.progress((n % BATCH) + 1)

    def family(self, owner, org_id, code, *, nurse=False, to=None):
        rng = self.rng
        family_id = self.uid()
        created = self.now - timedelta(days=rng.uniform(1, 730), seconds=rng.uniform(0, DAY))
        surname = rng.choice(LAST_NAMES)
        parents = f"{rng.choice(ADULT_NAMES)} {surname} (demo)"
        language = self.pick("language")
        row = dict(id=family_id, organisation_id=org_id, created_by=owner, created_at=created,
                   municipality_code=code, language=language, address_index=None,
                   parent_names_enc=self.seal(Family, "parent_names_enc", family_id, parents),
                   phone_enc=None, email_enc=None, address_enc=None, postcode_enc=None)
        if rng.random() < .9:
            row["phone_enc"] = self.seal(Family, "phone_enc", family_id,
                                         f"06-{rng.randint(10000000, 99999999)}")
        if rng.random() < .4:
            row["email_enc"] = self.seal(Family, "email_enc", family_id,
                                         f"gezin{rng.getrandbits(32)}@{MAIL_DOMAIN}")
        if rng.random() < .85:
            number, postcode = str(rng.randint(1, 250)), f"{rng.randint(1000, 9999)} ZZ"
            row["address_enc"] = self.seal(Family, "address_enc", family_id,
                                           f"{rng.choice(STREETS)} {number}")
            row["postcode_enc"] = self.seal(Family, "postcode_enc", family_id,
                                            normal_postcode(postcode))
            row["address_index"] = address_index(org_id, postcode, number)
        self.add(Family, row)
        children = []
        for _ in range(rng.choice([1, 1, 2, 2])):
            child_id = self.uid()
            first = f"{rng.choice(FIRST_NAMES)} (demo)"
            born = created.date() - timedelta(days=rng.randint(30, 17 * 365))
            self.add(Child, dict(
                id=child_id, family_id=family_id, age_band=age_band(born, created.date()),
                name_index=child_index(org_id, first, born),
                first_name_enc=self.seal(Child, "first_name_enc", child_id, first),
                birth_date_enc=self.seal(Child, "birth_date_enc", child_id, born.isoformat())))
            children.append((child_id, born))
        family = SimpleNamespace(id=family_id, owner=owner, created=created, code=code,
                                 language=language, parents=parents, children=children,
                                 consents={})
        moments = sorted(rng.uniform(0, 1) for _ in range(rng.choice([1, 2, 3, 3, 4, 5])))
        for share in moments:
            at = created + (self.now - created) * share * .9
            self.signal(family, at, nurse=nurse, to=to)

    def signal(self, family, at, *, nurse, to):
        rng = self.rng
        signal_id = self.uid()
        row = dict(id=signal_id, family_id=family.id, created_by=family.owner, created_at=at,
                   urgency=self.pick("urgency"), source=self.pick("source"),
                   observations_enc=self.seal(Signal, "observations_enc", signal_id,
                                              rng.choice(OBSERVATIONS)),
                   stress_factors_enc=None, strengths_enc=None, parent_wishes_enc=None,
                   child_wishes_enc=None)
        for column, texts, share in (("stress_factors_enc", STRESS, .4),
                                     ("strengths_enc", STRENGTHS, .7),
                                     ("parent_wishes_enc", PARENT_WISHES, .6),
                                     ("child_wishes_enc", CHILD_WISHES, .4)):
            if rng.random() < share:
                row[column] = self.seal(Signal, column, signal_id, rng.choice(texts))
        self.add(Signal, row)
        domains = rng.sample(self.domains, rng.choice([1, 1, 2, 2, 3]))
        for code in domains:
            self.add(SignalDomain, dict(signal_id=signal_id, domain_code=code))
        # A signal without a referral is erased after a year: older ones all led somewhere.
        old = (self.now - at).days > 300
        count = rng.choice([1, 1, 2] if old else [0, 1, 1, 1, 2])
        form_token = str(self.uid())
        chosen = set()
        for _ in range(count):
            service = to if to and self.partner_left > 0 else self.choose(family.code, domains)
            if service[0] in chosen:
                continue
            chosen.add(service[0])
            if service == to:
                self.partner_left -= 1
            status = None
            if nurse:  # the demo nurse has a referral in every status
                status = list(S)[self.nurse_referrals % len(S)]
                self.nurse_referrals += 1
            self.referral(family, signal_id, at, service, form_token, status)

    def choose(self, code, domains):
        for key in [(code, d) for d in domains] + [(code, None)]:
            if key in self.by_place:
                return self.rng.choice(self.by_place[key])
        return self.rng.choice(self.rng.choice(list(self.by_place.values())))

    def referral(self, family, signal_id, signal_at, service, form_token, status):
        rng, now = self.rng, self.now
        service_id, org_id, by_inbox = service
        referral_id, owner = self.uid(), family.owner
        created = self.later(signal_at, 3 * DAY)
        age = (now - created).days
        status = status or self.pick("fresh" if age < 14 else "recent" if age < 60 else
                                     "settled")
        path = DETOUR if status == S.completed and rng.random() < .1 else PATHS[status]
        staff = self.partners.get(org_id) if by_inbox else None
        # The steps in order, with a note now and then; each gets its moment below.
        steps = [("created", None)]
        for target in path:
            steps.append(("status", target))
            if target != S.entered_in_error and rng.random() < .12:
                steps.append(("note", None))
        room = (now - created).total_seconds() / (len(steps) + 1)
        at, events, fields = created, [], dict(requested_at=None, accepted_at=None,
                                               closed_at=None, outcome=None, reason_code=None)
        source, last = S.draft, created
        for index, (kind, target) in enumerate(steps):
            if index:
                # Most referrals are sent as soon as they are made (consent was already there).
                quick = target == S.requested and rng.random() < .85
                at = self.later(at, 60 if quick else min(room, 12 * DAY))
            event = dict(id=self.uid(), referral_id=referral_id, at=at, actor_id=owner,
                         kind=kind, from_status=None, to_status=None, outcome=None,
                         on_behalf=False, text_enc=None)
            text = None
            if kind == "created":
                event["kind"], event["to_status"] = EventKind.created, S.draft
            elif kind == "note":
                if staff and rng.random() < .5:
                    event["actor_id"] = rng.choice(staff)
                text = rng.choice(NOTES)
            else:
                partner_side = target in PARTNER_STEPS or (
                    target == S.cancelled and staff and rng.random() < .5)
                if partner_side:
                    if staff:
                        event["actor_id"] = rng.choice(staff)
                    else:
                        event["on_behalf"] = True  # the owner records the partner's step
                if target == S.requested:
                    self.consent(family, org_id, at)
                    fields.update(requested_at=at, closed_at=None, outcome=None)
                elif target == S.accepted:
                    fields["accepted_at"] = at
                if target in CLOSED:
                    fields["closed_at"] = at
                    fields["outcome"] = self.pick("outcome") if target == S.completed else None
                fields["reason_code"] = (rng.choice(list(REASON_LABELS))
                                         if target in (S.rejected, S.failed) else None)
                event.update(from_status=source, to_status=target, outcome=fields["outcome"])
                if target in NEEDS_REASON:
                    text = rng.choice(REASONS)
                source = target
            if text:
                event["text_enc"] = self.seal(ReferralEvent, "text_enc", event["id"], text)
            events.append(event)
            last = at
        bridge = None
        if status != S.draft and status != S.entered_in_error and self.bridges and (
                rng.random() < .05):
            bridge = rng.choice(self.bridges)
            events.append(dict(id=self.uid(), referral_id=referral_id,
                               at=self.later(fields["requested_at"], 2 * DAY), actor_id=owner,
                               kind=EventKind.bridge, from_status=None, to_status=None,
                               outcome=None, on_behalf=False, text_enc=None))
        for event in events:
            self.add(ReferralEvent, event)
        self.add(Referral, dict(
            id=referral_id, family_id=family.id, signal_id=signal_id, service_id=service_id,
            organisation_id=org_id, owner_id=owner, created_by=owner, created_at=created,
            status=status, by_inbox=by_inbox, follow_up_on=created.date() + self.follow_up,
            last_activity_at=last, bridge_id=bridge, version=1 + len(path),
            submission_key=f"{form_token}:{service_id}",
            message_enc=self.seal(Referral, "message_enc", referral_id, rng.choice(MESSAGES)),
            **fields))
        if status == S.completed and rng.random() < .4:
            self.feedback(family, referral_id, service_id, org_id, fields["closed_at"])

    def consent(self, family, org_id, before):
        """The family's consent for this organisation, recorded just before it was needed."""
        if org_id in family.consents:
            return
        consent_id = self.uid()
        at = before - timedelta(minutes=self.rng.uniform(1, 30))
        family.consents[org_id] = consent_id
        self.add(Consent, dict(
            id=consent_id, family_id=family.id, child_id=None, organisation_id=org_id,
            recorded_by=family.owner, recorded_at=at, given_on=at.date(),
            method=self.rng.choice(["spoken", "spoken", "written", "digital"]),
            parent_agreed=True, child_agreed=False, withdrawn_at=None, withdrawn_by=None,
            given_by_enc=self.seal(Consent, "given_by_enc", consent_id, family.parents),
            scope_enc=self.seal(Consent, "scope_enc", consent_id,
                                "Naam, telefoonnummer en de vraag om hulp.")))

    def feedback(self, family, referral_id, service_id, org_id, closed):
        """An invitation after the help, like the feedback service makes, often answered."""
        rng = self.rng
        created = self.later(closed, 7 * DAY)
        child_id, form = None, "parent"
        if rng.random() < .3:  # a child of 8 or older answers for themselves
            for candidate, born in family.children:
                age = age_on(born, created.date())
                if 8 <= age <= 17:
                    child_id, form = candidate, "child_8_11" if age <= 11 else "child_12_17"
                    break
        invite_id = self.uid()
        expires = created + self.feedback_days
        answered = rng.random() < .7
        used = self.later(created, self.feedback_days.total_seconds()) if answered else None
        language = family.language
        self.add(FeedbackInvite, dict(
            id=invite_id, token_hash=hashlib.sha256(secrets.token_bytes(24)).hexdigest(),
            family_id=family.id, referral_id=referral_id, child_id=child_id,
            created_by=family.owner, created_at=created, expires_at=expires, used_at=used,
            form=form, language=language))
        if not answered:
            return
        response_id = self.uid()
        scores = ["heard", "useful", "easy", "better"] if form == "parent" else ["heard",
                                                                                 "better"]
        row = dict(id=response_id, invite_id=invite_id, service_id=service_id,
                   organisation_id=org_id, municipality_code=family.code, submitted_at=used,
                   form=form, language=language, heard=None, useful=None, easy=None,
                   better=None, went_well_enc=None, do_better_enc=None, to_grown_ups_enc=None)
        for name in scores:
            if rng.random() < .95:
                row[name] = rng.choices([1, 2, 3, 4, 5], weights=[4, 6, 15, 40, 35])[0]
        texts = ([("went_well_enc", WENT_WELL), ("do_better_enc", DO_BETTER)]
                 if form == "parent" else [("to_grown_ups_enc", TO_GROWN_UPS)])
        for column, choices in texts:
            if rng.random() < .35:
                row[column] = self.seal(FeedbackResponse, column, response_id,
                                        rng.choice(choices))
        self.add(FeedbackResponse, row)


def generate(factor, *, progress=None):
    """Generate scaled demo data (the regular demo must be loaded); return rows per table.
    `progress` is called with the number of services, users and families done."""
    generator = _Generator(factor, progress)
    generator.directory()
    generator.users()
    generator.families()
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
