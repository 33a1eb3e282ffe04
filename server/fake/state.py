"""FakeState: what one fake-mode app keeps besides the real server (ctx.extras["fake"])."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from server.config import FakeSettings
from server.fake.determinism import FakeClock, SeededIds
from server.fake.faults import FaultBook
from server.fake.journal import Journal

if TYPE_CHECKING:
    from server.context import AppContext

EXTRAS_KEY = "fake"


@dataclass
class RenderDefaults:
    """How the fake renders unless a request says otherwise (POST /_fake/render-defaults changes it)."""

    short_side: int
    preset: str
    full_size: bool

    def output_extra(self, asked_full_size: bool) -> dict[str, Any]:
        return {
            "full_size": self.full_size or asked_full_size,
            "short_side": self.short_side,
            "preset": self.preset,
        }


@dataclass
class FakeState:
    config: FakeSettings
    ids: SeededIds
    clock: FakeClock
    render: RenderDefaults
    journal: Journal = field(default_factory=Journal)
    faults: FaultBook = field(default_factory=FaultBook)

    @classmethod
    def from_settings(cls, config: FakeSettings) -> FakeState:
        return cls(
            config=config,
            ids=SeededIds(config.seed),
            clock=FakeClock(config.start_time),
            render=RenderDefaults(config.render_short_side, config.render_preset, config.render_full_size),
        )


def fake_state(ctx: AppContext) -> FakeState:
    return ctx.extras[EXTRAS_KEY]  # type: ignore[no-any-return]
