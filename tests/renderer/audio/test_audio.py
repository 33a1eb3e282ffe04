"""The soundtrack as heard in the rendered file: the song itself, loops, fades, clips' sound,
loudness (measured by FFmpeg's ebur128, not by our meter), clicks, ducking and A/V sync."""

from __future__ import annotations

import re
import shutil
import subprocess
import tracemalloc
import wave
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from renderer.audio.soundtrack import Soundtrack, samples_for
from renderer.plan import AudioItem
from renderer.schema.draft import Draft
from tests.renderer.render_check import dominant_hz, draft, ffprobe, media_factory, render_file, solid, sound

needs_ffmpeg = pytest.mark.skipif(
    shutil.which("ffmpeg") is None, reason="the ffmpeg command is not installed"
)


@pytest.fixture
def grey(tmp_path: Path) -> Path:
    return solid(tmp_path, "grey.png", (90, 90, 90))


def _rms(samples: np.ndarray) -> float:
    return float(np.sqrt(np.mean(samples**2)))


def test_music_is_heard_at_its_own_pitch(tmp_path: Path, grey: Path) -> None:
    tone = media_factory.mp3_tone(tmp_path, seconds=2.0)  # 440 Hz
    out = render_file(draft("music"), {"grey": grey, "tone": tone}, tmp_path / "o.mp4")
    samples = sound(out)
    assert dominant_hz(samples[:, 48000:96000]) == pytest.approx(440, abs=3)


def test_loop_fills_the_whole_duration_and_fade_in_starts_quiet(tmp_path: Path, grey: Path) -> None:
    tone = media_factory.mp3_tone(tmp_path, seconds=1.0)  # shorter than the 3 s segment
    samples = sound(render_file(draft("music"), {"grey": grey, "tone": tone}, tmp_path / "o.mp4"))
    second = 48000
    start, middle, late = (
        samples[:, :4800],
        samples[:, second + 2400 : second + 7200],
        samples[:, 2 * second + 2400 :],
    )
    assert _rms(late[:, :48000]) > 0.1  # still playing in the third second: looped, not run out
    assert _rms(start) < 0.3 * _rms(middle)  # fade_in: the first 0.1 s is much quieter


def test_trim_stops_the_song_at_the_segment_end(tmp_path: Path, grey: Path) -> None:
    tone = media_factory.mp3_tone(tmp_path, seconds=3.0)
    d = draft("music")
    d.t[1].sg[0].d = 1000
    d.t[1].sg[0].m.loop = False
    samples = sound(render_file(d, {"grey": grey, "tone": tone}, tmp_path / "o.mp4"))
    assert _rms(samples[:, 24000:43000]) > 0.1
    assert _rms(samples[:, 52000:140000]) < 0.01


def test_a_clips_own_sound_is_mixed_in(tmp_path: Path) -> None:
    clip = media_factory.mp4_clip(tmp_path, seconds=3.0)  # carries a 440 Hz tone
    samples = sound(render_file(draft("clip_audio"), {"clip": clip}, tmp_path / "o.mp4"))
    assert _rms(samples[:, 12000:80000]) > 0.1
    assert dominant_hz(samples[:, 12000:60000]) == pytest.approx(440, abs=3)


def test_loud_sources_are_soft_limited_not_clipped(tmp_path: Path, grey: Path) -> None:
    tone = media_factory.mp3_tone(tmp_path, seconds=2.0)
    d = draft("music")
    d.t[1].sg[0].m.vol = 4.0  # 0.25 amplitude x 4 = full scale, before AAC overshoot
    samples = sound(render_file(d, {"grey": grey, "tone": tone}, tmp_path / "o.mp4"))
    assert float(np.abs(samples).max()) < 1.0


# ---------------------------------------------------------------- loudness, clicks, ducking, sync

RATE = 48_000


def _wav(path: Path, signal: np.ndarray) -> Path:
    """(2, n) float in -1..1 -> 16-bit stereo WAV at 48 kHz (stdlib writer: not our code)."""
    pcm = (np.clip(signal, -1, 1).T * 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())
    return path


def _sine(hz: float, seconds: float, amplitude: float) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    mono = amplitude * np.sin(2 * np.pi * hz * t)
    return np.stack([mono, mono])


