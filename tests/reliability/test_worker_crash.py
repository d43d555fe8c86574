"""A gunicorn worker that dies in the middle of a write (SIGKILL, or killed by gunicorn for
taking too long) leaves nothing half-saved: a referral is in the database with its events,
audit entries and mail, or not at all, and the audit chain still verifies. The client gets
an error, and the same form sent again is saved whole by the next worker."""

import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor

from tests.reliability.conftest import (
    Browser,
    assert_all_or_nothing,
    paused_worker,
    refer_form,
    write_lock,
)


def wait_for_exit(server, pid, seconds=10):
    """Until gunicorn has reaped the worker."""
    deadline = time.monotonic() + seconds
    while pid in server.worker_pids():
        assert time.monotonic() < deadline, f"worker {pid} still runs"
        time.sleep(0.05)


def send_in_background(browser, path, data, pool):
    return pool.submit(browser.request, path, data)


def test_worker_killed_mid_write_saves_nothing(app_config, world, gunicorn, tmp_path):
    # Paused at its last insert: the referral, its events and audit entries are written.
    server = gunicorn(app_config, workers=2, pause_at="INSERT INTO outbox_message")
    browser = Browser(server.base)
    browser.login(world.owner)
    path, data = refer_form(browser, world)
    with ThreadPoolExecutor(1) as pool:
        sent = send_in_background(browser, path, data, pool)
        worker = paused_worker(tmp_path)
        os.kill(worker, signal.SIGKILL)
        answer = sent.result(timeout=30)
    assert answer.status == 0 or answer.status >= 500, answer
    assert_all_or_nothing(app_config, not_saved=[data["form_token"]])

    server.wait_for_workers(2)  # gunicorn started a new worker in its place
    assert worker not in server.worker_pids()
    again = browser.request(path, data)
    assert again.status == 200 and f"/families/{world.family_id}" in again.url, again
    assert_all_or_nothing(app_config, saved=[data["form_token"]])


def test_request_past_the_timeout_is_killed_and_saves_nothing(app_config, world, gunicorn,
                                                             tmp_path):
    server = gunicorn(app_config, workers=1, timeout=1, pause_at="INSERT INTO outbox_message")
    browser = Browser(server.base)
    browser.login(world.owner)
    path, data = refer_form(browser, world)
    [worker] = server.worker_pids()
    started = time.monotonic()
    answer = browser.request(path, data)  # the worker pauses; gunicorn kills it after 1 s
    assert answer.status == 0 or answer.status >= 500, answer
    assert time.monotonic() - started < 15
    wait_for_exit(server, worker)
    assert_all_or_nothing(app_config, not_saved=[data["form_token"]])

    server.wait_for_workers(1)
    again = browser.request(path, data)
    assert again.status == 200, again
    assert_all_or_nothing(app_config, saved=[data["form_token"]])


def test_request_waiting_for_a_lock_gets_503_before_the_timeout(app_config, world, gunicorn):
    """Another transaction holds what the write needs: the request stops waiting after the
    lock timeout and answers the friendly 503 page, well before gunicorn would kill it."""
    server = gunicorn(app_config, workers=1, timeout=30,
                      env={"REFERRAL_SQLITE_BUSY_TIMEOUT_MS": "1000",
                           "REFERRAL_POSTGRES_LOCK_TIMEOUT_MS": "1000"})
    browser = Browser(server.base)
    browser.login(world.owner)
    path, data = refer_form(browser, world)
    with write_lock(app_config):
        started = time.monotonic()
        answer = browser.request(path, data)
        waited = time.monotonic() - started
    assert answer.status == 503, answer
    assert "Nothing was saved" in answer.text or "Er is niets opgeslagen" in answer.text
    assert "Traceback" not in answer.text
    assert 0.9 < waited < 10
    assert_all_or_nothing(app_config, not_saved=[data["form_token"]])
    again = browser.request(path, data)
    assert again.status == 200, again
    assert_all_or_nothing(app_config, saved=[data["form_token"]])
