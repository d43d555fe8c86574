"""Page benchmark: every page's throughput as a share of a bare Flask app's on the same server.

Run with `make bench` (or `python bench/pages.py --run sqlite:demo …`). For each run (a
database and a scale) it loads fresh data, starts the real app and a bare Flask "hello" app
(bench/hello.py) under gunicorn with the same settings (4 sync workers), logs in to get the
session cookie and drives each page with Debian's `wrk` (1 thread, 8 connections, the cookie
header, a few seconds per page), with the bare app measured for a second between the pages.
For each page it prints requests per second, the ratio to the bare app's around it, p99
latency, the SQL statements of one request (counted in-process) and the
target the issue sets: read pages ≥ 0.15, pages that log a family read ≥ 0.10, form posts
≥ 0.08 of bare Flask, p99 under 100 ms.
"""

import argparse
import http.client
import json
import os
import platform
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import logged_in, statements  # noqa: E402
from directory import free_port, fresh_postgres_database  # noqa: E402

ROOT = Path(__file__).resolve().parent
# The checkout this script is in is the one measured (in-process, gunicorn and flask init),
# not whichever one the virtualenv was installed from.
sys.path.insert(0, str(ROOT.parent))
os.environ["PYTHONPATH"] = os.pathsep.join(
    filter(None, [str(ROOT.parent), os.environ.get("PYTHONPATH")]))
PASSWORD = "oefen-wachtwoord-2026"  # the demo accounts' password  # noqa: S105  # nosec B105
PROFESSIONAL, PARTNER, BRIDGE, COORDINATOR = (
    "jgz@demo.example", "partner@demo.example", "brug@demo.example", "coordinator@demo.example")
FAMILY = "a family, by its feedback link"  # not an account: a browser that opened a link
SCALES = {"demo": 0, "municipality": 0.1, "national": 1.0}  # as referral.dev.scale.SCALES
RUNS = ["sqlite:demo", "postgresql:demo", "sqlite:municipality", "postgresql:municipality"]
# The bare app is measured for this long between the pages: each page's share is to the bare
# app's rate around it (this machine's speed drifts by a third within minutes).
BESIDE_SECONDS = 1.0

# The targets, as shares of the bare app's requests per second.
READ, LOGGED_READ, POST = 0.15, 0.10, 0.08
P99_MS = 100
MUNICIPALITY = "GM9901"  # Voorbeeldstad, the demo's (and the generated data's) own


# --- wrk -----------------------------------------------------------------------------------

def ensure_wrk():
    ensure_debian_tool("wrk")


def ensure_debian_tool(name):
    """A command from Debian's package of the same name (wrk, valgrind), installed if
    missing (as root; otherwise say how)."""
    if shutil.which(name):
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", name], check=True)
    if not shutil.which(name):
        sys.exit(f"{name} is missing: apt-get install {name}")


LUA = r"""
-- Written by bench/pages.py: the requests of one page, checked and timed.
local ffi = require("ffi")
pcall(ffi.cdef, [[ typedef struct { long tv_sec; long tv_nsec; } bench_ts;
                   int clock_gettime(int, bench_ts *); ]])
local ts = ffi.new("bench_ts")
local function now() ffi.C.clock_gettime(1, ts); return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) / 1e9 end
local items = %(items)s
local expect = %(expect)s
local unique = %(unique)s
local headers = %(headers)s
local sent = 0
first, last, got, bad = 0, 0, 0, 0
local threads = {}
function setup(thread) table.insert(threads, thread) end
-- Each item once (unique): when they are all sent, the connections wait on /healthz until
-- the last answer is in, which is not counted; the clock stops at the last item's answer.
function request()
  sent = sent + 1
  if sent == 1 then first = now() end
  if unique and sent > #items then return wrk.format("GET", "/healthz", headers) end
  local item = items[(sent - 1) %% #items + 1]
  return wrk.format(item[1], item[2], headers, item[3])
end
-- As a browser does, later requests carry the session cookie the app sent last (it renews
-- the cookie once a minute to move the idle clock; a stale one would be renewed each time).
-- Not a post's: its answer's cookie holds the post's message ("The note is saved."), which
-- a browser's next page, the one the post redirects to, takes out again; this one does not
-- follow the redirect, so every later post would carry all the messages before it.
local function keep_cookie(set_cookie)
  local name, value = set_cookie:match("^%%s*([^=;]+)=([^;]*)")
  if not name or not headers["Cookie"] then return end
  local jar, found = headers["Cookie"]:gsub(name .. "=[^;]*", function() return name .. "=" .. value end)
  headers["Cookie"] = found > 0 and jar or (jar .. "; " .. name .. "=" .. value)
end
function response(status, response_headers, body)
  if response_headers["Set-Cookie"] and expect == 200 then keep_cookie(response_headers["Set-Cookie"]) end
  if unique and status == 200 and body:find('"status":', 1, true) then return end
  got = got + 1
  last = now()
  local location = response_headers["Location"] or ""
  if status ~= expect or location:find("/login", 1, true) then bad = bad + 1 end
  if unique and got >= #items then wrk.thread:stop() end
end
function done(summary, latency, requests)
  for _, thread in ipairs(threads) do
    io.write(string.format("BENCH %%d %%d %%.6f\n", thread:get("got"), thread:get("bad"),
                           thread:get("last") - thread:get("first")))
  end
end
"""