def _ebur128(path: Path) -> tuple[float, float]:
    """(integrated LUFS, true peak dBTP) measured by FFmpeg's ebur128 filter, not by our code."""
    result = subprocess.run(
        ["ffmpeg", "-nostats", "-hide_banner", "-i", str(path), "-filter_complex", "ebur128=peak=true",
         "-f", "null", "-"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    summary = result.stderr[result.stderr.rindex("Summary:") :]
    integrated = re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary)
    peak = re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    assert integrated and peak, summary
    return float(integrated.group(1)), float(peak.group(1))


def _music_draft(seconds: float, segment: dict[str, Any], fps: int = 10) -> Draft:
    return Draft.model_validate(
        {
            "d": round(seconds * 1000),
            "m": {"width": 64, "height": 64, "fps": fps},
            "t": [
                {"id": "v", "tt": 0, "sg": [{"id": "p", "src": "grey", "st": 0, "d": round(seconds * 1000)}]},
                {"id": "a", "tt": 1, "sg": [{"id": "m", "src": "song", **segment}]},
            ],
        }
    )


def _max_jump(samples: np.ndarray) -> float:
    return float(np.abs(np.diff(samples, axis=1)).max())


def _tone_level(samples: np.ndarray, hz: float) -> float:
    """Amplitude of the `hz` component (a single DFT bin with a Hann window), channel mean."""
    mono = samples.mean(axis=0)
    t = np.arange(mono.size) / RATE
    window = np.hanning(mono.size)
    return float(2 * abs(np.sum(mono * window * np.exp(-2j * np.pi * hz * t))) / window.sum())


@needs_ffmpeg
@pytest.mark.parametrize("kind", ["quiet_tone", "spiky_noise"])
def test_mix_measures_minus_14_lufs_with_true_peak_under_minus_1(
    tmp_path: Path, grey: Path, kind: str
) -> None:
    if kind == "quiet_tone":  # about -35 LUFS: must be raised by ~21 dB
        signal = _sine(440, 4.0, 0.02)
    else:  # quiet band-limited noise with full-scale 5 ms bursts: needs the true-peak limiter
        rng = np.random.default_rng(7)
        noise = np.convolve(rng.normal(0, 0.06, 4 * RATE), np.ones(8) / 8, mode="same")
        signal = np.stack([noise, noise])
        burst = 0.95 * np.hanning(240) * np.sin(2 * np.pi * 2000 * np.arange(240) / RATE)
        for start in range(RATE // 3, 4 * RATE - 240, RATE // 2):
            signal[:, start : start + 240] += burst
    song = _wav(tmp_path / "song.wav", signal)
    d = _music_draft(4.0, {"st": 0, "d": 4000})
    out = render_file(d, {"grey": grey, "song": song}, tmp_path / "o.mp4")
    before, _ = _ebur128(song)
    integrated, peak = _ebur128(out)
    assert before < -20  # the source really was quiet
    assert integrated == pytest.approx(-14.0, abs=1.0)
    assert peak <= -1.0


def test_loop_seam_is_click_free(tmp_path: Path, grey: Path) -> None:
    # 0.7513 s of 300 Hz ends mid-cycle: laid end to end, each seam would jump by up to 2x amplitude
    source = _sine(300, 0.7513, 0.3)
    assert abs(source[0, -1] - source[0, 0]) > 10 * _max_jump(source)  # the naive seam is a click
    song = _wav(tmp_path / "song.wav", source)
    d = _music_draft(3.0, {"st": 0, "d": 3000, "m": {"loop": True}})
    samples = sound(render_file(d, {"grey": grey, "song": song}, tmp_path / "o.mp4"))
    steady = samples[:, RATE // 10 : RATE * 7 // 10]  # inside the first lap
    amplitude = float(np.abs(steady).max())
    sine_slope = amplitude * 2 * np.pi * 300 / RATE  # the largest step of a clean sine
    assert _rms(samples[:, 2 * RATE : int(2.9 * RATE)]) > 0.5 * _rms(steady)  # still playing: looped
    # every seam (at 0.70 s, 1.40 s, 2.10 s, 2.80 s) steps no more than the sine itself does
    assert _max_jump(samples[:, RATE // 10 : int(2.9 * RATE)]) < 1.5 * sine_slope


def test_trimmed_segment_starts_and_ends_without_a_click(tmp_path: Path, grey: Path) -> None:
    song = _wav(tmp_path / "song.wav", _sine(300, 3.0, 0.3))
    # starts at 0.5 s from silence, 123 ms into the song (mid-cycle), ends mid-cycle at 1.611 s
    d = _music_draft(2.5, {"st": 500, "d": 1111, "ss": 123, "m": {"loop": False}})
    samples = sound(render_file(d, {"grey": grey, "song": song}, tmp_path / "o.mp4"))
    playing = samples[:, int(0.8 * RATE) : int(1.4 * RATE)]
    sine_slope = float(np.abs(playing).max()) * 2 * np.pi * 300 / RATE
    assert _rms(samples[:, : int(0.45 * RATE)]) < 0.01 and _rms(samples[:, int(1.7 * RATE) :]) < 0.01
    assert _max_jump(samples[:, int(0.4 * RATE) : int(1.75 * RATE)]) < 1.5 * sine_slope


def test_music_is_ducked_while_a_clip_speaks(tmp_path: Path, grey: Path) -> None:
    song = _wav(tmp_path / "song.wav", _sine(300, 4.0, 0.1))
    clip = media_factory.mp4_clip(tmp_path, seconds=1.2)  # its own sound: 440 Hz
    d = Draft.model_validate(
        {
            "d": 4000,
            "m": {"width": 64, "height": 64, "fps": 10},
            "t": [
                {
                    "id": "v",
                    "tt": 0,
                    "sg": [
                        {"id": "p1", "src": "grey", "st": 0, "d": 1000},
                        {"id": "c", "src": "clip", "st": 1000, "d": 1200},
                        {"id": "p2", "src": "grey", "st": 2200, "d": 1800},
                    ],
                },
                {"id": "a", "tt": 1, "sg": [{"id": "m", "src": "song", "st": 0, "d": 4000}]},
            ],
        }
    )
    samples = sound(render_file(d, {"grey": grey, "clip": clip, "song": song}, tmp_path / "o.mp4"))

    def music(a: float, b: float) -> float:
        return _tone_level(samples[:, int(a * RATE) : int(b * RATE)], 300)

    before, during, after = music(0.2, 0.9), music(1.4, 2.1), music(3.3, 3.9)
    assert 20 * np.log10(during / before) == pytest.approx(-10, abs=1.5)  # lowered by ~10 dB
    assert 20 * np.log10(after / before) == pytest.approx(0, abs=0.5)  # and back after release
    assert _tone_level(samples[:, int(1.4 * RATE) : int(2.1 * RATE)], 440) > 2 * during  # clip on top


def test_streamed_ten_minute_mix_is_exact_in_length_and_small_in_memory(tmp_path: Path) -> None:
    song = _wav(tmp_path / "song.wav", _sine(300, 1.3, 0.2))
    item = AudioItem("m", song, 0.0, 600.0, 0.0, 1.0, 0.5, 1.0, True)
    n_samples = samples_for(6000, 10)  # 6000 frames at 10 fps
    track = Soundtrack([item], n_samples)
    tracemalloc.start()
    try:
        track.measure()
        total = sum(block.shape[1] for block in track.blocks())
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert total == n_samples == 600 * RATE
    assert peak < 64 * 2**20  # the whole mix as one float32 array would be 230 MB


@needs_ffmpeg
def test_ten_minute_render_keeps_audio_within_a_frame_of_video(tmp_path: Path, grey: Path) -> None:
    """Ten minutes at 30 fps under a looping song; at 9:59 the picture turns white and a 1 kHz
    beep starts, both placed at 599,000 ms in the draft. In the file, the first white frame and
    the beep's onset must lie within one frame (33 ms) of each other and of 599 s: no drift
    from the sample counting, the loop, the AAC packets or the muxer's timestamps."""
    song = _wav(tmp_path / "song.wav", _sine(300, 7.3, 0.05))
    beep = _wav(tmp_path / "beep.wav", _sine(1000, 1.0, 0.5))
    white = solid(tmp_path, "white.png", (250, 250, 250))
    fps, cue = 30, 599.0
    d = Draft.model_validate(
        {
            "d": 600_000,
            "m": {"width": 64, "height": 64, "fps": fps},
            "t": [
                {
                    "id": "v",
                    "tt": 0,
                    "sg": [
                        {"id": "g", "src": "grey", "st": 0, "d": 599_000},
                        {"id": "w", "src": "white", "st": 599_000, "d": 1000},
                    ],
                },
                {
                    "id": "a",
                    "tt": 1,
                    "sg": [{"id": "m", "src": "song", "st": 0, "d": 600_000, "m": {"loop": True}}],
                },
                {"id": "b", "tt": 1, "sg": [{"id": "b", "src": "beep", "st": 599_000, "d": 1000}]},
            ],
        }
    )
    out = render_file(
        d, {"grey": grey, "white": white, "song": song, "beep": beep}, tmp_path / "o.mp4", preset="ultrafast"
    )
    streams = {s["codec_type"]: s for s in ffprobe(out)["streams"]}
    video, audio = float(streams["video"]["duration"]), float(streams["audio"]["duration"])
    assert video == pytest.approx(600.0, abs=0.1)
    assert abs(audio - video) <= 1 / fps

    with av.open(str(out)) as container:
        flash = next(
            float(f.time)
            for f in container.decode(video=0)
            if f.time is not None and f.time > cue - 1 and f.to_ndarray(format="gray").mean() > 170
        )
    with av.open(str(out)) as container:
        tail = [f for f in container.decode(audio=0) if f.time is not None and f.time > cue - 1]
        start = float(tail[0].time)
        mono = np.concatenate([f.to_ndarray() for f in tail], axis=1).mean(axis=0)
    # the 1 kHz envelope (complex demodulation, 2 ms average); onset where it reaches half its peak
    t = start + np.arange(mono.size) / RATE
    envelope = np.abs(np.convolve(mono * np.exp(-2j * np.pi * 1000 * t), np.ones(96) / 96, mode="same"))
    onset = float(t[np.argmax(envelope > envelope.max() / 2)])
    assert flash == pytest.approx(cue, abs=1 / fps)
    assert onset == pytest.approx(cue, abs=1 / fps)
    assert abs(onset - flash) <= 1 / fps
