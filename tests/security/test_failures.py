"""When things break: a value that does not decrypt, a key that is gone, a database that is
down. The user gets the app's generic error page with a request number and nothing else (no
trace, no table or column, no personal data); the server log gets the details under that same
number. And in a whole working day (a family, a signal, consent, a referral, the partner's
answer, mail) not one log line, at DEBUG, carries anything that identifies the family.
"""

import json
import logging
import re
import shutil
import uuid
from datetime import date

import pytest
import sqlalchemy as sa
from sqlmodel import SQLModel, select

from referral import crypto, db
from referral.auth.models import User
from referral.cases.models import Family
from referral.cases.operations import create_family
from referral.directory.models import Service
from referral.mail import send_pending
from tests.conftest import AMSTERDAM, csrf_token, post_form, raw_connection

UNREACHABLE_PG = "postgresql+psycopg://nobody@127.0.0.1:1/none"

# What the family in these tests is called and where it lives: none of it may ever be in a
# page about an error, nor in any log line.
MARKERS = {"parent_names": "MARKER-Zeynep-7731 Yilmaz", "child": "MARKER-Elif-7731",
           "phone": "06-7731-0000", "email": "marker.zeynep.7731@example.net",
           "street": "Markerstraat-7731", "observations": "MARKER-honger-7731 bij Elif",
           "message": "MARKER-bericht-7731 voedselpakket", "note": "MARKER-notitie-7731",
           "given_by": "MARKER-Zeynep-7731", "scope": "MARKER-scope-7731"}
# What to look for, case-sensitive and long enough never to turn up by chance in a hash, an id
# or a ciphertext of the log (a bare "Elif" or "7731" would, now and then).
NEEDLES = ("MARKER", "Marker", "marker", "Zeynep", "zeynep", "Yilmaz", "yilmaz", "06-7731-0000",
           "7731 MK", "7731 mk", "7731MK", "7731mk")

# What an error page must not show: the internals of the failure.
INTERNALS = ("Traceback", 'File "', "CryptoError", "InvalidTag", "OperationalError",
             "sqlalchemy", "psycopg", "sqlite3", "does not decrypt", "unknown key",
             "SELECT ", "127.0.0.1:1", "referral.sqlite", "/referral/")


def _encrypted_names():
    """Table names, encrypted column names and the contexts values are bound to."""
    pairs = crypto.encrypted_columns(SQLModel.metadata)
    return ({column.name for _, column in pairs}
            | {f"{table.name}/{column.name}" for table, column in pairs}
            | {name for name in SQLModel.metadata.tables if "_" in name})


def _page_problems(response, *secrets):
    text = response.get_data(as_text=True)
    problems = [f"shows {word!r}" for word in (*INTERNALS, *secrets) if word in text]
    problems += [f"names {name!r}" for name in sorted(_encrypted_names()) if name in text]
    request_id = response.headers.get("X-Request-Id", "")
    if (not re.fullmatch(r"[0-9a-f]{16}", request_id)
            or f"Fout {response.status_code}, aanvraagnummer {request_id}" not in text):
        problems.append(f"no 'Fout {response.status_code}, aanvraagnummer {request_id}'")
    return problems


def _log_text(record):
    """A log record as a log file would have it, with its exception and traceback."""
    return logging.Formatter("%(levelname)s %(name)s %(message)s").format(record)


def _everything_at_debug(caplog):
    """Capture every record at DEBUG, also of libraries that quiet their own loggers (such as
    SQLAlchemy, whose "sqlalchemy" logger stands at WARNING unless told otherwise)."""
    caplog.set_level(logging.DEBUG)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and logger.level != logging.NOTSET:
            caplog.set_level(logging.DEBUG, logger=name)


def _personal(caplog, *needles, staff=()):
    """Log lines with any of the needles; with staff addresses too, except in the log of the
    test's own SMTP server (aiosmtpd's "mail.log", which names whom it received mail for)."""
    return [(r.name, _log_text(r)[:300]) for r in caplog.records
            if any(n in _log_text(r) for n in needles)
            or (r.name != "mail.log" and any(s in _log_text(r) for s in staff))]


@pytest.fixture
def family(app, make_user, make_service):
    """A professional and two families of theirs (the second one's values to copy over)."""
    make_service("Voedselpakket", organisation="Voedselbank")
    owner = make_user("professional", organisation="JGZ Noord")
    with app.app_context():
        nurse = db.session().get(User, owner.id)
        made = create_family(nurse, parent_names=MARKERS["parent_names"],
                             phone=MARKERS["phone"], email=MARKERS["email"],
                             children=[(MARKERS["child"], date(2017, 3, 1))],
                             municipality_code=AMSTERDAM[0])
        other = create_family(nurse, parent_names="Anna de Vries",
                              children=[("Noor", date(2015, 5, 1))])
        db.commit()
        return owner, made.id, other.id