def lua_string(text):
    return json.dumps(text)  # JSON string escapes are valid Lua string escapes for ASCII


def lua_script(items, expect, unique, cookie):
    rows = ",\n".join(
        f"{{{lua_string(method)}, {lua_string(path)}, "
        f"{lua_string(body) if body is not None else 'nil'}}}"
        for method, path, body in items)
    headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
    return LUA % dict(
        items="{\n" + rows + "\n}", expect=expect, unique="true" if unique else "false",
        headers="{" + ", ".join(f"[{lua_string(k)}] = {lua_string(v)}"
                                for k, v in headers.items()) + "}")


def seconds_of(value, unit):
    return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]


def run_wrk(port, items, *, expect=200, unique=False, cookie="", seconds=5.0, connections=8):
    """Drive the items with wrk; requests per second, p99 in ms, requests and errors."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(lua_script(items, expect, unique, cookie))
    try:
        output = subprocess.run(
            ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--timeout", "30s",
             "--latency", "-s", script.name, f"http://127.0.0.1:{port}/"],
            check=True, capture_output=True, text=True).stdout
    finally:
        os.unlink(script.name)
    found = re.search(r"^BENCH (\d+) (\d+) (-?[\d.]+)", output, re.M)
    if found is None:
        raise RuntimeError(f"wrk said:\n{output}")
    got, bad, span = found.groups()
    got, bad, span = int(got), int(bad), float(span)
    p99 = re.search(r"^\s*99%\s+([\d.]+)(us|ms|s|m)\b", output, re.M)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       output)
    socket_errors = sum(map(int, errors.groups())) if errors else 0
    if unique:  # wrk's own rate divides by the whole duration, after the items ran out
        done = min(got, len(items))
        rate = done / span if span else 0.0
    else:
        done = int(re.search(r"(\d+) requests in", output).group(1))
        rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    return dict(rate=rate, p99=seconds_of(*p99.groups()) * 1000 if p99 else float("nan"),
                requests=done, errors=bad + socket_errors)


# --- servers and sessions -------------------------------------------------------------------

class Browser:
    """A logged-in visitor, to get the session cookie and the forms' tokens."""

    def __init__(self, port):
        self.port, self.cookies = port, {}

    def request(self, method, path, fields=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        headers = {"Cookie": self.cookie()}
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

    def cookie(self):
        return "; ".join(f"{k}={v}" for k, v in self.cookies.items())

    def login(self, email):
        _, _, page = self.request("GET", "/login")
        status, location, _ = self.request("POST", "/login", {
            "csrf_token": csrf(page), "email": email, "password": PASSWORD})
        if status not in (302, 303) or "/login" in location:
            raise RuntimeError(f"login as {email} failed: {status} {location}")
        return self


def csrf(page, name="csrf_token"):
    return re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]+)"', page).group(1)


