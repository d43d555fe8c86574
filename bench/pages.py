"""Page benchmark: the real pages under gunicorn, logged in, at municipal and national scale.

Run with `make bench` (or `python bench/pages.py --database-url postgresql+psycopg://…`).
For each scale it starts the app under gunicorn and drives it from separate load-generator
processes on loopback, one page at a time with a few concurrent logged-in clients, each phase
bounded in time and in requests. It reports requests, errors, throughput, p50/p95/p99 and the
throughput as a share of /healthz's in the same run, the SQL statements of each page (counted
in-process) and how each page's median grows from municipal to national scale.
"""

import argparse
import http.client
import os
import platform
import re
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from datetime import date, timedelta
from multiprocessing import Event, Process, Queue
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import logged_in, statements  # noqa: E402
from directory import free_port, fresh_postgres_database, percentile  # noqa: E402

ROOT = Path(__file__).resolve().parent
PASSWORD = "oefen-wachtwoord-2026"  # the demo accounts' password  # noqa: S105  # nosec B105
PROFESSIONAL, PARTNER, COORDINATOR = ("jgz@demo.example", "partner@demo.example",
                                      "coordinator@demo.example")
SEARCHES = ["", "domains=food", "q=ontbijt", "municipality=GM9901&domains=sport_culture&age=9"]
SCALES = {"demo": 0, "municipality": 0.1, "national": 1.0}  # as referral.dev.scale.SCALES
RUNS = ["sqlite:municipality", "postgresql:municipality", "postgresql:national"]
TARGET = 1.5  # a page's national median within this many times its municipal median


# --- the load generator (runs in its own processes) ---------------------------------------

