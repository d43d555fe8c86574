"""Directory benchmark: 5,000 services in 350 municipalities, searched through gunicorn.

Run with `make bench` (or `python bench/directory.py --database-url postgresql+psycopg://…`).
Reports the search page's median and p95 time for typical queries as ratios to /healthz
measured in the same run, and the SQL queries per search (which must not grow with results).
"""

import argparse
import http.cookiejar
import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from datetime import date, timedelta
from multiprocessing import Process, Queue
from pathlib import Path

from common import logged_in, statements

ROOT = Path(__file__).resolve().parent.parent
QUERIES = [
    "",
    "domains=food",
    "domains=sport_culture&age=9",
    "municipality=GM0363&domains=money",
    "q=ontbijt",
    "q=sport+kind&age=12",
    "domains=school_costs&domains=digital&municipality=GM0500&age=14",
]
DOMAINS = ["money", "food", "clothing", "housing", "sport_culture", "school_costs",
           "health_costs", "stress_parenting", "digital", "transport"]
WORDS = ["ontbijt", "sport", "kleding", "laptop", "huiswerk", "schulden", "zwemles", "fiets",
         "opvoeding", "voedsel", "muziek", "kamp", "bril", "internet", "budget"]


def populate(app, services=5000, municipalities=350):
    """Fill the directory quickly with core inserts; return (organisations, services)."""
    from referral import db
    from referral.dev.demo import load
    from referral.directory.models import (
        Organisation,
        Service,
        ServiceArea,
        ServiceDomain,
        ServiceLanguage,
        fold,
    )

    rng = random.Random(7)
    codes = ["GM0363", "GM0500"] + [f"GM{n:04d}" for n in range(1000, 1000 + municipalities - 2)]
    with app.app_context():
        load()
        db.commit()
        session = db.session()
        orgs = [dict(id=uuid.uuid4(), name=f"Organisatie {n}", active=True,
                     created_at=db.utcnow(), last_modified=db.utcnow()) for n in range(500)]
        session.execute(Organisation.__table__.insert(), orgs)
        rows, areas, domains, languages = [], [], [], []
        for n in range(services):
            org = orgs[n % len(orgs)]
            words = rng.sample(WORDS, 3)
            name = f"{words[0].capitalize()} {n}"
            description = f"Hulp met {words[1]} en {words[2]} voor gezinnen met kinderen."
            low = rng.choice([None, 0, 4, 6, 12])
            service_id = uuid.uuid4()
            rows.append(dict(
                id=service_id, organisation_id=org["id"], name=name, description=description,
                status="active" if rng.random() > .05 else "inactive",
                capacity=rng.choice(["open", "open", "open", "waiting_list", "closed"]),
                referral_route=rng.choice(["inbox", "phone", "email", "letter"]),
                professional_applies=False, minimum_age=low,
                maximum_age=None if low is None else low + rng.choice([6, 12, 14]),
                assured_date=date.today() - timedelta(days=rng.randint(0, 600)),
                last_modified=db.utcnow(), search_name=fold(name),
                search_text=fold(f"{name} {description} {org['name']}")))
            for code in rng.sample(codes, rng.randint(1, 4)):
                areas.append(dict(id=uuid.uuid4(), service_id=service_id,
                                  municipality_code=code, municipality_name=f"Gemeente {code}"))
            for code in rng.sample(DOMAINS, rng.randint(1, 3)):
                domains.append(dict(service_id=service_id, domain_code=code))
            languages.append(dict(id=uuid.uuid4(), service_id=service_id, code="nl"))
        for model, batch in ((Service, rows), (ServiceArea, areas), (ServiceDomain, domains),
                             (ServiceLanguage, languages)):
            session.execute(model.__table__.insert(), batch)
        db.commit()
    return len(orgs), len(rows)


def queries_per_search(app):
    """SQL statements per search page, for a query with few and one with many results."""
    client = logged_in(app, "jgz@demo.example")
    return {query or "(no filter)": statements(app, client, f"/directory/?{query}")
            for query in ("q=zzz-nothing", "", "domains=food&age=9")}


def fresh_postgres_database(url):
    """Drop and create the benchmark's own database (never the test suite's)."""
    import sqlalchemy as sa

    target = sa.engine.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT",
                             poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)')
        conn.exec_driver_sql(f'CREATE DATABASE "{target.database}"')


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def drive(base, rounds, results):
    """The load generator, in its own process: log in, then time the pages in turn."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
    page = opener.open(f"{base}/login", timeout=30).read().decode()
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    data = urllib.parse.urlencode({"csrf_token": token, "email": "jgz@demo.example",
                                   "password": "oefen-wachtwoord-2026"}).encode()
    opener.open(f"{base}/login", data=data, timeout=30).read()
    timings, errors = {}, 0
    deadline = time.monotonic() + 300  # bounded in time as well as in requests
    for _ in range(rounds):
        for path in ["/healthz"] + [f"/directory/?{q}" for q in QUERIES]:
            start = time.perf_counter()
            try:
                with opener.open(f"{base}{path}", timeout=30) as response:
                    response.read()
                    if "/login" in response.url:
                        errors += 1
            except OSError:
                errors += 1
            timings.setdefault(path, []).append(time.perf_counter() - start)
        if time.monotonic() > deadline:
            break
    results.put((timings, errors))


def percentile(values, share):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", help="default: SQLite in a temporary instance")
    parser.add_argument("--services", type=int, default=5000)
    parser.add_argument("--municipalities", type=int, default=350)
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    instance = Path(tempfile.mkdtemp(prefix="referral-bench-"))
    env = {**os.environ, "REFERRAL_INSTANCE_PATH": str(instance)}
    if args.database_url:
        env["REFERRAL_DATABASE_URL"] = args.database_url
    flask = [sys.executable, "-m", "flask", "--app", "referral"]
    if args.database_url:
        fresh_postgres_database(args.database_url)
    subprocess.run([*flask, "init"], env=env, check=True, capture_output=True)
    os.environ.update(env)
    from referral import create_app

    app = create_app()
    started = time.perf_counter()
    orgs, services = populate(app, args.services, args.municipalities)
    print(f"Filled {services} services of {orgs} organisations in {args.municipalities} "
          f"municipalities in {time.perf_counter() - started:.1f} s "
          f"({'PostgreSQL' if args.database_url else 'SQLite'}).")
    print("SQL statements per search page:", queries_per_search(app))
    app.extensions["referral.engine"].dispose()

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(args.workers), "-b", f"127.0.0.1:{port}",
         "--log-level", "warning", "referral.wsgi:app"], env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1).read()
                break
            except OSError:
                time.sleep(0.1)
        results = Queue()
        generator = Process(target=drive, args=(base, args.rounds, results))
        generator.start()
        timings, errors = results.get(timeout=600)
        generator.join()
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    health = statistics.median(timings["/healthz"])
    print(f"\n{'page':<70} {'median ms':>9} {'p95 ms':>8} {'× healthz':>9}")
    for path, values in timings.items():
        median = statistics.median(values)
        print(f"{path:<70} {median * 1000:9.1f} {percentile(values, .95) * 1000:8.1f} "
              f"{median / health:9.1f}")
    print(f"\n{sum(len(v) for v in timings.values())} requests, {errors} errors, "
          f"{args.workers} gunicorn workers, one load generator process.")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
