"""`python -m evals.agent [--withheld] [--folder DIR ...] [-v]`: accuracy per language, kind and register.

Default: the visible families (evals/agent/visible). `--withheld` adds evals/agent/withheld (the
coordinator's run); `--only-withheld` runs that third alone. `-v` prints every failed case with why.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import defaultdict
from pathlib import Path

from agent.planner import Planner
from evals.agent.run import Result, load, run_case

HERE = Path(__file__).resolve().parent


def _planner() -> Planner:
    from agent.planners.rules.planner import RulePlanner

    return RulePlanner()


def _table(title: str, results: list[Result], key: str) -> list[str]:
    groups: dict[str, list[Result]] = defaultdict(list)
    for r in results:
        groups[getattr(r.case, key)].append(r)
    lines = [f"{title:<14} {'cases':>5} {'correct':>8} {'acc':>6} {'destr':>6} {'fallbk':>6}"]
    for name in sorted(groups):
        rs = groups[name]
        ok = sum(r.ok for r in rs)
        lines.append(
            f"{name:<14} {len(rs):>5} {ok:>8} {ok / len(rs):>6.0%} "
            f"{sum(bool(r.destructive) for r in rs):>6} {sum(r.fallback for r in rs):>6}"
        )
    return lines


def report(results: list[Result]) -> str:
    n = len(results)
    ok = sum(r.ok for r in results)
    destructive = sum(bool(r.destructive) for r in results)
    clear = [r for r in results if not any(c.get("clarify") for c in r.case.expect)]
    fallback = sum(r.fallback for r in clear)
    turns = [ms for r in results for ms in r.turn_ms]
    plans = [ms for r in results for ms in r.plan_ms]
    lines = [
        f"cases: {n}  correct: {ok}  accuracy: {ok / n:.1%}" if n else "no cases",
        f"destructive wrong edits: {destructive}",
        f"generic fallback on clear requests: {fallback}/{len(clear)} ({fallback / max(1, len(clear)):.1%})",
        f"ms per turn (planner + tools + events): median {statistics.median(turns):.1f}, "
        f"max {max(turns):.1f} ({len(turns)} turns)"
        if turns
        else "",
        f"ms per turn, rule planner alone: median {statistics.median(plans):.1f}, max {max(plans):.1f}"
        if plans
        else "",
        "",
        *_table("language", results, "lang"),
        "",
        *_table("kind", results, "kind"),
        "",
        *_table("register", results, "register"),
        "",
        *_table("family", results, "family"),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.agent", description=__doc__)
    parser.add_argument("--withheld", action="store_true", help="also run evals/agent/withheld")
    parser.add_argument("--only-withheld", action="store_true", help="run evals/agent/withheld alone")
    parser.add_argument("--folder", action="append", type=Path, help="run the YAML files in this folder")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each failed case and why")
    parser.add_argument("--family", help="only families whose name contains this")
    args = parser.parse_args(argv)
    if args.folder:
        folders = list(args.folder)
    elif args.only_withheld:
        folders = [HERE / "withheld"]
    else:
        folders = [HERE / "visible"] + ([HERE / "withheld"] if args.withheld else [])
    missing = [f for f in folders if not f.is_dir()]
    if missing:
        print(f"no such folder: {', '.join(map(str, missing))}", file=sys.stderr)
        return 2
    cases = load(folders)
    if args.family:
        cases = [c for c in cases if args.family in c.family]
    if cases:  # compile the planner's patterns once, as a running server has (not timed)
        run_case(cases[0], _planner)
    results = [run_case(c, _planner) for c in cases]
    if args.verbose:
        for r in results:
            if r.ok:
                continue
            c = r.case
            print(f"--- {c.family} #{c.number} [{c.scenario}] {c.say!r}")
            if c.before:
                print(f"    before: {c.before}")
            print(f"    calls: {r.calls}")
            for f in r.failures:
                print(f"    FAIL {f}")
            for d in r.destructive:
                print(f"    DESTRUCTIVE {d}")
            print("    reply: " + r.reply.replace("\n", " | ")[:400])
        print()
    print(report(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