def _set_parent_names(app, family_id, value):
    """Write straight into the database, past the application: what an attacker with
    database access, a broken restore or a disk error does."""
    table = Family.__table__
    with raw_connection(app) as conn:
        conn.execute(sa.update(table).where(table.c.id == family_id)
                     .values(parent_names_enc=value))


def _stored(app, family_id):
    table = Family.__table__
    with raw_connection(app) as conn:
        return conn.execute(sa.select(table.c.parent_names_enc)
                            .where(table.c.id == family_id)).scalar_one()


def _altered(stored, _other):
    head, body = stored.rsplit(".", 1)  # f1.<body> (a family's key) or v1.<key id>.<body>
    flipped = body[:20] + ("A" if body[20] != "A" else "B") + body[21:]
    return f"{head}.{flipped}"


def _copied(_stored, other):
    return other  # a valid value, but sealed for another row


def _key_gone(stored, _other):
    body = stored.rsplit(".", 1)[1]
    return f"{crypto.VERSION}.k19700101dead00.{body}"


def _errors(caplog):
    """The warnings and errors logged so far (what an operator's log keeps)."""
    return [_log_text(r) for r in caplog.records if r.levelno >= logging.WARNING]


def _tampered(make_app, family, tamper):
    """An app on a database where the family's name was tampered with; a browser of the
    professional who works on the family, logged in."""
    owner, family_id, other_id = family
    app = make_app(PROPAGATE_EXCEPTIONS=False)
    _set_parent_names(app, family_id, tamper(_stored(app, family_id), _stored(app, other_id)))
    browser = app.test_client()
    post_form(browser, "/login", {"email": owner.email, "password": owner.password})
    return browser


def _without_the_key(make_app, app, owner):
    """A restore with the wrong keys.json: the key everything was sealed with is gone (the
    index and log keys are still right, so the login itself works)."""
    material = json.loads(crypto.key_file(app).read_text())
    broken = make_app(PROPAGATE_EXCEPTIONS=False, ENCRYPTION_KEYS=[crypto.new_key()],
                      INDEX_KEY=material["index_key"], LOG_KEY=material["log_key"])
    browser = broken.test_client()
    post_form(browser, "/login", {"email": owner.email, "password": owner.password})
    return browser


@pytest.mark.parametrize("tamper", [_altered, _copied, _key_gone],
                         ids=["altered", "copied-from-another-row", "key-not-in-keyring"])
def test_a_value_that_does_not_decrypt_gives_the_generic_error_page(
        make_app, family, caplog, tamper):
    owner, family_id, other_id = family
    browser = _tampered(make_app, family, tamper)
    _everything_at_debug(caplog)
    caplog.clear()
    for path in (f"/families/{family_id}", "/families/"):
        response = browser.get(path)
        assert response.status_code == 500, path
        assert "Er ging bij ons iets mis" in response.text
        problems = _page_problems(response, *NEEDLES, owner.email, "Anna de Vries")
        assert not problems, (path, problems)
    # The details are in the log: what failed to decrypt, where.
    assert any("CryptoError" in line and "family/parent_names_enc/" in line
               for line in _errors(caplog)), _errors(caplog)
    assert not _personal(caplog, *NEEDLES, "Anna de Vries", staff=[owner.email])
    # The page of the other family still opens: one bad value breaks one family, not the app.
    assert browser.get(f"/families/{other_id}").status_code == 200


def test_a_keyring_without_the_key_gives_the_generic_error_page(
        make_app, app, family, caplog):
    owner, family_id, _other = family
    _everything_at_debug(caplog)
    browser = _without_the_key(make_app, app, owner)
    for path in ("/", f"/families/{family_id}"):
        response = browser.get(path)
        assert response.status_code == 500, path
        assert not _page_problems(response, *NEEDLES, owner.email), path
    assert any("unknown key" in line for line in _errors(caplog)), _errors(caplog)
    assert not _personal(caplog, *NEEDLES, staff=[owner.email])


def _decryption(make_app, app, family):
    browser = _tampered(make_app, family, _altered)
    return lambda: browser.get(f"/families/{family[1]}")


def _keyring(make_app, app, family):
    browser = _without_the_key(make_app, app, family[0])
    return lambda: browser.get("/")


