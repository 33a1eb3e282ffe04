"""What the cross-process turn lease adds to every chat turn: take + release, on SQLite and PostgreSQL.

    .venv/bin/python -m bench.turn_lease                       # SQLite in a temp dir
    .venv/bin/python -m bench.turn_lease --database-url postgresql+psycopg://postgres@127.0.0.1/test

Prints the median and p90 of `--n` rounds, each on a fresh session id (a first turn inserts the
row; later turns update it, so both are measured: `fresh` and `again`), twice: the bare statements
(server.turn_lock.take/release) and what a turn really pays, TurnLocks.acquire/release from the
event loop (thread hops and the renewal task included). Renewals (one UPDATE every lease/3) are
not on the turn's path. PostgreSQL runs in a throwaway schema, dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy.engine import Engine

from database.engine import drop_schema, make_engine
from server.db import init_db
from server.turn_lock import TurnLocks, release, take


def _summary(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p90 = ms[int(len(ms) * 0.9) - 1]
    return f"{name:28s} median {statistics.median(ms):7.3f} ms   p90 {p90:7.3f} ms   (n={len(ms)})"


def bare(engine: Engine, sessions: list[str]) -> list[float]:
    times = []
    for sid in sessions:
        started = time.perf_counter()
        lease = take(engine, sid, "bench", lease_s=15)
        assert lease is not None
        release(engine, lease)
        times.append(time.perf_counter() - started)
    return times


def through_locks(engine: Engine, sessions: list[str]) -> list[float]:
    async def run() -> list[float]:
        locks = TurnLocks(engine, wait_seconds=5)
        times = []
        for sid in sessions:
            started = time.perf_counter()
            lease = await locks.acquire(sid)
            assert lease is not None
            await locks.release(lease)
            times.append(time.perf_counter() - started)
        return times

    return asyncio.run(run())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", help="PostgreSQL URL; unset: a SQLite file in a temp dir")
    parser.add_argument("--n", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        schema = None
        if args.database_url:
            schema = f"bench_{uuid.uuid4().hex[:12]}"
            engine = make_engine(args.database_url, schema=schema)
        else:
            engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        init_db(engine)
        try:
            print(f"{engine.dialect.name}: take + release of one session's turn lease")
            for kind, measure in (("statements", bare), ("TurnLocks", through_locks)):
                sessions = [f"{kind}-{uuid.uuid4().hex[:6]}-{i}" for i in range(args.n)]
                measure(engine, [f"warm-{sid}" for sid in sessions[:10]])  # connections, statement caches
                print(_summary(f"{kind}, fresh session", measure(engine, sessions)))
                print(_summary(f"{kind}, again", measure(engine, sessions)))
        finally:
            if schema is not None:
                drop_schema(engine, schema)
            engine.dispose()


if __name__ == "__main__":
    main()
