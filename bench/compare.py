"""Two checkouts side by side: each page driven on one, then the other, in turns.

    git worktree add /tmp/before <commit>           # and compile its translations there
    .venv/bin/python bench/compare.py /tmp/before                 # SQLite, demo data
    .venv/bin/python bench/compare.py /tmp/before --database postgresql --rounds 5

This machine's speed wanders by a third within minutes, so two `make bench` runs one after
the other compare the machine as much as the code. Here both checkouts serve at the same
time (gunicorn, the same settings as bench/pages.py), on one database filled once (the
checkouts must share its schema: no migration between them), and each page is driven on
one and then the other, in alternating order, `--rounds` times; the table gives the median
requests per second of each and their ratio. The pages are bench/pages.py's that can run
again (not the posts that use up their items, nor the feedback form).
"""

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pages  # noqa: E402  (puts this checkout first on sys.path)


def drive(servers, sessions, name, email, kind, items, rounds, seconds):
    """Each server's requests per second and p99 (ms) for one page, a run per round, in
    turns: the medians."""
    rates, p99s = {label: [] for label in servers}, {label: [] for label in servers}
    for number in range(rounds):
        order = list(servers.items()) if number % 2 == 0 else list(servers.items())[::-1]
        for label, port in order:
            cookie, token = sessions[(label, email, kind)]
            if kind == "get":
                requests = items
                if number == 0:
                    pages.run_wrk(port, requests, cookie=cookie, seconds=1)  # warm up
            else:
                requests = [(method, path, pages.body(pages.with_token(fields, token, path)))
                            for method, path, fields in items]
            result = pages.run_wrk(port, requests, expect=200 if kind == "get" else 303,
                                   cookie=cookie, seconds=seconds)
            if result["errors"]:
                raise RuntimeError(f"{name} on {label}: {result['errors']} errors")
            rates[label].append(result["rate"])
            p99s[label].append(result["p99"])
    return ({label: statistics.median(found) for label, found in rates.items()},
            {label: statistics.median(found) for label, found in p99s.items()})


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", help="the other checkout (translations compiled)")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--database-url", default=(
        "postgresql+psycopg://postgres@127.0.0.1:5432/referral_bench"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2)
    parser.add_argument("--page", action="append", dest="names", metavar="NAME",
                        help="only this page (bench/pages.py's name; repeatable)")
    args = parser.parse_args()
    pages.ensure_wrk()
    app = pages.setup_database(args.database_url if args.database == "postgresql" else None, 0)
    ids = pages.world(app)
    started = {label: pages.start_server("referral.wsgi:app", 4, chdir=checkout,
                                         env=pages.PRODUCTION)
               for label, checkout in (("before", Path(args.before).resolve()),
                                       ("this", pages.ROOT.parent))}
    servers = {label: port for label, (_server, port) in started.items()}
    print(f"| page ({args.database}, demo scale) | before: req/s | this: req/s | this ÷ before "
          "| before: p99 ms | this: p99 ms |")
    print("|---|---:|---:|---:|---:|---:|")
    try:
        sessions = {}
        for name, email, kind, _target, items in pages.pages(ids):
            if (kind == "unique" or items is None or email == pages.FAMILY
                    or args.names and name not in args.names):
                continue
            for label, port in servers.items():
                sessions.setdefault((label, email, kind), pages.session_for(
                    port, email, items[0] if kind != "get" else None))
            rates, p99 = drive(servers, sessions, name, email, kind, items, args.rounds,
                               args.seconds)
            print(f"| {name} | {rates['before']:,.1f} | {rates['this']:,.1f} | "
                  f"{rates['this'] / rates['before']:.2f}× | {p99['before']:.0f} | "
                  f"{p99['this']:.0f} |", flush=True)
    finally:
        for server, _port in started.values():
            pages.stop_server(server)


if __name__ == "__main__":
    main()