def _database_down(make_app, app, family):
    browser = make_app(PROPAGATE_EXCEPTIONS=False, DATABASE_URL=UNREACHABLE_PG).test_client()
    token = csrf_token(browser, "/login")
    return lambda: browser.post("/login", data={
        "csrf_token": token, "email": family[0].email, "password": family[0].password})


FAILURES = {"decryption": _decryption, "keyring-without-the-key": _keyring,
            "database-down": _database_down}


@pytest.mark.own_database
@pytest.mark.parametrize("failure", list(FAILURES))
def test_the_request_number_on_the_error_page_finds_the_details_in_the_log(
        make_app, app, family, caplog, failure):
    """The page says: tell the helpdesk the request number. The helpdesk must then find the
    failure in the server log by that number."""
    send = FAILURES[failure](make_app, app, family)
    _everything_at_debug(caplog)
    caplog.clear()
    response = send()
    assert response.status_code in (500, 503)
    request_id = response.headers["X-Request-Id"]
    assert request_id in response.text
    found = [line for line in _errors(caplog) if request_id in line]
    assert found, (f"request number {request_id} is on the {response.status_code} page but in "
                   f"no log line; the log has: {[e[:160] for e in _errors(caplog)]}")


# --- the database is down ----------------------------------------------------------------

def _vanished_sqlite(tmp_path):
    folder = tmp_path / "verdwenen"
    folder.mkdir()
    url = f"sqlite:///{folder / 'referral.sqlite'}"
    shutil.rmtree(folder)  # the disk it was on is gone
    return url


OUTAGES = {"postgresql-unreachable": lambda tmp_path: UNREACHABLE_PG,
           "sqlite-file-vanished": _vanished_sqlite}


@pytest.mark.own_database
@pytest.mark.parametrize("who", ["logging-in", "logged-in"])
@pytest.mark.parametrize("outage", list(OUTAGES))
def test_a_database_outage_gives_the_generic_error_page(
        make_app, app, family, caplog, tmp_path, outage, who):
    """Someone logging in (the password check needs the database) and someone logged in (the
    session's account is read from it), while the database is unreachable."""
    owner, family_id, _other = family
    # A logged-in browser's cookie, from when the database was still there.
    working = app.test_client()
    post_form(working, "/login", {"email": owner.email, "password": owner.password})
    cookie = working.get_cookie("referral_session").value
    down = make_app(PROPAGATE_EXCEPTIONS=False, DATABASE_URL=OUTAGES[outage](tmp_path),
                    SQLITE_BUSY_TIMEOUT_MS=500)
    browser = down.test_client()
    if who == "logged-in":
        browser.set_cookie("referral_session", cookie)
        requests = [(f"GET {path}", lambda path=path: browser.get(path))
                    for path in ("/", f"/families/{family_id}")]
    else:
        token = csrf_token(browser, "/login")
        requests = [("POST /login", lambda: browser.post("/login", data={
            "csrf_token": token, "email": owner.email, "password": owner.password}))]
    _everything_at_debug(caplog)
    caplog.clear()

    problems = []
    for what, send in requests:
        try:
            response = send()
        except Exception as exc:  # noqa: BLE001  (what escapes the app is the finding)
            # Out of the app's hands: the WSGI server answers with its own bare error, without
            # request number or security headers.
            problems.append(f"{what}: {type(exc).__name__} escaped the app's error pages: "
                            f"{str(exc).splitlines()[0][:120]}")
            continue
        if response.status_code not in (500, 503):
            problems.append(f"{what}: {response.status_code}")
        problems += [f"{what}: {p}" for p in _page_problems(
            response, *NEEDLES, owner.email, owner.password)]
        if not [e for e in _errors(caplog) if response.headers.get("X-Request-Id", "-") in e]:
            problems.append(f"{what}: nothing in the log under the request number")
    assert not problems, "\n".join(problems)
    assert not _personal(caplog, *NEEDLES, owner.password, staff=[owner.email])


# --- a whole day without personal data in the log ----------------------------------------

def _form_value(page, name):
    return re.search(rf'name="{name}"[^>]*value="([^"]+)"', page).group(1)


