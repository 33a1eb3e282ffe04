"""Every `vol` shows in the export: the draft at vol 1.0 lands at -14 LUFS and a lower vol comes
out 20*log10(vol) dB under it, even when the song is the only sound (loudness normalisation used
to erase it: 0.35 and 0.08 both came out at -14 LUFS). Loudness is measured on the rendered file
by FFmpeg's ebur128 filter (it decodes the AAC stream), not by our meter; tone levels by decoding
the file with PyAV and reading single DFT bins."""

from __future__ import annotations

import math
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from renderer.schema.draft import Draft
from tests.renderer.audio.test_audio import RATE, _ebur128, _music_draft, _sine, _tone_level, _wav
from tests.renderer.render_check import media_factory, render_file, solid, sound

pytestmark = pytest.mark.skipif(shutil.which("ffmpeg") is None, reason="the ffmpeg command is not installed")

# AAC at 128 kb/s and the meter's gating move a steady tone by a few hundredths of a dB; 0.5 dB
# is well under what a listener notices and far under the smallest step tested (0.35: -9.1 dB).
RELATIVE_TOLERANCE_DB = 0.5
TARGET_TOLERANCE_DB = 1.0  # as test_audio's normalisation test


@pytest.fixture
def grey(tmp_path: Path) -> Path:
    return solid(tmp_path, "grey.png", (90, 90, 90))


def _render_music(tmp_path: Path, grey: Path, song: Path, segment: dict[str, Any], name: str) -> Path:
    d = _music_draft(4.0, segment)
    return render_file(d, {"grey": grey, "song": song}, tmp_path / f"{name}.mp4")


@pytest.mark.parametrize(
    "segment",
    [
        pytest.param({"st": 0, "d": 4000}, id="plain"),
        # fades and a second of silence before the song: the reference mix has them too
        pytest.param(
            {"st": 1000, "d": 3000, "m": {"fade_in": 500, "fade_out": 800}}, id="delayed_with_fades"
        ),
    ],
)
def test_music_vol_lowers_the_exports_loudness_by_its_decibels(
    tmp_path: Path, grey: Path, segment: dict[str, Any]
) -> None:
    song = _wav(tmp_path / "song.wav", _sine(440, 4.0, 0.1))
    measured: dict[float, float] = {}
    for vol in (1.0, 0.35, 0.08):
        seg = {**segment, "m": {**segment.get("m", {}), "vol": vol}}
        measured[vol], peak = _ebur128(_render_music(tmp_path, grey, song, seg, f"vol{vol}"))
        assert peak <= -1.0
    assert measured[1.0] == pytest.approx(-14.0, abs=TARGET_TOLERANCE_DB)
    for vol in (0.35, 0.08):
        drop = measured[vol] - measured[1.0]
        assert drop == pytest.approx(20 * math.log10(vol), abs=RELATIVE_TOLERANCE_DB), measured


def test_music_vol_under_a_clips_own_sound_lowers_only_the_music(tmp_path: Path, grey: Path) -> None:
    """A clip with its own 440 Hz sound over a 300 Hz song. Lowering the song's vol lowers the
    song by its decibels (heard after the clip, where no ducking applies) and leaves the clip's
    sound where it was; at vol 1.0 the export lands at the target.

    The quieter export's *integrated* loudness is not compared: BS.1770's relative gate drops the
    blocks 10 LU under the mean, so once the song is quiet enough only the clip's loud second is
    counted and the integrated figure goes *up* (measured: -14.0 LUFS at vol 1.0, -11.3 at 0.2).
    The levels of each sound are what a listener hears change, and what is checked."""
    song = _wav(tmp_path / "song.wav", _sine(300, 4.0, 0.1))
    clip = media_factory.mp4_clip(tmp_path, seconds=1.5)

    def render_at(vol: float) -> Path:
        d = Draft.model_validate(
            {
                "d": 4000,
                "m": {"width": 64, "height": 64, "fps": 10},
                "t": [
                    {
                        "id": "v",
                        "tt": 0,
                        "sg": [
                            {"id": "c", "src": "clip", "st": 0, "d": 1500},
                            {"id": "p", "src": "grey", "st": 1500, "d": 2500},
                        ],
                    },
                    {
                        "id": "a",
                        "tt": 1,
                        "sg": [{"id": "m", "src": "song", "st": 0, "d": 4000, "m": {"vol": vol}}],
                    },
                ],
            }
        )
        return render_file(d, {"grey": grey, "clip": clip, "song": song}, tmp_path / f"mix{vol}.mp4")

    loud, quiet = render_at(1.0), render_at(0.2)
    loud_lufs = _ebur128(loud)[0]
    a, b = sound(loud), sound(quiet)

    def level_db(samples: np.ndarray, hz: float, start: float, end: float) -> float:
        return 20 * math.log10(_tone_level(samples[:, int(start * RATE) : int(end * RATE)], hz))

    assert loud_lufs == pytest.approx(-14.0, abs=TARGET_TOLERANCE_DB)
    clip_change = level_db(b, 440, 0.3, 1.1) - level_db(a, 440, 0.3, 1.1)
    music_change = level_db(b, 300, 2.5, 3.8) - level_db(a, 300, 2.5, 3.8)
    assert clip_change == pytest.approx(0.0, abs=RELATIVE_TOLERANCE_DB)
    assert music_change == pytest.approx(20 * math.log10(0.2), abs=RELATIVE_TOLERANCE_DB)


def test_a_muted_song_renders_silence_not_noise(tmp_path: Path, grey: Path) -> None:
    song = _wav(tmp_path / "song.wav", _sine(440, 4.0, 0.1))
    samples = sound(_render_music(tmp_path, grey, song, {"st": 0, "d": 4000, "m": {"vol": 0.0}}, "muted"))
    assert float(np.abs(samples).max()) < 1e-3