# The app as it runs in production: without the development mail sink, which delivers the
# outbox after every response (a transaction per request, on the worker's time); SQLite
# allowed, and no second factor, since the bench logs in with a password (the login is not
# a page it measures).
PRODUCTION = {"REFERRAL_ENV": "production", "REFERRAL_ALLOW_SQLITE_IN_PRODUCTION": "true",
              "REFERRAL_REQUIRE_2FA": "false"}


def start_server(app_spec, workers, chdir=None, env=None):
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "-w", str(workers), "-b", f"127.0.0.1:{port}",
               "--timeout", "120", "--log-level", "warning"]
    if chdir:
        command += ["--chdir", str(chdir)]
    server = subprocess.Popen([*command, app_spec], env={**os.environ, **(env or {})})
    for _ in range(300):
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/")
            connection.getresponse().read()
            connection.close()
            return server, port
        except OSError:
            time.sleep(0.1)
    server.terminate()
    raise RuntimeError(f"gunicorn {app_spec} did not answer")


def stop_server(server):
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)


# --- data -----------------------------------------------------------------------------------

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
    """What the pages work on: ids from the database, and the data's size."""
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
        everyone = [f.id for f in families_of(nurse)]
        families = everyone[:50]
        # The families the partner may receive referrals for get the bench's new signals,
        # so the referral posts have signals enough to refer (at any scale).
        consented = [f for f in everyone[:500] if active_consent(f, partner.organisation_id)]
        consented = consented[:50]
        signals = session.execute(select(Signal.id).where(Signal.family_id.in_(consented))
                                  .order_by(Signal.created_at)).scalars().all()
        services = session.execute(select(Service.id).where(
            Service.organisation_id == partner.organisation_id, Service.status == "active",
            Service.referral_route == "inbox").order_by(Service.name)).scalars().all()
        taken = set(session.execute(select(Referral.signal_id, Referral.service_id).where(
            Referral.signal_id.in_(signals),
            Referral.status.in_([s.value for s in OPEN]))).all())
        pairs = [(s, v) for v in services for s in signals if (s, v) not in taken]
        requested = session.execute(select(Referral.id, Referral.version).where(
            Referral.organisation_id == partner.organisation_id, Referral.by_inbox,
            Referral.status == Status.requested).order_by(Referral.created_at)).all()
        mine = session.execute(select(Referral.id).where(
            Referral.owner_id == nurse.id, Referral.status.in_([s.value for s in OPEN]))
            .order_by(Referral.created_at.desc()).limit(50)).scalars().all()
        any_service = session.execute(select(Service.id).where(Service.status == "active")
                                      .order_by(Service.name).limit(20)).scalars().all()
        version = ("PostgreSQL " + session.execute(text("SHOW server_version")).scalar().split()[0]
                   if db.engine().dialect.name == "postgresql"
                   else f"SQLite {sqlite3.sqlite_version}")
        size = {name: session.execute(select(func.count()).select_from(model)).scalar()
                for name, model in (("families", Family), ("signals", Signal),
                                    ("referrals", Referral), ("services", Service))}
    app.extensions["referral.engine"].dispose()  # gunicorn's workers open their own
    return dict(families=families, consented=consented or families, signals=signals,
                pairs=pairs, mine=mine,
                services=any_service, requested=[(str(i), v) for i, v in requested],
                size={**size, "version": version})


# --- the pages --------------------------------------------------------------------------------

def follow_up():
    return (date.today() + timedelta(days=14)).isoformat()


