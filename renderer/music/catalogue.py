"""The built-in music catalogue: six loopable tracks, their names, moods, tempos and beat grids.

Pure data (no numpy, no audio): the agent reads it to pick a track and place cuts on its beats, the
server checks a draft's `builtin:<name>` against it, and renderer/music/synth.py makes each track's
samples from the same recipes. Tracks are whole bars long, so the beat grid (`beats_ms`) continues
across the loop point.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import BaseModel

SAMPLE_RATE = 48_000
VERSION = "v1"
BUILTIN_PREFIX = "builtin:"


class BuiltinTrack(BaseModel):
    name: str
    title: str
    mood: str
    bpm: float
    duration_ms: int
    beats_ms: list[int]

    @property
    def src(self) -> str:
        return f"{BUILTIN_PREFIX}{self.name}"


Chord = tuple[int, tuple[int, ...]]  # (root as MIDI note, intervals above the root)


@dataclass(frozen=True)
class Recipe:
    name: str
    title: str
    mood: str
    bpm: float
    bars: int
    seed: int
    chords: tuple[Chord, ...]  # one per `bars_per_chord` bars, cycled
    bars_per_chord: int = 1

    @property
    def beat_s(self) -> float:
        return 60.0 / self.bpm

    @property
    def n_samples(self) -> int:
        return round(self.bars * 4 * self.beat_s * SAMPLE_RATE)

    def track(self) -> BuiltinTrack:
        beats = self.bars * 4
        return BuiltinTrack(
            name=self.name,
            title=self.title,
            mood=self.mood,
            bpm=self.bpm,
            duration_ms=round(self.n_samples * 1000 / SAMPLE_RATE),
            beats_ms=[round(i * 60_000 / self.bpm) for i in range(beats)],
        )

    def chord_at(self, bar: int) -> Chord:
        return self.chords[(bar // self.bars_per_chord) % len(self.chords)]


MAJ, MIN, MAJ7, MIN7, DOM7 = (0, 4, 7), (0, 3, 7), (0, 4, 7, 11), (0, 3, 7, 10), (0, 4, 7, 10)
MIN9, MAJ9, SUS2 = (0, 3, 7, 10, 14), (0, 4, 7, 11, 14), (0, 2, 7)

RECIPES: tuple[Recipe, ...] = (
    Recipe("lofi", "Lo-fi", "chill", 80, 24, 11, ((50, MIN9), (43, DOM7), (48, MAJ9), (45, MIN7))),
    Recipe("upbeat", "Upbeat", "happy", 120, 40, 23, ((43, MAJ), (50, MAJ), (52, MIN), (48, MAJ))),
    Recipe("cinematic", "Cinematic", "epic", 70, 20, 37, ((45, MIN), (41, MAJ), (48, MAJ), (43, MAJ))),
    Recipe("calm", "Calm", "peaceful", 66, 18, 41, ((41, MAJ7), (48, MAJ7), (50, MIN7), (46, MAJ7)), 2),
    Recipe("acoustic", "Acoustic", "warm", 96, 32, 53, ((43, MAJ), (48, SUS2), (52, MIN), (50, MAJ))),
    Recipe(
        "electronic", "Electronic", "energetic", 124, 40, 67, ((41, MIN), (49, MAJ), (44, MAJ), (51, MAJ))
    ),
)
RECIPES_BY_NAME = {r.name: r for r in RECIPES}
CATALOGUE: dict[str, BuiltinTrack] = {r.name: r.track() for r in RECIPES}


def track_for_src(src: str) -> BuiltinTrack | None:
    """The catalogue entry a draft's `src` names (`builtin:<name>`), else None."""
    if not src.startswith(BUILTIN_PREFIX):
        return None
    return CATALOGUE.get(src[len(BUILTIN_PREFIX) :])
