"""Profile pages in-process: a logged-in test client, cProfile, the costliest functions.

    .venv/bin/python bench/profile_pages.py                       # the usual pages, demo data, SQLite
    .venv/bin/python bench/profile_pages.py --path / --path /families/ --rounds 200 --sort tottime
    .venv/bin/python bench/profile_pages.py --database-url postgresql+psycopg://…/referral_bench

Per page: the mean time of a request in-process (no server, no network) and the functions
with the most time. Paths may name {family}, {referral} and {service}: the demo's first.
`--post NAME` profiles one of the bench's form posts instead (signal, note, referral,
accept), each post as the bench sends it; a post made once per item (referral, accept)
runs as many rounds as there are items.
"""

import argparse
import cProfile
import io
import os
import pstats
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from common import logged_in  # noqa: E402
from pages import (  # noqa: E402  (puts this checkout first on sys.path)
    MUNICIPALITY,
    PARTNER,
    PROFESSIONAL,
    csrf,
    pages,
    partner_items,
    setup_database,
    with_token,
    world,
)

POSTS = {"signal": "create signal (post)", "note": "add note (post)",
         "referral": "create referral (post)", "accept": "accept referral (post)"}

PATHS = ["/healthz", "/", "/families/", "/referrals/", "/families/{family}",
         "/referrals/{referral}", "/directory/?q=voedsel",
         f"/directory/?domains=food&municipality={MUNICIPALITY}", "/directory/services/{service}"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", action="append", dest="paths")
    parser.add_argument("--email", default=PROFESSIONAL)
    parser.add_argument("--rounds", type=int, default=100)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--sort", default="cumulative")
    parser.add_argument("--database-url")
    parser.add_argument("--scale", type=float, default=0, help="share of national scale")
    parser.add_argument("--callees", help="instead of the top list: what functions whose "
                        "name holds this call, and their times")
    parser.add_argument("--callers", help="instead of the top list: which functions call "
                        "those whose name holds this, and how often")
    parser.add_argument("--post", choices=sorted(POSTS))
    parser.add_argument("--by-package", action="store_true",
                        help="instead of the top list: own time summed by package (the app's "
                        "modules, each library, Python itself)")
    parser.add_argument("--time-only", action="store_true",
                        help="only the mean time per request, no profile")
    args = parser.parse_args()
    # As in production (the bench's server): no development mail sink, which would send
    # each post's mail in a transaction of its own after the response.
    os.environ["REFERRAL_MAIL_SINK"] = "false"
    app = setup_database(args.database_url, args.scale)
    ids = world(app)
    names = {"family": ids["families"][0], "referral": ids["mine"][0],
             "service": ids["services"][0]}
    if args.post:
        # What a post made once per item needs first: signals to refer, referrals to accept.
        needs = {"referral": ["signal"], "accept": ["signal", "referral"]}.get(args.post, [])
        for kind in needs:
            requests = post_requests(app, kind, ids)
            for _ in range(args.rounds * 2 + 10):
                next(requests)()
            ids = world(app)
        requests = post_requests(app, args.post, ids)
        if args.post in ("referral", "accept"):  # each once: warm-up, timing, profile
            args.rounds = min(args.rounds, (len(requests.items) - 5) // 2)
        jobs = [(POSTS[args.post], lambda: next(requests)())]
    else:
        client = logged_in(app, args.email)
        jobs = [(template, get(client, template.format(**names)))
                for template in args.paths or PATHS]
    for label, request in jobs:
        for _ in range(5):  # templates compiled, caches warm
            request()
        began, cpu = time.perf_counter(), time.process_time()
        for _ in range(args.rounds):
            request()
        plain = (time.perf_counter() - began) / args.rounds
        cpu = (time.process_time() - cpu) / args.rounds
        if args.time_only:  # CPU time: much less moved by other processes than wall time
            print(f"{label}\t{plain * 1000:.2f} ms\tCPU {cpu * 1000:.2f} ms", flush=True)
            continue
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.rounds):
            request()
        profile.disable()
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out).sort_stats(args.sort)
        if args.by_package:
            print_by_package(stats, args.rounds, out)
        elif args.callees:
            stats.print_callees(args.callees)
        elif args.callers:
            stats.print_callers(args.callers)
        else:
            stats.print_stats(args.top)
        print(f"=== {label}: {plain * 1000:.2f} ms per request in-process")
        shown = out.getvalue().splitlines()  # the top list without pstats' heading
        print("\n".join(shown if args.by_package or args.callers or args.callees
                        else shown[6:]))


def print_by_package(stats, rounds, out):
    """Own time and calls per request, summed by where the code lives: a library (its
    top-level package under site-packages), the app's package or templates, Python's own
    library, or built-ins. When a page's cost is spread thin, which layer holds it."""
    totals, everything = {}, 0.0
    for (filename, _line, _name), (_calls, calls, own, _cumulative, _callers) in (
            stats.stats.items()):
        if "site-packages/" in filename:
            where = filename.split("site-packages/")[1].split("/")[0].removesuffix(".py")
        elif filename.startswith(str(ROOT)):
            where = Path(filename).relative_to(ROOT).parts[0]
        elif filename == "~":
            where = "built-ins (C)"
        else:
            where = "Python's library"
        seconds, count = totals.get(where, (0.0, 0))
        totals[where] = (seconds + own, count + calls)
        everything += own
    print(f"{'where':<24}{'own ms':>9}{'share':>8}{'calls':>9}", file=out)
    for where, (seconds, count) in sorted(totals.items(), key=lambda item: -item[1][0]):
        print(f"{where:<24}{seconds / rounds * 1000:>9.3f}{seconds / everything:>8.1%}"
              f"{count / rounds:>9.0f}", file=out)


def get(client, path):
    def request():
        assert client.get(path).status_code == 200, path
    return request


class post_requests:
    """The bench's posts of a kind as requests to make in turn, with the CSRF token of the
    form page, as the bench sends them (each once for the posts made once per item)."""

    def __init__(self, app, kind, ids):
        self.client = logged_in(app, PARTNER if kind == "accept" else PROFESSIONAL)
        self.items = {**{page[0]: page[4] for page in pages(ids)},
                      **partner_items(ids)}[POSTS[kind]]
        _, path, _ = self.items[0]
        form = path.removesuffix("/status/accepted").removesuffix("/notes")
        field = "accepted-csrf_token" if path.endswith("/accepted") else "csrf_token"
        self.token = csrf(self.client.get(form).text, field)
        self.cookie = self.client.get_cookie(app.config["SESSION_COOKIE_NAME"])
        self.sent = 0

    def __next__(self):
        method, path, fields = self.items[self.sent % len(self.items)]
        self.sent += 1

        def request():
            response = self.client.open(path, method=method,
                                        data=with_token(fields, self.token, path))
            assert response.status_code == 303, (path, response.status_code)
            # As the bench does: the post's cookie holds its message for the next page,
            # which is not asked for; kept, every later post would carry them all.
            self.client.set_cookie(self.cookie.key, self.cookie.value,
                                   domain=self.cookie.domain, path=self.cookie.path)
        return request


if __name__ == "__main__":
    main()