class Browser:
    """A logged-in visitor: one connection per request (gunicorn's sync workers close them)."""

    def __init__(self, port):
        self.port, self.cookies = port, {}

    def request(self, method, path, fields=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
        body = None
        if fields is not None:
            body = urllib.parse.urlencode(fields, doseq=True)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            connection.request(method, path, body, headers)
            response = connection.getresponse()
            text = response.read().decode()
        finally:
            connection.close()
        for cookie in response.headers.get_all("Set-Cookie") or []:
            name, _, value = cookie.split(";")[0].partition("=")
            self.cookies[name.strip()] = value
        return response.status, response.getheader("Location") or "", text

    def login(self, email):
        _, _, page = self.request("GET", "/login")
        fields = form_fields(page, "/login")
        status, location, _ = self.request("POST", "/login", {
            **fields, "email": email, "password": PASSWORD})
        if status != 302 or "/login" in location:
            raise RuntimeError(f"login as {email} failed: {status} {location}")


def form_fields(page, action):
    """The field names of the form posting to action (or to its own page: no action), with the
    hidden fields' values."""
    forms = [body for tag, body in re.findall(r"<form\b([^>]*)>(.*?)</form>", page, re.S)
             if 'method="post"' in tag and ("action=" not in tag or f'action="{action}"' in tag)]
    if not forms:
        raise RuntimeError(f"no form posting to {action}")
    fields = {}
    for tag in re.findall(r"<(?:input|select|textarea|button)\b[^>]*>", forms[0]):
        attributes = dict(re.findall(r'([\w-]+)="([^"]*)"', tag))
        if "name" in attributes:
            fields[attributes["name"]] = (attributes.get("value", "")
                                          if attributes.get("type") == "hidden" else None)
    return fields


def prepare(browser, job):
    """What a POST needs from the real form, fetched once before the clock starts."""
    kind, items = job["kind"], job["items"]
    if kind == "signal":
        action = f"/families/{items[0]}/signals/new"
        wanted = ["csrf_token", "domains", "observations", "urgency", "source"]
    elif kind == "referral":
        action = f"/referrals/new/{items[0].split(':')[0]}"
        wanted = ["csrf_token", "form_token", "services", "message", "follow_up_on", "send"]
    elif kind == "accept":
        action = f"/referrals/{items[0][0]}/status/accepted"
        wanted = ["accepted-csrf_token", "accepted-version"]
    else:
        return {}
    status, _, page = browser.request("GET", action.removesuffix("/status/accepted"))
    fields = form_fields(page, action)
    missing = [name for name in wanted if name not in fields]
    if status != 200 or missing:
        raise RuntimeError(f"{action}: status {status}, fields missing: {missing}")
    return fields


def step(browser, job, fields, item):
    """One request of the job: (status, location)."""
    kind = job["kind"]
    if kind == "get":
        status, location, _ = browser.request("GET", item)
        return status == 200, location
    if kind == "signal":
        status, location, _ = browser.request("POST", f"/families/{item}/signals/new", {
            "csrf_token": fields["csrf_token"], "domains": ["food", "money"], "urgency": "normal",
            "source": "conversation", "observations": "Gezien tijdens het spreekuur (bench)."})
    elif kind == "referral":  # a signal and a service it has no open referral to
        signal_id, service_id = item.split(":")
        status, location, _ = browser.request("POST", f"/referrals/new/{signal_id}", {
            "csrf_token": fields["csrf_token"], "form_token": str(uuid.uuid4()),
            "services": service_id, "message": "Graag contact met moeder (bench).",
            "follow_up_on": (date.today() + timedelta(days=14)).isoformat(),
            "send": "send"})
    else:  # accept, with the version the page showed
        referral_id, version = item
        status, location, _ = browser.request(
            "POST", f"/referrals/{referral_id}/status/accepted",
            {"accepted-csrf_token": fields["accepted-csrf_token"],
             "accepted-version": str(version)})
    return status in (302, 303) and "/login" not in location, location


def client(port, email, job, share, seconds, ready, go, results):
    """One load-generator client: log in, prepare, wait for the start, then loop."""
    browser = Browser(port)
    try:
        browser.login(email)
        fields = prepare(browser, job)
        if job["kind"] == "get":  # each worker's first request compiles templates: untimed
            for item in share[:3]:
                browser.request("GET", item)
    except (OSError, RuntimeError) as error:
        ready.put(str(error))
        return
    ready.put(None)
    go.wait()
    times, errors = [], 0
    started = time.monotonic()
    deadline = started + seconds
    for number, item in enumerate(share):
        if number and time.monotonic() > deadline:
            break
        begin = time.perf_counter()
        try:
            ok, _ = step(browser, job, fields, item)
        except OSError:
            ok = False
        times.append(time.perf_counter() - begin)
        errors += not ok
    results.put((times, errors, started, time.monotonic()))


def run_phase(port, email, job, clients, seconds, limit):
    """All clients on one page at once; the items are dealt out so no two clients share one."""
    items = job["items"]
    # Repeatable: cycle through them (a referral is not: one open per signal and service).
    if job["kind"] in ("get", "signal"):
        items = [items[n % len(items)] for n in range(limit)]
    items = items[:limit]
    ready, results, go = Queue(), Queue(), Event()
    processes = [Process(target=client, args=(port, email, job, items[n::clients], seconds,
                                              ready, go, results))
                 for n in range(clients) if items[n::clients]]
    for process in processes:
        process.start()
    failures = [ready.get(timeout=120) for _ in processes]
    go.set()
    if any(failures):
        raise RuntimeError(next(f for f in failures if f))
    outcome = [results.get(timeout=seconds + 300) for _ in processes]
    for process in processes:
        process.join()
    times = [t for result in outcome for t in result[0]]
    wall = max(r[3] for r in outcome) - min(r[2] for r in outcome)
    return dict(times=times, errors=sum(r[1] for r in outcome), wall=wall,
                throughput=len(times) / wall)


# --- the bench's own process: data, statement counts, gunicorn -----------------------------

def setup_database(database_url, factor):
    """A fresh instance and database with the demo data and factor of the national scale;
    returns the app."""
    instance = Path(tempfile.mkdtemp(prefix="referral-bench-"))
    os.environ["REFERRAL_INSTANCE_PATH"] = str(instance)
    os.environ.pop("REFERRAL_DATABASE_URL", None)
    if database_url:
        os.environ["REFERRAL_DATABASE_URL"] = database_url
        fresh_postgres_database(database_url)
    flask = [sys.executable, "-m", "flask", "--app", "referral"]
    subprocess.run([*flask, "init"], check=True, capture_output=True)
    from sqlalchemy import text

    from referral import create_app, db
    from referral.dev import scale
    from referral.dev.demo import load

    app = create_app()
    with app.app_context():
        load()
        db.commit()
        if factor:
            scale.generate(factor)
        # Bulk inserts leave the planner without statistics until autovacuum comes by; a
        # database in use has them (without, the family timeline scans every event).
        db.session().execute(text("ANALYZE"))
        db.commit()
    return app


def world(app):
    """What the clients work on: ids from the database, and the data's size."""
    from sqlalchemy import func, select, text

    from referral import db
    from referral.auth.queries import find_user
    from referral.cases.models import Family, Signal
    from referral.cases.queries import families_of
    from referral.directory.models import Service
    from referral.policy.queries import active_consent
    from referral.referrals.models import OPEN, Referral, Status

    with app.app_context():
        session = db.session()
        nurse, partner = find_user(PROFESSIONAL), find_user(PARTNER)
        families = [f.id for f in families_of(nurse)]
        consented = [f for f in families if active_consent(f, partner.organisation_id)]
        signals = session.execute(select(Signal.id).where(Signal.family_id.in_(consented))
                                  .order_by(Signal.created_at)).scalars().all()
        services = session.execute(select(Service.id).where(
            Service.organisation_id == partner.organisation_id, Service.status == "active",
            Service.referral_route == "inbox").order_by(Service.name)).scalars().all()
        service = services[0] if services else None
        taken = set(session.execute(select(Referral.signal_id, Referral.service_id).where(
            Referral.signal_id.in_(signals),
            Referral.status.in_([s.value for s in OPEN]))).all())
        pairs = [f"{s}:{v}" for v in services for s in signals if (s, v) not in taken]
        requested = session.execute(select(Referral.id, Referral.version).where(
            Referral.organisation_id == partner.organisation_id, Referral.by_inbox,
            Referral.status == Status.requested).order_by(Referral.created_at)).all()
        version = ("PostgreSQL " + session.execute(text("SHOW server_version")).scalar().split()[0]
                   if db.engine().dialect.name == "postgresql"
                   else f"SQLite {sqlite3.sqlite_version}")
        size = {name: session.execute(select(func.count()).select_from(model)).scalar()
                for name, model in (("families", Family), ("signals", Signal),
                                    ("referrals", Referral), ("services", Service))}
    app.extensions["referral.engine"].dispose()  # the load generator forks: no shared sockets
    return dict(families=families, signals=signals, service=str(service), pairs=pairs,
                requested=[(str(i), v) for i, v in requested], size={**size, "version": version})


def jobs(ids):
    """The pages in the order they run: (row, account, job)."""
    return [
        ("/healthz", PROFESSIONAL, dict(kind="get", items=["/healthz"])),
        ("my referrals", PROFESSIONAL, dict(kind="get", items=["/referrals/"])),
        ("family page", PROFESSIONAL,
         dict(kind="get", items=[f"/families/{f}" for f in ids["families"]])),
        ("directory search", PROFESSIONAL,
         dict(kind="get", items=[f"/directory/?{q}" for q in SEARCHES])),
        ("signal form", PROFESSIONAL,
         dict(kind="get", items=[f"/families/{f}/signals/new" for f in ids["families"]])),
        ("create signal", PROFESSIONAL, dict(kind="signal", items=ids["families"])),
        ("referral form", PROFESSIONAL,
         dict(kind="get", items=[f"/referrals/new/{s}" for s in ids["signals"]])),
        ("create referral", PROFESSIONAL,
         dict(kind="referral", items=ids["pairs"])),
        ("partner inbox", PARTNER, dict(kind="get", items=["/referrals/"])),
        ("referral (partner)", PARTNER, dict(kind="get", items=None)),  # filled in later
        ("accept referral", PARTNER, dict(kind="accept", items=None)),
        ("monitor", COORDINATOR, dict(kind="get", items=["/monitor/"])),
    ]


def count_statements(app, ids):
    """SQL statements per page, in-process with a test client (one request each)."""
    nurse, partner = logged_in(app, PROFESSIONAL), logged_in(app, PARTNER)
    coordinator = logged_in(app, COORDINATOR)
    family, signal_id = ids["families"][0], ids["signals"][0]
    referral_id, version = ids["requested"][0]

    def count(browser, method, path, data=None, expect=200):
        return statements(app, browser, path, method=method, data=data, expect=expect)

    def token(browser, path, action, name="csrf_token"):
        return form_fields(browser.get(path).text, action)[name]

    counts = {"/healthz": count(nurse, "GET", "/healthz"),
              "my referrals": count(nurse, "GET", "/referrals/"),
              "family page": count(nurse, "GET", f"/families/{family}"),
              "directory search": max(count(nurse, "GET", f"/directory/?{q}") for q in SEARCHES),
              "signal form": count(nurse, "GET", f"/families/{family}/signals/new")}
    action = f"/families/{family}/signals/new"
    counts["create signal"] = count(nurse, "POST", action, {
        "csrf_token": token(nurse, action, action), "domains": ["food"], "urgency": "normal",
        "source": "conversation", "observations": "Gezien (bench)."}, expect=303)
    action = f"/referrals/new/{signal_id}"
    counts["referral form"] = count(nurse, "GET", action)
    if ids["pairs"]:  # the last pair: the phase of writes starts at the first
        pair_signal, pair_service = ids["pairs"][-1].split(":")
        action = f"/referrals/new/{pair_signal}"
        counts["create referral"] = count(nurse, "POST", action, {
            "csrf_token": token(nurse, action, action), "form_token": str(uuid.uuid4()),
            "services": pair_service, "message": "Graag contact (bench).",
            "follow_up_on": (date.today() + timedelta(days=14)).isoformat(), "send": "send"},
            expect=303)
    counts["partner inbox"] = count(partner, "GET", "/referrals/")
    page = f"/referrals/{referral_id}"
    counts["referral (partner)"] = count(partner, "GET", page)
    action = f"{page}/status/accepted"
    counts["accept referral"] = count(partner, "POST", action, {
        "accepted-csrf_token": token(partner, page, action, "accepted-csrf_token"),
        "accepted-version": str(version)}, expect=303)
    counts["monitor"] = count(coordinator, "GET", "/monitor/")
    app.extensions["referral.engine"].dispose()
    return counts


def start_server(workers):
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
         "--timeout", "120", "--log-level", "warning", "referral:create_app()"])
    for _ in range(300):
        try:
            if Browser(port).request("GET", "/healthz")[0] == 200:
                return server, port
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError("gunicorn did not answer /healthz")


