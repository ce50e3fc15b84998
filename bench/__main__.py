"""`python -m bench [NAME ...] [--quick]`: run the benchmarks and print their tables.

Each ``bench/bench_<name>.py`` runs Spyglass and its real peer in the same run;
results go to ``bench/out/<name>.json`` and a Markdown table to stdout, which is
what ``bench/RESULTS.md`` records.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time

from bench.report import save, table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench")
    p.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    p.add_argument("--quick", action="store_true", help="smaller data, for a smoke run")
    args = p.parse_args(argv)
    import bench

    found = sorted(
        m.name[len("bench_"):]
        for m in pkgutil.iter_modules(bench.__path__)
        if m.name.startswith("bench_")
    )
    names = args.names or found
    failed = 0
    for name in names:
        if name not in found:
            print(f"unknown benchmark {name!r}; have: {', '.join(found)}", file=sys.stderr)
            return 2
        mod = importlib.import_module(f"bench.bench_{name}")
        t0 = time.monotonic()
        print(f"== {name} ...", file=sys.stderr, flush=True)
        try:
            rows = mod.run(quick=args.quick)
        except Exception as e:  # noqa: BLE001  one broken benchmark must not hide the others
            failed += 1
            print(f"benchmark {name} failed: {e!r}", file=sys.stderr)
            continue
        save(name, rows)
        print(table(f"{name} ({time.monotonic() - t0:.0f} s)", rows), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
