"""Count the machine instructions a page takes per request, under valgrind: a measure this
machine's drift does not move.

    .venv/bin/python bench/instructions.py                              # the usual pages
    .venv/bin/python bench/instructions.py --path / --path /referrals/ --email partner@demo.example
    .venv/bin/python bench/instructions.py --database-url postgresql+psycopg://…/referral_bench

This machine's speed drifts by a third within minutes, and an app that touches more memory
loses more in a slow spell than the bare Flask app does, so two timed runs of the same code
can disagree by more than a change is worth. The number of instructions a request executes
hardly moves (0.2 % between runs here): it tells whether a change removed work, before
`make bench` says what that is worth in requests a second. It does not see what memory
costs, nor PostgreSQL's own work (another process); SQLite's is counted, in the process.

Each page runs in a fresh process under valgrind's cachegrind twice, with the same warm-up
(five requests) and then none or `--rounds` requests: the difference over the rounds is one
request's count. That count includes the periodic work the rounds bring on (the garbage
collector's passes): compare counts taken with the same `--rounds` (`/healthz` counted 0.88
million a request over 20 rounds, 1.38 million over 100). Paths may name {family},
{referral} and {service}: the demo's first.
valgrind is Debian's package, installed if missing (as root)."""

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))
from pages import PROFESSIONAL, ensure_debian_tool, setup_database, world  # noqa: E402
from profile_pages import PATHS  # noqa: E402

# Run under valgrind: a logged-in client, the warm-up, then the rounds.
CHILD = """
import gc, os, sys
sys.path.insert(0, {bench!r})
from common import logged_in
from referral import create_app
app = create_app()
client = logged_in(app, {email!r})
for _ in range(5):
    assert client.get({path!r}).status_code == 200, {path!r}
gc.collect()
gc.freeze()
for _ in range({rounds}):
    client.get({path!r})
"""


def instructions(path, email, rounds):
    """Instructions of the whole process: the app built, logged in, warmed up, `rounds`
    requests."""
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "child.py"
        script.write_text(CHILD.format(bench=str(ROOT / "bench"), email=email, path=path,
                                       rounds=rounds))
        done = subprocess.run(
            ["valgrind", "--tool=cachegrind", "--cache-sim=no",
             f"--cachegrind-out-file={folder}/out", sys.executable, str(script)],
            capture_output=True, text=True, check=False)
    found = re.search(r"I\s+refs:\s+([\d,]+)", done.stderr)
    if done.returncode or not found:
        sys.exit(f"{path}: the run under valgrind failed\n{done.stderr[-2000:]}")
    return int(found.group(1).replace(",", ""))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", action="append", dest="paths")
    parser.add_argument("--email", default=PROFESSIONAL)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--database-url")
    parser.add_argument("--scale", type=float, default=0, help="share of national scale")
    args = parser.parse_args()
    ensure_debian_tool("valgrind")
    os.environ["REFERRAL_MAIL_SINK"] = "false"  # as in production (see profile_pages.py)
    app = setup_database(args.database_url, args.scale)
    ids = world(app)
    names = {"family": ids["families"][0], "referral": ids["mine"][0],
             "service": ids["services"][0]}
    print(f"{'page':<56}{'instructions a request':>24}")
    for template in args.paths or PATHS:
        path = template.format(**names)
        warm, measured = (instructions(path, args.email, rounds) for rounds in (0, args.rounds))
        print(f"{template:<56}{(measured - warm) / args.rounds:>24,.0f}", flush=True)


if __name__ == "__main__":
    main()
