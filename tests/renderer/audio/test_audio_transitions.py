"""A clip's own sound across a transition, as heard and seen in the rendered file.

Two clips, each a solid colour with its own tone (A: red, 440 Hz; B: blue, 660 Hz), are joined by
a 1 s transition (golden draft `clip_transition`: A plays 0-2 s, B 1-3 s, the transition is 1-2 s;
both are trimmed with `ss` so that B's sound starts, and A's stops, in the middle of a cycle).
The renderer spec says the sound crossfades with the picture: A's tone fades out and B's fades in
over the very frames of the picture transition, equal-power, so the loudness holds steady through
it. The output is decoded (PyAV) and measured in short windows; the mix is normalised to -14 LUFS,
so levels are compared with each other, never with the source's.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

import av
import numpy as np
import pytest

from tests.renderer.render_check import draft, ffprobe, media_factory, needs_ffprobe, render_file, sound

RATE = 48_000
FPS = 30  # the golden drafts' frame rate
RED, BLUE = (200, 40, 40), (40, 40, 200)
A_HZ, B_HZ = 440.0, 660.0
START, END = 1.0, 2.0  # the transition in clip_transition.json, in seconds
MID = (START + END) / 2
WINDOW = 0.04  # long enough to tell 440 Hz from 660 Hz apart, short against a 1 s fade
KINDS = ["crossfade", "wipe_left", "fade_black"]  # a blend, a hard edge, a dip through black


@dataclass
class Rendered:
    path: Path
    samples: np.ndarray  # (2, n) at 48 kHz, sample 0 at time 0 (checked with ffprobe)
    frames: list[tuple[float, np.ndarray]]  # (presentation time, (h, w, 3) float RGB)


@pytest.fixture(scope="module", params=KINDS)
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """clip_transition rendered with one transition kind (rendered once for all the tests here)."""
    directory = tmp_path_factory.mktemp(request.param)
    # each clip outlasts its `ss` plus its segment, so neither sound runs out early
    sources = {
        "clip_a": media_factory.mp4_scenes(directory, "a.mp4", [(2.5, RED, A_HZ)], fps=FPS),
        "clip_b": media_factory.mp4_scenes(directory, "b.mp4", [(2.5, BLUE, B_HZ)], fps=FPS),
    }
    d = draft("clip_transition")
    transition = d.t[0].sg[1].m.tr
    assert transition is not None
    transition.type = request.param
    out = render_file(d, sources, directory / "o.mp4")
    return Rendered(out, sound(out), _timed_frames(out))


def _timed_frames(path: Path) -> list[tuple[float, np.ndarray]]:
    with av.open(str(path)) as container:
        return [
            (float(f.time or 0.0), f.to_ndarray(format="rgb24").astype(float))
            for f in container.decode(video=0)
        ]


def _tone_level(samples: np.ndarray, hz: float) -> float:
    """Amplitude of the `hz` component (one DFT bin under a Hann window), channel mean."""
    mono = samples.mean(axis=0)
    t = np.arange(mono.size) / RATE
    window = np.hanning(mono.size)
    return float(2 * abs(np.sum(mono * window * np.exp(-2j * np.pi * hz * t))) / window.sum())


def _levels_db(samples: np.ndarray, t: float, window: float = WINDOW) -> tuple[float, float]:
    """(A's tone, B's tone) in dB, in the window centred on `t` seconds."""
    half = round(window * RATE / 2)
    centre = round(t * RATE)
    part = samples[:, centre - half : centre + half]
    return tuple(20 * np.log10(max(_tone_level(part, hz), 1e-9)) for hz in (A_HZ, B_HZ))  # type: ignore[return-value]


def _crossing(times: list[float], values: list[float]) -> float:
    """The time where `values` first goes from positive to not positive, linearly interpolated."""
    points = list(zip(times, values, strict=True))
    for (t0, v0), (t1, v1) in pairwise(points):
        if v0 > 0 >= v1:
            return t0 + (t1 - t0) * v0 / (v0 - v1)
    raise AssertionError(f"no crossing in {points}")


def _shares(frame: np.ndarray, a_rgb: np.ndarray, b_rgb: np.ndarray) -> tuple[float, float]:
    """How much of A's and of B's picture a frame shows: its mean colour as alpha*A + beta*B
    (least squares). A crossfade gives (1-p, p), a wipe the areas, a dip through black (1-2p, 0)
    then (0, 2p-1): in each, alpha == beta marks the middle of the transition."""
    mean = frame.reshape(-1, 3).mean(axis=0)
    (alpha, beta), *_ = np.linalg.lstsq(np.stack([a_rgb, b_rgb], axis=1), mean, rcond=None)
    return float(alpha), float(beta)


def _steady_levels(r: Rendered) -> tuple[float, float]:
    """A's level well before the transition and B's well after it, in dB."""
    return _levels_db(r.samples, 0.5, 0.4)[0], _levels_db(r.samples, 2.5, 0.4)[1]


@needs_ffprobe
def test_streams_start_together_so_samples_and_frames_share_one_clock(rendered: Rendered) -> None:
    # the measurements below take audio sample n to be at n / 48000 s and each frame at its pts
    streams = {s["codec_type"]: s for s in ffprobe(rendered.path)["streams"]}
    audio, video = streams["audio"], streams["video"]
    assert audio["codec_name"] == "aac" and int(audio["sample_rate"]) == RATE and audio["channels"] == 2
    assert float(audio["start_time"]) == 0.0 and float(video["start_time"]) == 0.0
    assert float(video["duration"]) == pytest.approx(3.0, abs=1 / FPS)
    assert float(audio["duration"]) == pytest.approx(3.0, abs=1 / FPS)


def test_only_a_is_heard_before_the_transition_and_only_b_after(rendered: Rendered) -> None:
    # windows every 50 ms up to 10 ms from each edge of the transition
    before = [_levels_db(rendered.samples, t) for t in np.arange(0.1, START - 0.03, 0.05)]
    after = [_levels_db(rendered.samples, t) for t in np.arange(END + 0.03, 2.9, 0.05)]
    assert max(b - a for a, b in before) < -40  # B's tone: not yet there (measured about -70 dB)
    assert max(a - b for a, b in after) < -40  # A's tone: gone (about -70 dB)
    level_a, level_b = _steady_levels(rendered)
    assert level_b == pytest.approx(level_a, abs=1.0)  # equal tones come out equally loud


def test_sound_crossfades_equal_power_over_the_transition(rendered: Rendered) -> None:
    level_a, level_b = _steady_levels(rendered)
    times = np.arange(START - 0.1, END + 0.1 + 1e-9, 0.05)
    levels = [_levels_db(rendered.samples, t) for t in times]
    # through the whole transition the total power holds: a linear (equal-gain) crossfade would
    # dip 3 dB in the middle, two unfaded sounds overlapping would bump 3 dB (measured: +-0.02 dB)
    total = [10 * np.log10(10 ** (a / 10) + 10 ** (b / 10)) for a, b in levels]
    assert max(abs(db - level_a) for db in total) < 1.0
    # one smooth fade each way: A only falls, B only rises (0.05 dB of measurement slack)
    inside = [lv for t, lv in zip(times, levels, strict=True) if START < t < END]
    assert all(later[0] < earlier[0] + 0.05 for earlier, later in pairwise(inside))
    assert all(later[1] > earlier[1] - 0.05 for earlier, later in pairwise(inside))
    # halfway, both are heard equally, each 3 dB down (equal power: 0.707 each in amplitude)
    mid_a, mid_b = _levels_db(rendered.samples, MID)
    assert mid_a == pytest.approx(mid_b, abs=0.5)
    assert mid_a - level_a == pytest.approx(-3.0, abs=0.5)
    assert mid_b - level_b == pytest.approx(-3.0, abs=0.5)


def test_sound_and_picture_cross_at_the_same_moment(rendered: Rendered) -> None:
    frames = rendered.frames
    a_rgb = next(f for t, f in frames if t >= 0.5).reshape(-1, 3).mean(axis=0)
    b_rgb = next(f for t, f in frames if t >= 2.5).reshape(-1, 3).mean(axis=0)
    shares = [_shares(f, a_rgb, b_rgb) for _, f in frames]
    # the picture is A alone up to the transition's first frame and B alone from its end
    for (t, _), (alpha, beta) in zip(frames, shares, strict=True):
        if t + 1 / FPS <= START:
            assert alpha > 0.97 and abs(beta) < 0.03, t
        elif t >= END:
            assert beta > 0.97 and abs(alpha) < 0.03, t
    # a frame is shown for 1/FPS from its pts, and the renderer draws it as its middle moment
    picture_mid = _crossing([t + 0.5 / FPS for t, _ in frames], [a - b for a, b in shares])
    hops = np.arange(START + 0.2, END - 0.2, 0.005)
    sound_mid = _crossing(
        [float(t) for t in hops], [a - b for a, b in (_levels_db(rendered.samples, t) for t in hops)]
    )
    assert sound_mid == pytest.approx(MID, abs=0.005)  # measured: within 1 ms of 1.5 s
    assert picture_mid == pytest.approx(sound_mid, abs=0.5 / FPS)  # within half a frame


def test_transition_seams_are_click_free(rendered: Rendered) -> None:
    # B starts (at 1 s) and A stops (at 2 s) in the middle of a cycle (their `ss` sees to that):
    # unless faded from and to silence, each seam would step by up to the tone's amplitude
    steady = rendered.samples[:, round(2.2 * RATE) : round(2.9 * RATE)]
    sine_slope = float(np.abs(steady).max()) * 2 * np.pi * B_HZ / RATE  # B's largest clean step
    # over the transition the two tones' slopes add, to at most sqrt(1 + (440/660)^2) = 1.2 times
    # B's; a click at either seam would be several times larger
    span = rendered.samples[:, round((START - 0.05) * RATE) : round((END + 0.05) * RATE)]
    assert float(np.abs(np.diff(span, axis=1)).max()) < 1.5 * sine_slope


def test_trimmed_clip_is_heard_from_its_trim_point_in_sync_with_its_picture(tmp_path: Path) -> None:
    # the clip turns from red/440 Hz to blue/660 Hz 1.0 s in; clip_trimmed starts it at ss=600
    # ms, so the change must be seen and heard 0.4 s into the output, together
    clip = media_factory.mp4_scenes(tmp_path, "clip.mp4", [(1.0, RED, A_HZ), (1.5, BLUE, B_HZ)], fps=FPS)
    out = render_file(draft("clip_trimmed"), {"clip": clip}, tmp_path / "o.mp4")
    samples = sound(out)
    assert _levels_db(samples, 0.1)[0] - _levels_db(samples, 0.1)[1] > 40  # starts on A's tone
    hops = np.arange(0.2, 0.6, 0.001)
    heard = _crossing(
        [float(t) for t in hops], [a - b for a, b in (_levels_db(samples, t, 0.02) for t in hops)]
    )
    seen = next(t for t, f in _timed_frames(out) if f[..., 2].mean() > f[..., 0].mean())
    assert seen == pytest.approx(0.4, abs=1e-3)  # frame 12 is the first blue one
    assert heard == pytest.approx(0.4, abs=0.005)  # measured: within 1 ms


@pytest.mark.parametrize(
    ("a_ms", "heard_until"),
    [
        (2500, END),  # A lasts 0.5 s past the transition, hidden under B: its sound ends with it
        (1500, 1.5),  # A ends halfway through B's transition: the sounds cross over the overlap
    ],
    ids=["overlap-longer-than-transition", "overlap-shorter-than-transition"],
)
def test_sound_follows_the_picture_when_the_overlap_is_not_the_transition(
    a_ms: int, heard_until: float, tmp_path: Path
) -> None:
    """Client drafts may overlap two segments by more or less than the transition (the contract
    has them equal). The loudness still holds steady through the change, and A is not heard
    once the picture no longer shows it."""
    sources = {
        "clip_a": media_factory.mp4_scenes(tmp_path, "a.mp4", [(3.5, RED, A_HZ)], fps=FPS),
        "clip_b": media_factory.mp4_scenes(tmp_path, "b.mp4", [(3.5, BLUE, B_HZ)], fps=FPS),
    }
    d = draft("clip_transition")
    d.t[0].sg[0].d = a_ms
    samples = sound(render_file(d, sources, tmp_path / "o.mp4"))
    level_a = _levels_db(samples, 0.5, 0.4)[0]
    times = np.arange(START - 0.1, 2.9, 0.05)
    levels = [_levels_db(samples, t) for t in times]
    total = [10 * np.log10(10 ** (a / 10) + 10 ** (b / 10)) for a, b in levels]
    assert max(abs(db - level_a) for db in total) < 1.0, [round(db - level_a, 2) for db in total]
    gone = [a - b for t, (a, b) in zip(times, levels, strict=True) if t > heard_until + 0.03]
    assert max(gone) < -40