def pages(ids):
    """(name, account, kind, target, items): items are (method, path, fields) with the CSRF
    field filled in later; kind get, or post (repeatable) or unique (each item once)."""
    family = ids["families"]
    return [
        ("home /", PROFESSIONAL, "get", READ, [("GET", "/", None)]),
        ("my families", PROFESSIONAL, "get", READ, [("GET", "/families/", None)]),
        ("my referrals", PROFESSIONAL, "get", READ, [("GET", "/referrals/", None)]),
        ("family page", PROFESSIONAL, "get", LOGGED_READ,
         [("GET", f"/families/{f}", None) for f in family]),
        ("referral page (owner)", PROFESSIONAL, "get", LOGGED_READ,
         [("GET", f"/referrals/{r}", None) for r in ids["mine"]]),
        ("directory search ?q=voedsel", PROFESSIONAL, "get", READ,
         [("GET", "/directory/?q=voedsel", None)]),
        ("directory search by domain and municipality", PROFESSIONAL, "get", READ,
         [("GET", f"/directory/?domains=food&municipality={MUNICIPALITY}", None)]),
        ("service page", PROFESSIONAL, "get", READ,
         [("GET", f"/directory/services/{s}", None) for s in ids["services"]]),
        ("create signal (post)", PROFESSIONAL, "post", POST,
         [("POST", f"/families/{f}/signals/new",
           {"domains": ["food", "money"], "urgency": "normal", "source": "conversation",
            "observations": "Gezien tijdens het spreekuur (bench)."})
          for f in ids["consented"]]),
        ("add note (post)", PROFESSIONAL, "post", POST,
         [("POST", f"/referrals/{r}/notes", {"text": "Moeder gebeld (bench)."})
          for r in ids["mine"]]),
        ("create referral (post)", PROFESSIONAL, "unique", POST,
         [("POST", f"/referrals/new/{s}",
           {"form_token": str(uuid.uuid4()), "services": str(v),
            "message": "Graag contact met moeder (bench).", "follow_up_on": follow_up(),
            "send": "send"}) for s, v in ids["pairs"]]),
        ("partner inbox", PARTNER, "get", READ, [("GET", "/referrals/", None)]),
        ("referral page (partner)", PARTNER, "get", LOGGED_READ, None),  # after the posts
        ("accept referral (post)", PARTNER, "unique", POST, None),
        ("bridge list", BRIDGE, "get", READ, [("GET", "/referrals/", None)]),
        ("monitor", COORDINATOR, "get", READ, [("GET", "/monitor/", None)]),
        ("pledges", COORDINATOR, "get", READ, [("GET", "/monitor/pledges", None)]),
        ("feedback form", FAMILY, "get", READ, [("GET", "/f/form", None)]),
    ]


def feedback_link(app, family_id):
    """A new feedback link for the family, made as its professional makes one: the token.
    A link works in the one browser that opens it first, so each visitor gets its own."""
    from referral import db
    from referral.auth.queries import find_user
    from referral.cases.models import Family
    from referral.feedback import operations

    with app.app_context():
        _, token = operations.invite(find_user(PROFESSIONAL),
                                     db.session().get(Family, family_id))
        db.commit()
    app.extensions["referral.engine"].dispose()
    return token


def feedback_visitor(app, family_id):
    """A test client holding a family's feedback link, as the family's phone would."""
    client = app.test_client()
    assert client.get(f"/f/{feedback_link(app, family_id)}").status_code == 303
    assert 'method="post"' in client.get("/f/form").text, "the feedback form did not open"
    return client


def partner_items(ids):
    return {
        "referral page (partner)": [("GET", f"/referrals/{r}", None) for r, _ in ids["requested"]],
        "accept referral (post)": [("POST", f"/referrals/{r}/status/accepted",
                                    {"accepted-version": str(v)}) for r, v in ids["requested"]],
    }


def with_token(fields, token, path):
    name = "accepted-csrf_token" if path.endswith("/status/accepted") else "csrf_token"
    return {name: token, **fields}


def count_statements(app, clients, email, kind, items, ids):
    """SQL statements of one request of the page, in-process with a test client, once the
    page has been shown before (what it keeps is kept: the monitor counts its figures on
    its first request, 31 statements, and reads them after, 6); a unique page uses up its
    last item here (returns the items left for wrk)."""
    if email not in clients:
        clients[email] = (feedback_visitor(app, ids["families"][0]) if email == FAMILY
                          else logged_in(app, email))
    client = clients[email]
    method, path, fields = items[-1] if kind == "unique" else items[0]
    try:
        if method == "GET":
            client.get(path)
            return statements(app, client, path), items
        page = client.get(path.removesuffix("/status/accepted").removesuffix("/notes")).text
        field = "accepted-csrf_token" if path.endswith("/accepted") else "csrf_token"
        count = statements(app, client, path, method="POST", expect=303,
                           data=with_token(fields, csrf(page, field), path))
        return count, items[:-1] if kind == "unique" else items
    finally:
        app.extensions["referral.engine"].dispose()  # no connection held beside gunicorn's