def bench_scale(app, args):
    """Count statements, then drive every page through gunicorn; return the rows."""
    ids = world(app)
    statements = count_statements(app, ids)
    ids = world(app)  # the in-process counts accepted one and made one
    server, port = start_server(args.workers)
    rows = {}
    try:
        for name, email, job in jobs(ids):
            if name == "referral (partner)":
                ids = world(app)  # the referrals just made are the partner's to accept
                job["items"] = [f"/referrals/{i}" for i, _ in ids["requested"]]
            elif name == "accept referral":
                job["items"] = ids["requested"]
            if not job["items"]:
                print(f"  {name}: nothing to do", flush=True)
                continue
            rows[name] = run_phase(port, email, job, args.clients, args.seconds,
                                   args.writes if job["kind"] != "get" else args.requests)
            rows[name]["statements"] = statements[name]
            print(f"  {name}: {len(rows[name]['times'])} requests, "
                  f"{statistics.median(rows[name]['times']) * 1000:.1f} ms median", flush=True)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
    for row in rows.values():
        row["× healthz"] = row["throughput"] / rows["/healthz"]["throughput"]
    return rows, ids["size"]


# --- the report --------------------------------------------------------------------------

def ms(values, share):
    return f"{percentile(values, share) * 1000:.1f}"


