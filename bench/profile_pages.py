"""Profile pages in-process: a logged-in test client, cProfile, the costliest functions.

    .venv/bin/python bench/profile_pages.py                       # the usual pages, demo data, SQLite
    .venv/bin/python bench/profile_pages.py --path / --path /families/ --rounds 200 --sort tottime
    .venv/bin/python bench/profile_pages.py --database-url postgresql+psycopg://…/referral_bench

Per page: the mean time of a request in-process (no server, no network) and the functions
with the most time. Paths may name {family}, {referral} and {service}: the demo's first.
"""

import argparse
import cProfile
import io
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import logged_in  # noqa: E402
from pages import (  # noqa: E402  (puts this checkout first on sys.path)
    MUNICIPALITY,
    PROFESSIONAL,
    setup_database,
    world,
)

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
    parser.add_argument("--time-only", action="store_true",
                        help="only the mean time per request, no profile")
    args = parser.parse_args()
    app = setup_database(args.database_url, args.scale)
    ids = world(app)
    names = {"family": ids["families"][0], "referral": ids["mine"][0],
             "service": ids["services"][0]}
    client = logged_in(app, args.email)
    for template in args.paths or PATHS:
        path = template.format(**names)
        for _ in range(5):  # templates compiled, caches warm
            assert client.get(path).status_code == 200, path
        began, cpu = time.perf_counter(), time.process_time()
        for _ in range(args.rounds):
            client.get(path)
        plain = (time.perf_counter() - began) / args.rounds
        cpu = (time.process_time() - cpu) / args.rounds
        if args.time_only:  # CPU time: much less moved by other processes than wall time
            print(f"{template}\t{plain * 1000:.2f} ms\tCPU {cpu * 1000:.2f} ms", flush=True)
            continue
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.rounds):
            client.get(path)
        profile.disable()
        out = io.StringIO()
        stats = pstats.Stats(profile, stream=out).sort_stats(args.sort)
        if args.callees:
            stats.print_callees(args.callees)
        elif args.callers:
            stats.print_callers(args.callers)
        else:
            stats.print_stats(args.top)
        print(f"=== {path}: {plain * 1000:.2f} ms per request in-process")
        print("\n".join(out.getvalue().splitlines()[6:]))


if __name__ == "__main__":
    main()