def body(fields):
    return urllib.parse.urlencode(fields, doseq=True)


def session_for(port, email, sample):
    """A logged-in session on the real app: the cookie, and the CSRF token its forms carry."""
    browser = Browser(port).login(email)
    token = None
    if sample is not None:
        method, path, _ = sample
        form_page = (path.removesuffix("/status/accepted").removesuffix("/notes"))
        status, _, page = browser.request("GET", form_page)
        field = "accepted-csrf_token" if path.endswith("/accepted") else "csrf_token"
        if status != 200:
            raise RuntimeError(f"{form_page}: {status}")
        token = csrf(page, field)
    return browser.cookie(), token


def family_session(app, port, family_id):
    """The cookies of a browser on the real app that opened a family's feedback link."""
    browser = Browser(port)
    status, _, _ = browser.request("GET", f"/f/{feedback_link(app, family_id)}")
    _, _, page = browser.request("GET", "/f/form")
    if status != 303 or 'method="post"' not in page:
        raise RuntimeError("the feedback link did not open the form")
    return browser.cookie(), None


def bench_run(app, args):
    """Drive the bare app and every page; return the rows."""
    ids = world(app)
    hello, hello_port = start_server("hello:app", args.workers, chdir=ROOT)
    server, port = start_server("referral.wsgi:app", args.workers, env=PRODUCTION)
    rows, sessions, clients = {}, {}, {}
    try:
        def bare(label):
            run_wrk(hello_port, [("GET", "/", None)], seconds=1)  # warm up
            rows[label] = dict(run_wrk(hello_port, [("GET", "/", None)], seconds=args.seconds),
                               kind="bare", target=None, statements=None)
            print(f"  {label}: {rows[label]['rate']:.0f} req/s", flush=True)

        def beside():
            """The bare app's rate now: measured between the pages, so each page's share
            is to the bare app's rate around it, not to one measured minutes apart."""
            return run_wrk(hello_port, [("GET", "/", None)], seconds=BESIDE_SECONDS)["rate"]

        bare("bare Flask (before)")
        around = [beside()]
        rows["/healthz"] = dict(run_wrk(port, [("GET", "/healthz", None)],
                                        seconds=args.seconds),
                                kind="get", target=None, statements=None)
        around.append(beside())
        rows["/healthz"]["base"] = (around[-2] + around[-1]) / 2
        for name, email, kind, target, _ in pages(ids):
            if kind == "unique" or name == "referral page (partner)":
                ids = world(app)  # the signals and referrals the posts before made
            items = dict((n, i) for n, _e, _k, _t, i in pages(ids))[name]
            if items is None:
                items = partner_items(ids)[name]
            if not items:
                print(f"  {name}: nothing to do", flush=True)
                continue
            count, items = count_statements(app, clients, email, kind, items, ids)
            key = (email, kind != "get")
            if key not in sessions and email == FAMILY:
                sessions[key] = family_session(app, port, ids["families"][1])
            elif key not in sessions:
                sessions[key] = session_for(port, email, items[0] if kind != "get" else None)
            cookie, token = sessions[key]
            if kind == "get":
                run_wrk(port, items, cookie=cookie, seconds=1)  # compile templates, warm up
                requests = items
            else:
                requests = [(m, p, body(with_token(f, token, p))) for m, p, f in items]
            result = run_wrk(port, requests, expect=200 if kind == "get" else 303,
                             unique=kind == "unique", cookie=cookie, seconds=args.seconds)
            around.append(beside())
            rows[name] = dict(result, kind=kind, target=target, statements=count,
                              base=(around[-2] + around[-1]) / 2)
            if kind == "unique":
                sessions.pop(key)  # the token was read from the first item's page
            print(f"  {name}: {result['rate']:.1f} req/s, p99 {result['p99']:.0f} ms, "
                  f"{result['errors']} errors", flush=True)
        bare("bare Flask (after)")
    finally:
        stop_server(server)
        stop_server(hello)
    base = (rows["bare Flask (before)"]["rate"] + rows["bare Flask (after)"]["rate"]) / 2
    for row in rows.values():
        row.setdefault("base", base)
        row["ratio"] = row["rate"] / row["base"]
    return rows, ids["size"], base


