"""`make bench`: the renderer benchmark job beside its baselines, measured in the same run.

Each case runs in its own child process; wall time, CPU time (user + sys) and peak RSS come from
os.wait4 on that child, so one case's memory never hides another's. Usage:

    python -m bench                 # encoder floor, chunked floor, ffmpeg CLI, ours (CPU), ours in
                                    # parts, ours on CUDA if present (BENCH_PARTS=N: N parts)
    python -m bench --scaling       # + 200 photos / 10 minutes
    python -m bench --cases ours    # a subset
    python -m bench --repeat 3      # each case 3 times, interleaved; medians (noisy machines)

The table's notes add cpu_x (CPU seconds against the floor's: steadier than wall time while other
work shares the machine) and the 1-minute load average when the run started and ended.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.cases import floor_frames_path
from bench.job import FPS, SECONDS

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CASES = "ffmpeg_cli,encoder_floor,chunked_floor,ours,ours_chunked,ours_cuda"


def run_case(name: str, out: Path) -> dict:
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.cases", name, str(out)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    stdout = proc.stdout.read() if proc.stdout else ""
    if status != 0:
        return {"case": name, "error": f"exit status {status}"}
    extra = json.loads(stdout.strip().splitlines()[-1]) if stdout.strip() else {}
    return {
        "case": name,
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "size_mb": out.stat().st_size / 1e6 if out.exists() else None,
        **extra,
    }


def _in_child(call: str) -> None:
    """Run one preparation step (`call`, Python) in its own process. The parent must stay small:
    Linux carries a process's peak RSS across fork + exec, so every case started later would
    report the parent's peak as its own."""
    subprocess.run([sys.executable, "-c", f"import bench.cases, bench.job; {call}"], cwd=ROOT, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description="renderer benchmarks")
    parser.add_argument("--cases", default=DEFAULT_CASES)
    parser.add_argument("--scaling", action="store_true", help="also 200 photos / 10 minutes")
    parser.add_argument("--repeat", type=int, default=1, help="run each case N times (interleaved)")
    args = parser.parse_args()
    cases = args.cases.split(",") + (["scaling"] if args.scaling else [])
    print(
        f"bench: {SECONDS} s at 1080x1920 {FPS} fps, 10 photos of 12 MP; making media (cached)...", flush=True
    )
    _in_child("bench.job.media()")
    load_before = os.getloadavg()[0]
    runs: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in [c for _ in range(max(1, args.repeat)) for c in cases]:
            print(f"bench: running {name}...", flush=True)
            if name in ("encoder_floor", "chunked_floor") and not floor_frames_path().exists():
                print("bench: compositing the job's frames into a raw file for the floor...", flush=True)
                _in_child("bench.cases.prepare_floor_frames()")
            runs.append(run_case(name, Path(tmp) / f"{name}.mp4"))
    results = [_median([r for r in runs if r["case"] == name]) for name in cases]
    floor_run = next((r for r in results if r["case"] == "encoder_floor" and "wall_s" in r), None)
    floor = floor_run["wall_s"] if floor_run else None
    floor_cpu = floor_run["cpu_s"] if floor_run else None
    chunked = next((r for r in results if r["case"] == "chunked_floor" and "wall_s" in r), None)
    print()
    print(
        f"{'case':<14} {'wall s':>8} {'cpu s':>8} {'peak MiB':>9} {'x floor':>8} {'x chunked':>9} "
        f"{'ms/frame':>9}  notes"
    )
    for r in results:
        if "error" in r or "skipped" in r:
            print(f"{r['case']:<14} {r.get('error') or r.get('skipped')}")
            continue
        ratio = f"{r['wall_s'] / floor:.2f}" if floor and r["case"] != "scaling" else "-"
        against = f"{r['wall_s'] / chunked['wall_s']:.2f}" if chunked and r["case"] != "scaling" else "-"
        frames = r.get("frames") or SECONDS * FPS
        notes = " ".join(f"{k}={r[k]}" for k in ("encoder", "device", "parts", "threads") if k in r)
        if floor_cpu and r["case"] not in ("scaling", "encoder_floor"):
            notes += f" cpu_x={r['cpu_s'] / floor_cpu:.2f}"
        if r.get("runs", 1) > 1:
            notes += f" median_of={r['runs']}"
        print(
            f"{r['case']:<14} {r['wall_s']:>8.2f} {r['cpu_s']:>8.2f} {r['peak_rss_mib']:>9.0f} {ratio:>8} "
            f"{against:>9} {r['wall_s'] / frames * 1000:>9.2f}  {notes}"
        )
    for r in results:
        if r.get("phases"):
            phases = " ".join(f"{name} {seconds:.2f}" for name, seconds in r["phases"].items())
            print(f"phases of {r['case']} (wall s): {phases}")
    print(f"load average (1 min): {load_before:.1f} at start, {os.getloadavg()[0]:.1f} at end")


def _median(runs: list[dict]) -> dict:
    """One row per case: median wall and CPU, the highest peak RSS over its runs."""
    good = [r for r in runs if "wall_s" in r]
    if not good:
        return runs[0]
    row = dict(good[0])
    row["wall_s"] = statistics.median(r["wall_s"] for r in good)
    row["cpu_s"] = statistics.median(r["cpu_s"] for r in good)
    row["peak_rss_mib"] = max(r["peak_rss_mib"] for r in good)
    row["runs"] = len(good)
    return row


if __name__ == "__main__":
    main()
