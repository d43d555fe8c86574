"""PostgreSQL goes away while gunicorn serves: its connections are cut (pg_terminate_backend),
the server is stopped and restarted. Requests in the meantime get the friendly 503 page; the
same gunicorn, workers not restarted, serves again once the database is back; and every
referral is saved whole (its events, audit entries and mail) or not at all.

Always on PostgreSQL (127.0.0.1:5432), also when the rest of the suite runs on SQLite."""

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.reliability.conftest import (
    Browser,
    assert_all_or_nothing,
    backends,
    on_every_worker,
    paused_worker,
    pg_ctl,
    refer_form,
    resume,
    terminate_backends,
    write_lock,
)

LIST = "/referrals/"


@pytest.fixture
def app_config(pg_app_config, postgres_server):
    """This module's database: always PostgreSQL, whose server is running again afterwards."""
    return pg_app_config


def assert_friendly_503(page):
    assert page.status == 503, (page.status, page.text[:300])
    assert ("Er is niets opgeslagen. Probeer het over een minuut opnieuw." in page.text
            or "Nothing was saved. Try again in a minute." in page.text)
    for internal in ("Traceback", "OperationalError", "psycopg", "sqlalchemy", "5432"):
        assert internal not in page.text


def wait_for_lock_waiter(url, seconds=20):
    deadline = time.monotonic() + seconds
    while not (waiting := backends(url, wait_event_type="Lock")):
        assert time.monotonic() < deadline, "no request waits for the lock"
        time.sleep(0.05)
    return waiting


def test_outage_gives_503_and_the_same_workers_recover(app_config, world, gunicorn):
    server = gunicorn(app_config, workers=2)
    workers = server.worker_pids()
    browser = Browser(server.base)
    browser.login(world.owner)
    everyone = dict.fromkeys(workers, 200)
    assert on_every_worker(browser, server, LIST) == everyone

    # Connections cut under idle workers: the pool notices on checkout and reconnects.
    assert len(terminate_backends(app_config["DATABASE_URL"])) >= len(workers)
    assert on_every_worker(browser, server, LIST) == everyone

    path, data = refer_form(browser, world)
    pg_ctl("stop")
    try:
        assert_friendly_503(browser.get(LIST))
        assert on_every_worker(browser, server, LIST) == dict.fromkeys(workers, 503)
        assert_friendly_503(browser.request(path, data))
    finally:
        pg_ctl("start")
    assert on_every_worker(browser, server, LIST) == everyone
    assert server.worker_pids() == workers  # recovered without a restart

    saved = browser.request(path, data)  # the form sent during the outage, sent again
    assert saved.status == 200 and f"/families/{world.family_id}" in saved.url, saved
    assert_all_or_nothing(app_config, saved=[data["form_token"]])


@pytest.mark.parametrize("cut", ["terminate", "restart"])
def test_connection_lost_mid_transaction_saves_nothing(app_config, world, gunicorn, cut):
    """The request has inserted its referral and waits for the audit chain's head row when
    its connection goes: it answers 503, and nothing of it stays."""
    server = gunicorn(app_config, workers=1)
    workers = server.worker_pids()
    browser = Browser(server.base)
    browser.login(world.owner)
    path, data = refer_form(browser, world)
    url = app_config["DATABASE_URL"]
    with ThreadPoolExecutor(1) as pool, write_lock(app_config):
        sent = pool.submit(browser.request, path, data)
        waiting = wait_for_lock_waiter(url)
        if cut == "terminate":
            terminate_backends(url, pid=waiting[0])
        else:
            pg_ctl("restart")
        answer = sent.result(timeout=30)
    assert_friendly_503(answer)
    assert server.worker_pids() == workers
    assert_all_or_nothing(app_config, not_saved=[data["form_token"]])
    again = browser.request(path, data)
    assert again.status == 200, again
    assert_all_or_nothing(app_config, saved=[data["form_token"]])


def test_connection_lost_at_commit_gives_503_and_saves_nothing(app_config, world, gunicorn,
                                                              tmp_path):
    server = gunicorn(app_config, workers=1, pause_at="COMMIT")
    browser = Browser(server.base)
    browser.login(world.owner)
    path, data = refer_form(browser, world)
    with ThreadPoolExecutor(1) as pool:
        sent = pool.submit(browser.request, path, data)
        paused_worker(tmp_path)
        terminate_backends(app_config["DATABASE_URL"], state="idle in transaction")
        resume(tmp_path)
        answer = sent.result(timeout=30)
    assert_friendly_503(answer)
    assert_all_or_nothing(app_config, not_saved=[data["form_token"]])
    again = browser.request(path, data)
    assert again.status == 200, again
    assert_all_or_nothing(app_config, saved=[data["form_token"]])


def test_worker_killed_while_its_transaction_waits(app_config, world, gunicorn):
    """No hook at all: the test holds the audit chain's head row, so the request stops after
    inserting its referral, inside its transaction. Kill the worker there and let go of the
    lock: PostgreSQL rolls the orphaned transaction back."""
    server = gunicorn(app_config, workers=1)
    [worker] = server.worker_pids()
    browser = Browser(server.base)
    browser.login(world.owner)
    path, data = refer_form(browser, world)
    with ThreadPoolExecutor(1) as pool, write_lock(app_config):
        sent = pool.submit(browser.request, path, data)
        wait_for_lock_waiter(app_config["DATABASE_URL"])
        os.kill(worker, signal.SIGKILL)
        answer = sent.result(timeout=30)
    assert answer.status == 0 or answer.status >= 500, answer
    assert_all_or_nothing(app_config, not_saved=[data["form_token"]])
    server.wait_for_workers(1)
    again = browser.request(path, data)
    assert again.status == 200, again
    assert_all_or_nothing(app_config, saved=[data["form_token"]])


def test_connection_lost_at_the_request_edge_commit_gives_503(app_config, world, gunicorn,
                                                              tmp_path):
    """Most forms commit after the view, in after_request (here: logging in, which writes an
    audit entry); a connection lost there is the same friendly 503, not a 500."""
    server = gunicorn(app_config, workers=1, pause_at="COMMIT", pause_path="/login")
    browser = Browser(server.base)
    with ThreadPoolExecutor(1) as pool:
        sent = pool.submit(browser.post_form, "/login", {"email": world.owner.email,
                                                          "password": world.owner.password})
        paused_worker(tmp_path)
        terminate_backends(app_config["DATABASE_URL"], state="idle in transaction")
        resume(tmp_path)
        answer = sent.result(timeout=30)
    assert_friendly_503(answer)
    assert_all_or_nothing(app_config)  # the audit chain holds no half of it
    browser.login(world.owner)
