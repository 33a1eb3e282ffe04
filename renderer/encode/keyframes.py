"""How far apart keyframes are: at most KEYFRAME_SECONDS, so a browser seeks quickly (it decodes
from the keyframe before the target). Pure: the chunk planner and the job queue's split use it
without loading PyAV."""

from __future__ import annotations

KEYFRAME_SECONDS = 2


def keyframe_interval(fps: int) -> int:
    """Frames from one keyframe to the next at most (x264's keyint); part boundaries fall on them."""
    return KEYFRAME_SECONDS * fps
