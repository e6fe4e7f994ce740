"""Run one bench on two checkouts in turn, A, B, A, B ..., and print each side's figures.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/live_bench \
    REDIS_URL=redis://127.0.0.1:6379/3 \
        python3 bench/ab.py --a /work/base --b /work/main --rounds 3 live_bench --clients 1000

ab.py's own options come first, then the bench's name (api_bench, live_bench or
delivery_bench) and its arguments, passed on unchanged. Each checkout needs its own
`.venv` (`bash scripts/setup-env test`). Every run uses its checkout's Python, with that
checkout as the working directory, PYTHONPATH and BENCH_CHECKOUT, so the console measured
is that checkout's; the bench script itself comes from one place (`--bench-from`, the B
checkout unless told), so both sides are measured by the same harness. The environment is
passed through: the benches' DATABASE_URL and REDIS_URL (api_bench: BENCH_DATABASE_URL and
BENCH_REDIS_URL) go to both sides.

Before each run the machine's load average is noted; each run's output goes to a log file
of its own (`--logs`, by default var/ab/<bench>-<time>/ under the bench's checkout). At the
end it prints, per figure, each run's value on each side and the sides' medians: the
bench's key figures (FIGURES: those it states a goal for, and a few that explain them), as
its summary lines print them.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

# Per bench: a pattern for a figure as the bench prints it, and the names of its
# occurrences in one run's output, in order.
FIGURES: dict[str, list[tuple[str, list[str]]]] = {
    "api_bench": [
        (r"ratio ingest/raw\s+([\d.]+)x",
         ["ingest/raw, a connection per request (x)", "ingest/raw, connection pool (x)"]),
        (r"ratio p50: API/SQL\s+([\d.]+)x",
         ["feed API/SQL p50, first page (x)", "feed API/SQL p50, deep page (x)"]),
        (r"API/minimal view\s+([\d.]+)x",
         ["feed API/minimal view p50, first page (x)", "feed API/minimal view p50, deep (x)"]),
        (r"unread_count\(\)\s+p50\s+([\d.]+) ms", ["unread_count() p50 (ms)"]),
    ],
    "live_bench": [
        (r"broadcast rate ratio console/bare: ([\d.]+)", ["broadcast rate console/bare"]),
        (r"memory per connection ratio: ([\d.]+)", ["memory per connection console/bare"]),
        (r"p99 ingest -> socket ([\d.]+) ms", ["p99 ingest -> socket (ms)"]),
        (r"broadcast -> socket ([\d.]+) ms \(goal", ["p99 broadcast -> socket (ms)"]),
        (r"^console: broadcast -> socket .* ([\d.]+)$", ["console CPU us/msg, broadcast"]),
    ],
    "delivery_bench": [
        (r"median ratio console/bare, tasks queued beforehand\s*:\s*([\d.]+)",
         ["webhooks console/bare, queued beforehand"]),
        (r"median ratio console/bare, queued by one thread\s*:\s*([\d.]+)",
         ["webhooks console/bare, queued by one thread"]),
        (r"^  ratio console/bare\s+:\s*([\d.]+)", ["email console/bare"]),
    ],
}


def figures(bench: str, output: str) -> dict[str, float]:
    found: dict[str, float] = {}
    for pattern, names in FIGURES[bench]:
        values = re.findall(pattern, output, re.MULTILINE)
        found.update(zip(names, map(float, values), strict=False))
    return found


def commit(checkout: Path) -> str:
    described = subprocess.run(["git", "-C", str(checkout), "describe", "--always", "--dirty"],
                               capture_output=True, text=True)
    return described.stdout.strip() or "?"


def run_once(checkout: Path, script: Path, bench_args: list[str], log: Path) -> int:
    python = checkout / ".venv" / "bin" / "python"
    env = {**os.environ, "BENCH_CHECKOUT": str(checkout), "PYTHONPATH": str(checkout)}
    with log.open("w") as out:
        return subprocess.run([str(python), str(script), *bench_args], cwd=checkout, env=env,
                              stdout=out, stderr=subprocess.STDOUT).returncode


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", type=Path, required=True, help="checkout A (the baseline)")
    parser.add_argument("--b", type=Path, required=True, help="checkout B (the change)")
    parser.add_argument("--rounds", type=int, default=3, help="runs on each side")
    parser.add_argument("--bench-from", type=Path,
                        help="the checkout whose bench/ runs on both sides (default: B)")
    parser.add_argument("--logs", type=Path, help="where each run's output goes")
    parser.add_argument("bench", choices=sorted(FIGURES))
    parser.add_argument("bench_args", nargs=argparse.REMAINDER,
                        help="the bench's own arguments")
    args = parser.parse_args()

    sides = {"A": args.a.resolve(), "B": args.b.resolve()}
    for checkout in sides.values():
        if not (checkout / ".venv" / "bin" / "python").exists():
            raise SystemExit(f"{checkout} has no .venv: run `bash scripts/setup-env test` there")
    script = (args.bench_from or args.b).resolve() / "bench" / f"{args.bench}.py"
    logs = args.logs or script.parents[1] / "var" / "ab" / (
        f"{args.bench}-{time.strftime('%Y%m%d-%H%M%S')}")
    logs.mkdir(parents=True, exist_ok=True)

    loads: dict[str, list[float]] = {"A": [], "B": []}
    results: dict[str, list[dict[str, float]]] = {"A": [], "B": []}
    failed = []
    for round_ in range(1, args.rounds + 1):
        for side, checkout in sides.items():
            load = round(os.getloadavg()[0], 2)  # what `uptime` shows first
            log = logs / f"{round_}-{side}.log"
            print(f"round {round_} {side}: load {load:.2f}, log {log}", file=sys.stderr,
                  flush=True)
            started = time.monotonic()
            code = run_once(checkout, script, args.bench_args, log)
            if code:
                failed.append(f"{log} (exit {code})")
            loads[side].append(load)
            results[side].append(figures(args.bench, log.read_text(errors="replace")))
            print(f"  {time.monotonic() - started:.0f} s, exit {code}", file=sys.stderr,
                  flush=True)

    print(f"{args.bench} {' '.join(args.bench_args)}: {args.rounds} rounds, A and B in turn; "
          f"the bench from {script}; logs in {logs}")
    for side, checkout in sides.items():
        print(f"  {side} = {checkout} ({commit(checkout)})")
    names = [name for _, found in FIGURES[args.bench] for name in found]
    width = max(map(len, names)) + 2
    print(f"\n{'':{width}}{'A: each run (median)':<34}{'B: each run (median)':<34}")
    rows = [("load average before the run", loads)] + [
        (name, {side: [r[name] for r in runs if name in r] for side, runs in results.items()})
        for name in names]
    for name, values in rows:
        cells = []
        for side in sides:
            runs = values[side]
            median = f" ({statistics.median(runs):g})" if runs else "-"
            cells.append(f"{' '.join(f'{v:g}' for v in runs)}{median}")
        print(f"{name:<{width}}{cells[0]:<34}{cells[1]:<34}")
    if failed:
        print("\nfailed runs: " + ", ".join(failed))
        sys.exit(1)


if __name__ == "__main__":
    main()