# --- the report -------------------------------------------------------------------------------

def verdict(row):
    if row["target"] is None:
        return ""
    ok = row["ratio"] >= row["target"] and row["p99"] < P99_MS and not row["errors"]
    return f"≥ {row['target']:.2f}: {'yes' if ok else '**no**'}"


def run_table(rows):
    lines = ["| page | requests | errors | req/s | bare Flask beside | ÷ bare Flask | p99 ms "
             "| SQL | target |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    for name, row in rows.items():
        sql = "" if row["statements"] is None else row["statements"]
        lines.append(f"| {name} | {row['requests']:,} | {row['errors']} | {row['rate']:,.1f} | "
                     f"{row['base']:,.0f} | {row['ratio']:.3f} | {row['p99']:.1f} | {sql} | "
                     f"{verdict(row)} |")
    return lines


def machine():
    memory = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
    cpu = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
    load = os.getloadavg()[0]
    return (f"{os.cpu_count()} cores ({cpu.group(1) if cpu else platform.machine()}), "
            f"{memory / 1024 ** 2:.0f} GiB, Python {platform.python_version()} "
            f"({sys._base_executable}), "
            f"load average {load:.1f} at the start")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", action="append", dest="runs", metavar="DATABASE:SCALE",
                        help="sqlite or postgresql, and demo, municipality or national "
                             "(repeatable); default: " + ", ".join(RUNS))
    parser.add_argument("--national", action="store_true",
                        help="add postgresql:national to the default runs (slow to load)")
    parser.add_argument("--database-url", default=os.environ.get(
        "REFERRAL_BENCH_DATABASE_URL",
        "postgresql+psycopg://postgres@127.0.0.1:5432/referral_bench"),
        help="the PostgreSQL database to drop and fill (default: referral_bench)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--seconds", type=float, default=5, help="wrk's duration per page")
    parser.add_argument("--report", default=str(ROOT / "report.md"))
    args = parser.parse_args()
    ensure_wrk()
    runs = args.runs or RUNS + (["postgresql:national"] if args.national else [])
    began, failed = time.perf_counter(), False
    report = [f"# Page benchmark, {date.today()}", "",
              f"Machine: {machine()}. gunicorn with {args.workers} sync workers for the app "
              f"and for a bare Flask app; wrk with 1 thread and 8 connections, "
              f"{args.seconds:g} s per page; SQL is the statements of one request. Targets: "
              f"read pages ≥ {READ}, family and referral pages ≥ {LOGGED_READ}, posts ≥ "
              f"{POST} of bare Flask, p99 under {P99_MS} ms.", ""]
    for run in runs:
        database, _, scale = run.partition(":")
        print(f"{database}, {scale} scale: loading the data", flush=True)
        started = time.perf_counter()
        app = setup_database(args.database_url if database == "postgresql" else None,
                             SCALES[scale])
        loaded = time.perf_counter() - started
        print(f"{database}, {scale} scale, loaded in {loaded:.0f} s:", flush=True)
        rows, size, base = bench_run(app, args)
        failed |= any(row["errors"] for row in rows.values())
        report += [f"## {size.pop('version')}, {scale} scale", "",
                   f"{', '.join(f'{v:,} {k}' for k, v in size.items())}; loaded in "
                   f"{loaded:.0f} s; bare Flask {base:,.0f} req/s (mean of before and "
                   f"after); each page's share is to the bare app's rate measured just "
                   f"before and after it ({BESIDE_SECONDS:g} s each).",
                   "", *run_table(rows), ""]
    report.append(f"Whole run: {time.perf_counter() - began:.0f} s.")
    text = "\n".join(report) + "\n"
    Path(args.report).write_text(text)
    print("\n" + text + f"(written to {args.report})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