@pytest.mark.own_database
def test_no_log_line_of_a_whole_flow_holds_personal_data(make_app, make_user, make_service,
                                                          smtp, caplog):
    """Everything logged at DEBUG (the app, SQLAlchemy with its parameters, the mail) while a
    family is created, signalled, referred, accepted and mailed about."""
    _everything_at_debug(caplog)
    service = make_service("Voedselpakket", organisation="Voedselbank", referral_route="inbox",
                           email="aanmelden@voedselbank.example")
    nurse = make_user("professional", organisation="JGZ Noord")
    partner = make_user("partner", organisation="Voedselbank")
    stranger = make_user("professional", organisation="Basisschool Zuid")
    app = make_app()  # mail written to the log, as in development
    mailing = make_app(MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port)
    with app.app_context():
        voedselbank = db.session().get(Service, service).organisation_id
    caplog.clear()

    browser = app.test_client()
    # A login typed with the family's address, then the nurse's own.
    post_form(browser, "/login", {"email": MARKERS["email"], "password": "MARKER-7731-wachtwoord"})
    post_form(browser, "/login", {"email": nurse.email, "password": nurse.password})
    fields = {"parent_names": MARKERS["parent_names"], "phone": MARKERS["phone"],
              "email": MARKERS["email"], "street": MARKERS["street"], "house_number": "77",
              "postcode": "7731 MK", "municipality": AMSTERDAM[0], "language": "nl",
              "children-0-first_name": MARKERS["child"], "children-0-birth_date": "2017-03-01"}
    refused = post_form(browser, "/families/new", {**fields, "postcode": "MARKER-7731"})
    assert refused.status_code == 200  # a form with an error, shown again
    created = post_form(browser, "/families/new", fields)
    assert created.status_code == 303, created.text[:300]
    family_url = created.headers["Location"]
    family_id = uuid.UUID(family_url.rsplit("/", 1)[1])
    signal = post_form(browser, f"{family_url}/signals/new", {
        "domains": ["food"], "observations": MARKERS["observations"], "source": "conversation",
        "urgency": "soon", "strengths": "MARKER-7731 sterke moeder",
        "parent_wishes": "MARKER-7731 wil hulp", "child_wishes": "MARKER-7731 wil voetbal"})
    assert signal.status_code == 303
    consent = post_form(browser, f"{family_url}/consents/new", {
        "organisation": str(voedselbank), "scope": MARKERS["scope"], "child": "",
        "parent_agreed": "y", "given_by": MARKERS["given_by"], "method": "spoken",
        "given_on": date.today().isoformat()})
    assert consent.status_code == 303
    assert MARKERS["parent_names"] in browser.get(family_url).text
    with app.app_context():
        from referral.cases.models import Signal

        signal_id = db.session().exec(select(Signal.id).where(
            Signal.family_id == family_id)).one()
    page = browser.get(f"/referrals/new/{signal_id}").text
    referred = browser.post(f"/referrals/new/{signal_id}", data={
        "csrf_token": _form_value(page, "csrf_token"),
        "form_token": _form_value(page, "form_token"), "services": [str(service)],
        "message": MARKERS["message"], "follow_up_on": _form_value(page, "follow_up_on"),
        "send": "1"})
    assert referred.status_code == 303, referred.text[:300]
    with app.app_context():
        from referral.referrals.models import Referral

        referral = db.session().exec(select(Referral).where(
            Referral.family_id == family_id)).one()
        assert referral.status == "requested"
        assert send_pending()[0] >= 1  # to the partner's inbox address, written to the log

    other = app.test_client()  # someone of another organisation tries the family
    post_form(other, "/login", {"email": stranger.email, "password": stranger.password})
    assert other.get(family_url).status_code == 404

    desk = app.test_client()
    post_form(desk, "/login", {"email": partner.email, "password": partner.password})
    shown = desk.get(f"/referrals/{referral.id}")
    assert MARKERS["message"] in shown.text
    token = csrf_token(desk, f"/referrals/{referral.id}")
    accepted = desk.post(f"/referrals/{referral.id}/status/accepted", data={
        "accepted-csrf_token": token, "accepted-version": str(referral.version)})
    assert accepted.status_code == 303
    noted = post_form(desk, f"/referrals/{referral.id}/notes", {"text": MARKERS["note"]},
                      page=f"/referrals/{referral.id}")
    assert noted.status_code == 303
    with mailing.app_context():
        sent, failed = send_pending()  # the nurse hears of the answer and the note, by SMTP
    assert sent >= 1 and failed == 0 and len(smtp.messages) == sent

    # The capture really was at full verbosity: SQL with its parameters, and the mail.
    names = {r.name for r in caplog.records}
    assert any(name.startswith("sqlalchemy.engine") for name in names), names
    assert any("mail to" in r.getMessage() for r in caplog.records)
    leaks = _personal(caplog, *NEEDLES, staff=[nurse.email, partner.email, nurse.password])
    assert not leaks, f"{len(leaks)} log lines with personal data, for instance {leaks[:5]}"
