"""Monitor benchmark: the yearly dashboard over 100,000 referrals.

Run with `make bench` (or `python bench/monitor.py --database-url postgresql+psycopg://…`).
Fills families, children, signals and referrals over two years (every identifying column
encrypted as real data would be), then times the dashboard for one year in-process, next
to /healthz in the same run, and counts its SQL statements at a tenth of the data and at
all of it (they must be the same).
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import logged_in, statements  # noqa: E402
from directory import DOMAINS, fresh_postgres_database, percentile  # noqa: E402
from directory import populate as populate_directory  # noqa: E402

SOURCES = ["conversation", "observation", "family_asked"]
STATUSES = (["completed"] * 40 + ["requested"] * 15 + ["accepted"] * 10 + ["in-progress"] * 10
            + ["on-hold"] * 3 + ["rejected"] * 8 + ["cancelled"] * 6 + ["failed"] * 5
            + ["draft"] * 3)
OUTCOMES = ["need_met"] * 6 + ["partly_met"] * 2 + ["not_met", "not_reached", "declined"]


def populate(app, referrals, batch=5000):
    """Core inserts in batches; the sealed columns are sealed per row, bound to their ids."""
    from referral import db
    from referral.auth.queries import find_user
    from referral.cases.models import Child, Family, Signal, SignalDomain
    from referral.crypto import keyring
    from referral.directory.models import Service
    from referral.referrals.models import Referral

    rng = random.Random(11)
    now = datetime.now(UTC)
    with app.app_context():
        ring = keyring()
        session = db.session()
        nurse = find_user("jgz@demo.example")
        services = session.execute(Service.__table__.select().with_only_columns(
            Service.id, Service.organisation_id)).all()
        codes = ["GM0363", "GM0500"] + [f"GM{n:04d}" for n in range(1000, 1100)]

        def seal(table, column, row_id, text):
            return ring.seal(text, f"{table}/{column}/{row_id}")

        made = 0
        while made < referrals:
            families, children, signals, links, rows = [], [], [], [], []
            for _ in range(min(batch, referrals - made)):
                family_id, signal_id, referral_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
                created = now - timedelta(days=rng.uniform(0, 730))
                families.append(dict(
                    id=family_id, organisation_id=nurse.organisation_id, created_by=nurse.id,
                    created_at=created, municipality_code=rng.choice(codes), language="nl",
                    parent_names_enc=seal("family", "parent_names_enc", family_id, "Ouder")))
                for _child in range(rng.choice([1, 1, 2, 3])):
                    child_id = uuid.uuid4()
                    children.append(dict(
                        id=child_id, family_id=family_id, name_index=uuid.uuid4().hex,
                        age_band=rng.choice(["0-3", "4-11", "4-11", "12-15", "16-17"]),
                        first_name_enc=seal("child", "first_name_enc", child_id, "Kind"),
                        birth_date_enc=seal("child", "birth_date_enc", child_id, "2015-01-01")))
                signals.append(dict(
                    id=signal_id, family_id=family_id, created_by=nurse.id, created_at=created,
                    urgency="normal", source=rng.choice(SOURCES),
                    observations_enc=seal("signal", "observations_enc", signal_id, "gezien")))
                for code in rng.sample(DOMAINS, rng.randint(1, 3)):
                    links.append(dict(signal_id=signal_id, domain_code=code))
                service_id, organisation_id = rng.choice(services)
                status = rng.choice(STATUSES)
                requested = created + timedelta(hours=1) if status != "draft" else None
                accepted = (requested + timedelta(days=rng.uniform(0, 20))
                            if status in ("accepted", "in-progress", "on-hold", "completed",
                                          "failed") else None)
                closed = (accepted + timedelta(days=rng.uniform(1, 60))
                          if status in ("completed", "failed") else None)
                rows.append(dict(
                    id=referral_id, family_id=family_id, signal_id=signal_id,
                    service_id=service_id, organisation_id=organisation_id, owner_id=nurse.id,
                    created_by=nurse.id, created_at=created, status=status, by_inbox=True,
                    follow_up_on=(created + timedelta(days=14)).date(),
                    last_activity_at=closed or accepted or created, requested_at=requested,
                    accepted_at=accepted, closed_at=closed,
                    outcome=rng.choice(OUTCOMES) if status == "completed" else None,
                    version=1, message_enc=seal("referral", "message_enc", referral_id, "graag")))
            for model, values in ((Family, families), (Child, children), (Signal, signals),
                                  (SignalDomain, links), (Referral, rows)):
                session.execute(model.__table__.insert(), values)
            db.commit()
            made += len(rows)
            print(f"\r  {made:,} of {referrals:,} referrals", end="", flush=True)
        print()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: SQLite in a temporary instance")
    parser.add_argument("--referrals", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="referral-bench-monitor-"))
    env = {**os.environ, "REFERRAL_INSTANCE_PATH": str(instance)}
    if args.database_url:
        env["REFERRAL_DATABASE_URL"] = args.database_url
        fresh_postgres_database(args.database_url)
    subprocess.run([sys.executable, "-m", "flask", "--app", "referral", "init"], env=env,
                   check=True, capture_output=True)
    os.environ.update(env)
    from referral import create_app

    app = create_app()
    kind = "PostgreSQL" if args.database_url else "SQLite"
    populate_directory(app, services=500, municipalities=100)
    path = f"/monitor/?year={date.today().year}"
    client = logged_in(app, "coordinator@demo.example")
    started = time.perf_counter()
    tenth = args.referrals // 10
    populate(app, tenth)
    few = statements(app, client, path)
    populate(app, args.referrals - tenth)
    many = statements(app, client, path)
    print(f"Filled {args.referrals:,} referrals in {time.perf_counter() - started:.0f} s "
          f"({kind}); SQL statements per dashboard: {few} at {tenth:,}, {many} at "
          f"{args.referrals:,}.")
    timings = {"/healthz": [], path: []}
    for _ in range(args.rounds):
        for page in timings:
            start = time.perf_counter()
            assert client.get(page).status_code == 200
            timings[page].append(time.perf_counter() - start)
    health = statistics.median(timings["/healthz"])
    print(f"\n{'page':<30} {'median ms':>9} {'p95 ms':>8} {'× healthz':>9}")
    for page, values in timings.items():
        median = statistics.median(values)
        print(f"{page:<30} {median * 1000:9.1f} {percentile(values, .95) * 1000:8.1f} "
              f"{median / health:9.1f}")
    return 0 if few == many else 1


if __name__ == "__main__":
    sys.exit(main())