def scale_table(rows):
    lines = ["| page | requests | errors | req/s | ÷ healthz req/s | p50 ms | p95 ms | p99 ms "
             "| SQL |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, row in rows.items():
        lines.append(f"| {name} | {len(row['times'])} | {row['errors']} | "
                     f"{row['throughput']:.1f} | {row['× healthz']:.3f} | "
                     f"{ms(row['times'], .5)} | {ms(row['times'], .95)} | "
                     f"{ms(row['times'], .99)} | {row['statements']} |")
    return lines


def growth_table(small, large):
    lines = ["| page | p50 municipal ms | p50 national ms | growth | within 1.5× | SQL |",
             "|---|---:|---:|---:|---|---|"]
    for name in small:
        if name not in large:
            continue
        a, b = (statistics.median(r[name]["times"]) for r in (small, large))
        sql = (f"{small[name]['statements']} → {large[name]['statements']}")
        lines.append(f"| {name} | {a * 1000:.1f} | {b * 1000:.1f} | {b / a:.2f}× | "
                     f"{'yes' if b / a <= TARGET else '**no**'} | {sql} |")
    return lines


def machine():
    memory = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    return (f"{os.cpu_count()} cores ({cpu.group(1) if cpu else platform.machine()}), "
            f"{memory / 1024 ** 2:.0f} GiB, Python {platform.python_version()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", dest="runs", metavar="DATABASE:SCALE",
                        help="sqlite or postgresql, and demo, municipality or national "
                             "(repeatable); default: " + ", ".join(RUNS))
    parser.add_argument("--database-url", default=os.environ.get(
        "REFERRAL_BENCH_DATABASE_URL",
        "postgresql+psycopg://postgres@127.0.0.1:5432/referral_bench"),
        help="the PostgreSQL database to drop and fill (default: referral_bench)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients per page")
    parser.add_argument("--seconds", type=float, default=5, help="bound per page in time …")
    parser.add_argument("--requests", type=int, default=400, help="… and in requests (reads)")
    parser.add_argument("--writes", type=int, default=40, help="… and in requests (writes)")
    parser.add_argument("--report", default=str(ROOT / "report.md"))
    args = parser.parse_args()
    began, results = time.perf_counter(), {}
    report = [f"# Page benchmark, {date.today()}", "",
              f"Machine: {machine()}. gunicorn with {args.workers} sync workers; "
              f"{args.clients} concurrent clients per page, each page at most "
              f"{args.seconds:g} s and {args.requests} requests ({args.writes} for writes); "
              "SQL is the statements of one request of the page.", ""]
    for run in args.runs or RUNS:
        database, _, scale = run.partition(":")
        print(f"{database}, {scale} scale: loading the data", flush=True)
        started = time.perf_counter()
        app = setup_database(args.database_url if database == "postgresql" else None,
                             SCALES[scale])
        loaded = time.perf_counter() - started
        print(f"{database}, {scale} scale, loaded in {loaded:.0f} s:", flush=True)
        rows, size = bench_scale(app, args)
        results[database, scale] = rows
        report += [f"## {size.pop('version')}, {scale} scale", "",
                   f"{', '.join(f'{v:,} {k}' for k, v in size.items())}; "
                   f"loaded in {loaded:.0f} s.", "", *scale_table(rows), ""]
    for database in ("sqlite", "postgresql"):
        small, large = (results.get((database, s)) for s in ("municipality", "national"))
        if small and large:
            label = {"sqlite": "SQLite", "postgresql": "PostgreSQL"}[database]
            report += [f"## {label}: growth from municipal to national scale", "",
                       *growth_table(small, large), ""]
    report.append(f"Whole run: {time.perf_counter() - began:.0f} s.")
    text = "\n".join(report) + "\n"
    Path(args.report).write_text(text)
    print("\n" + text + f"(written to {args.report})")
    errors = sum(row["errors"] for rows in results.values() for row in rows.values())
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
