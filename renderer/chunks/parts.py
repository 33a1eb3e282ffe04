"""How a render's frames are split into parts: how many, and where (on keyframes). Pure.

One libx264 instance keeps about 2 cores busy (on the issue-16 machine, 16 cores: one encoder
7.24 s for the benchmark job, 4 parts at once 3.34 s, 8 parts 3.05 s, 16 parts 2.97 s), so a part
per CORES_PER_PART cores. Each part pays a process start (imports, its first photo decodes, ~1 s
of CPU), so a part is at least MIN_PART_KEYFRAME_INTERVALS keyframe intervals long, and on a
machine with fewer than 2 * CORES_PER_PART cores a render stays one part: there one pipeline
already keeps the cores busy, and the start-ups and join would only cost.

Boundaries fall on multiples of the keyframe interval (encode/keyframes.py), the frames where
an unchunked render of the same draft has its scheduled keyframes too.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from renderer.encode.keyframes import keyframe_interval

CORES_PER_PART = 2
MIN_PART_KEYFRAME_INTERVALS = 2


class Part(BaseModel):
    """Frames [start, stop) of a render; `index` orders the parts in the joined file."""

    model_config = ConfigDict(frozen=True)

    index: int = Field(..., ge=0)
    start: int = Field(..., ge=0)
    stop: int = Field(..., ge=1)


def part_count(n_frames: int, fps: int, cores: int) -> int:
    """The number of parts for `n_frames` on `cores` cores when the caller does not force one."""
    by_cores = cores // CORES_PER_PART if cores >= 2 * CORES_PER_PART else 1
    by_length = n_frames // (MIN_PART_KEYFRAME_INTERVALS * keyframe_interval(fps))
    return max(1, min(by_cores, by_length))


def choose_parts(n_frames: int, fps: int, cores: int, forced: int | None = None) -> list[Part]:
    """The parts of a render: `forced` of them when given (at most one per keyframe interval),
    else part_count's. Each starts on a keyframe interval; sizes differ by one interval at most."""
    interval = keyframe_interval(fps)
    intervals = max(1, -(-n_frames // interval))
    wanted = forced if forced is not None else part_count(n_frames, fps, cores)
    count = max(1, min(wanted, intervals))
    bounds = [min(n_frames, interval * round(i * intervals / count)) for i in range(count + 1)]
    bounds[-1] = n_frames
    return [Part(index=i, start=bounds[i], stop=bounds[i + 1]) for i in range(count)]
