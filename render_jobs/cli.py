"""`python -m render_jobs` (console script `nemo-worker`): the standalone render worker for machines
that share the server's database and data dir, polling the job table or taking job ids from Celery.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from database.engine import make_engine
from database.sqlite_file import DatabaseFileError, check_engine_file
from render_jobs.child import RenderFn, render_draft
from render_jobs.table import create_table
from render_jobs.worker import Worker
from renderer.schema.output import ENCODERS

log = logging.getLogger("nemo.worker")


def _load_target(target: str | None) -> RenderFn:
    """`--render-target module:function` (tests and embedders render their own way)."""
    if target is None:
        return render_draft
    module_name, _, attr = target.partition(":")
    fn: RenderFn = getattr(importlib.import_module(module_name), attr or "render")
    return fn


def main(argv: list[str] | None = None) -> None:
    """Standalone worker for scaled-out render machines sharing the database and the data dir."""
    parser = argparse.ArgumentParser(prog="python -m render_jobs", description="NemoVideo render worker")
    parser.add_argument("--database-url", required=True, help="SQLAlchemy URL of the server's database")
    parser.add_argument("--data-dir", required=True, type=Path, help="the server's data dir (shared storage)")
    parser.add_argument(
        "--render-target", default=None, help="module:function that renders (default: renderer.render:render)"
    )
    parser.add_argument("--threads", type=int, default=1, help="renders at once on this machine")
    parser.add_argument("--lease-seconds", type=float, default=30.0)
    parser.add_argument(
        "--heartbeat-seconds",
        type=float,
        default=None,
        help="renew the lease and write progress this often (default: a third of the lease, at most 1 s)",
    )
    parser.add_argument("--poll-seconds", type=float, default=0.5)
    parser.add_argument("--grace-seconds", type=float, default=30.0, help="on SIGTERM, finish within this")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--encoder", default="auto", choices=list(ENCODERS))
    parser.add_argument(
        "--celery",
        action="store_true",
        help="take jobs from the Celery broker (--broker-url) instead of polling the database",
    )
    parser.add_argument(
        "--broker-url", help="with --celery: redis://... or amqp://... (as NEMO_RENDER__CELERY_BROKER_URL)"
    )
    parser.add_argument(
        "--sweep-seconds",
        type=float,
        default=60.0,
        help="with --celery: re-send jobs whose message was lost this often (0: never)",
    )
    parser.add_argument(
        "--part-seconds",
        type=float,
        default=0.0,
        help=(
            "with --celery: split each render into parts of about this many seconds of video, each "
            "rendered by any worker, joined by the one that finishes the last (0: render whole)"
        ),
    )
    parser.add_argument(
        "--queue", default="nemo.renders", help="with --celery: the broker queue (one per deployment)"
    )
    args = parser.parse_args(argv)
    if args.part_seconds < 0 or (args.part_seconds and not args.celery):
        parser.error("--part-seconds must be 0 or more, and needs --celery")
    if args.celery and not args.broker_url:
        parser.error("--celery needs --broker-url")
    if args.heartbeat_seconds is not None and not 0 < args.heartbeat_seconds < args.lease_seconds:
        parser.error("--heartbeat-seconds must be above 0 and below --lease-seconds")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    # The server's own engine setup: on SQLite, WAL and BEGIN IMMEDIATE, so the worker's claims and
    # heartbeats queue behind the server's writes instead of failing to upgrade a read lock.
    engine = make_engine(args.database_url)
    try:
        check_engine_file(engine)  # an empty or damaged file: one line an operator can act on
    except DatabaseFileError as exc:
        print(f"nemo worker: refusing to start: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    create_table(engine)
    common: dict[str, Any] = {
        "data_dir": args.data_dir,
        "render": _load_target(args.render_target),
        "lease_seconds": args.lease_seconds,
        "heartbeat_seconds": args.heartbeat_seconds,
        "device": args.device,
        "encoder": args.encoder,
        "grace_seconds": args.grace_seconds,
    }
    if args.celery:
        from render_jobs.celery_app import run_worker

        celery_worker = Worker(engine, **common)
        run_worker(args.broker_url, celery_worker, concurrency=args.threads,
                   sweep_seconds=args.sweep_seconds, grace_seconds=args.grace_seconds,
                   part_seconds=args.part_seconds, queue=args.queue)  # fmt: skip
        return
    workers = [Worker(engine, poll_seconds=args.poll_seconds, **common) for _ in range(max(1, args.threads))]

    def _on_term(signum: int, _: Any) -> None:
        log.info("signal %s: finishing within %.0f s, then releasing leases", signum, args.grace_seconds)
        for w in workers:
            w.stop()

    signal.signal(signal.SIGTERM, _on_term)
    signal.signal(signal.SIGINT, _on_term)
    threads = [threading.Thread(target=w.run, name=f"render-worker-{i}") for i, w in enumerate(workers)]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.5)
