"""Settings: the one place that reads the environment (prefix `NEMO_`, `__` for nesting).

Nothing builds a Settings at import time: `python -m server` makes one and hands it to
`create_app(settings)`; tests build their own. Every field appears in `.env.example` and in the
README's configuration table (a test checks both).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class RenderSettings(BaseModel):
    workers: int = Field(
        1,
        ge=0,
        le=64,
        description="embedded render worker threads (0: none, for a separate worker; "
        "with a Celery broker: 0 unless set)",
    )
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="where frames are composited")
    encoder: Literal["auto", "libx264", "h264_nvenc", "ffmpeg-libx264"] = Field(
        "auto", description="H.264 encoder; ffmpeg-libx264 encodes through the ffmpeg command"
    )
    lease_seconds: float = Field(30.0, gt=0, description="render job lease; renewed by heartbeats")
    max_attempts: int = Field(
        3, ge=1, description="runs that fail on their own (an error, a crashed render) before a job is failed"
    )
    max_lost_leases: int = Field(
        10,
        ge=0,
        description="runs whose worker vanished (its lease lapsed: a killed server or machine) before a job "
        "is failed; counted apart from max_attempts",
    )
    poll_seconds: float = Field(0.5, gt=0, description="how often idle workers look for jobs")
    max_duration_seconds: float = Field(
        1800.0, gt=0, description="longest draft a render accepts (its `d`), in seconds"
    )
    max_segments: int = Field(
        1000, ge=1, description="most segments a rendered draft may hold, all tracks together"
    )
    slowest_preset: Literal[
        "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"
    ] = Field("medium", description="slowest x264 `output.preset` a render may ask for (slower ones: 400)")
    min_crf: int = Field(
        18,
        ge=0,
        le=51,
        description="lowest `output.crf` a render may ask for (lower is bigger and slower; 0 is lossless)",
    )
    max_active_per_user: int = Field(
        2, ge=1, description="renders one user may have queued or running at once (past it: 429)"
    )
    celery_broker_url: str | None = Field(
        None, description="set to hand renders to Celery workers (redis:// or amqp://)"
    )
    celery_queue: str = Field(
        "nemo.renders", description="the broker queue renders go to (workers' --queue): one per deployment"
    )


class LLMSettings(BaseModel):
    base_url: str | None = Field(None, description="OpenAI-compatible endpoint; unset: the rule planner")
    model: str = Field("gpt-4o-mini", description="model name sent to the endpoint")
    api_key: SecretStr | None = Field(None, description="bearer key for the endpoint")
    timeout_seconds: float = Field(60.0, gt=0, description="per request to the LLM")


class FakeSettings(BaseModel):
    """Only read in fake mode (`NEMO_MODE=fake`, `python -m server --fake`): the integration-test fake."""

    seed: int = Field(1, description="fake mode: seed of every id; the same seed gives the same ids")
    start_time: datetime = Field(
        datetime(2026, 3, 20, 9, 46, 40, tzinfo=UTC), description="fake mode: the clock's start (UTC)"
    )
    credits: int = Field(1_000_000_000, ge=0, description="fake mode: credits of a new user (unlimited)")
    render_short_side: int = Field(
        240, ge=16, le=2160, description="fake mode: renders scaled to this short side"
    )
    render_preset: Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium"] = Field(
        "ultrafast", description="fake mode: x264 preset of renders"
    )
    render_full_size: bool = Field(
        False, description="fake mode: render at the draft's size, as normal mode does"
    )
    render_workers: int = Field(
        2, ge=1, le=16, description="fake mode: embedded render workers (a stuck render holds one)"
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="NEMO_", env_nested_delimiter="__", env_file=".env", extra="ignore"
    )

    mode: Literal["normal", "fake"] = Field("normal", description="`fake`: the integration-test fake")
    host: str = Field("127.0.0.1", description="address to listen on")
    port: int = Field(8000, ge=0, le=65535, description="port to listen on")
    data_dir: Path = Field(Path("./data"), description="database file, media and renders")
    database_url: str | None = Field(None, description="SQLAlchemy URL; unset: SQLite file in the data dir")
    public_url: str | None = Field(
        None,
        description="base of cdn_url/outputUrl/claim_url; unset: from the request's Host when it is "
        "loopback or in allowed_hosts, else http://<host>:<port>",
    )
    forwarded_allow_ips: list[str] = Field(
        default_factory=list,
        description="addresses of reverse proxies whose X-Forwarded-For/-Proto are believed (the caller's "
        "address decides client-id ownership and per-IP limits); empty: none",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="with public_url unset: Host header names (besides loopback) that links may use",
    )
    max_upload_mb: int = Field(200, ge=1, description="largest accepted upload")
    max_image_pixels: int = Field(50_000_000, ge=1, description="largest accepted photo, in pixels")
    max_request_mb: int = Field(
        2048, ge=1, description="largest upload request (all its files together); each file: max_upload_mb"
    )
    max_json_mb: float = Field(
        8.0,
        gt=0,
        description="largest JSON request body (a render's draft included); refused from Content-Length "
        "before reading",
    )
    body_idle_timeout_seconds: float = Field(
        60.0, gt=0, description="a request body that sends nothing for this long is dropped (408)"
    )
    sweep_seconds: float = Field(
        10.0,
        gt=0,
        description="how often credit holds and temp files of requests that died are released",
    )
    tmp_max_age_seconds: float = Field(
        6 * 3600.0,
        gt=0,
        description="a temp file of a live process unwritten this long is a leak and is removed",
    )
    anon_credits: int = Field(100, ge=0, description="credits of a new anonymous user")
    turn_cost: int = Field(5, ge=0, description="credits one chat turn costs")
    token_ttl_days: int = Field(7, ge=1, description="life of an anonymous token")
    anon_tokens_per_ip: int = Field(10, ge=1, description="new client ids per IP per 7 days")
    rate_limit_per_token: str | None = Field(
        "120/minute", description="requests per token (`limits` notation, e.g. 120/minute); empty: no limit"
    )
    rate_limit_storage: str = Field(
        "memory://", description="`limits` storage URI; redis://host:6379 to share limits between processes"
    )
    require_attribution: bool = Field(
        False, description="reproduce the gating: anonymous + no X-Skill-* headers -> 402 on export"
    )
    bind_url: str = Field("https://nemovideo.com/bind", description="registration link sent with 2001")
    secret_key: SecretStr | None = Field(
        None, description="key for token hashes; unset: made once and kept in the data dir"
    )
    fetch_allow_private: bool = Field(
        False, description="let URL uploads reach private ranges (never loopback)"
    )
    fetch_allowed_ports: list[int] = Field(
        default_factory=lambda: [80, 443], description="ports URL uploads may use"
    )
    heartbeat_seconds: float = Field(
        15.0, gt=0, description="heartbeat interval: SSE comments, chat socket messages"
    )
    stream_cap_seconds: float = Field(900.0, gt=0, description="hard cap on one /run_sse stream")
    turn_wait_seconds: float = Field(
        30.0, ge=0, description="a second turn on a busy session waits this long, then 429"
    )
    turn_lease_seconds: float = Field(
        15.0,
        gt=0,
        description="one turn per session across API processes on one database: the lease, renewed "
        "while a turn runs; a process that dies mid-turn blocks its session this long",
    )
    log_level: str = Field("info", description="uvicorn and app log level")
    render: RenderSettings = Field(default_factory=RenderSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    fake: FakeSettings = Field(default_factory=FakeSettings)

    @field_validator("rate_limit_per_token")
    @classmethod
    def _rate_limit_parses(cls, value: str | None) -> str | None:
        if value and value.strip():
            from limits import parse

            parse(value)  # ValueError at startup, not on the first request
        return value

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * 1024 * 1024

    @property
    def max_json_bytes(self) -> int:
        return int(self.max_json_mb * 1024 * 1024)

    @property
    def max_request_bytes(self) -> int:
        return self.max_request_mb * 1024 * 1024

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'nemo.db').resolve()}"
