"""CPU priority of the render's helper threads: the encoder (x264) is the critical path.

x264's frame threads leave the cores partly idle while they wait on each other (the encoder
floor keeps 2 cores about 75% busy). At equal priority compositing and decoding take time
slices from x264 and the render ends later; at a lower one they run in those gaps, for the same
CPU seconds. They cannot starve: when x264 runs out of frames it waits, and they get the cores.
On 2 cores, interleaved runs of the benchmark job took 1.10 x the encoder floor at +0, 1.03 at
+10 and 1.00 at +19 (a floor since made stricter; bench/README.md).
"""

from __future__ import annotations

import logging
import os
import threading

log = logging.getLogger("nemo.renderer")

BEHIND_ENCODER = 19  # nice increment for the compositing, decode and AAC threads; the kernel caps at 19


def lower_this_thread(by: int = BEHIND_ENCODER) -> None:
    """Lower the calling thread's CPU priority (Linux nice is per thread). Threads it starts later
    inherit it. Lowering needs no privilege, raising it back would: call this only in a thread
    of the render's own, never in the caller's."""
    if by <= 0:
        return
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + by)
    except OSError:  # a sandbox that forbids it: the thread keeps the caller's priority
        log.debug("could not lower a render thread's priority", exc_info=True)
