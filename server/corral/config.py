"""Configuration: one YAML file plus `CORRAL_*` environment variables (which win).

The file is `CORRAL_CONFIG` if set, else `./corral.yaml` when it exists. Every key is documented
in the README; nested keys use `__` in environment variables (`CORRAL_LIMITS__DEFAULT_BYTES`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

MiB = 1024 * 1024


def config_file() -> Path:
    """The YAML file settings are read from (it may not exist)."""
    return Path(os.environ.get("CORRAL_CONFIG", "corral.yaml"))


class ApiToken(BaseModel):
    token: str = Field(min_length=8)
    subject: str = "token"
    workspaces: list[str] | None = None  # None: every workspace


class Limits(BaseModel):
    default_bytes: int = 1 * MiB
    message_bytes: int = 16 * MiB
    upload_bytes: int = 256 * MiB


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="CORRAL_", env_nested_delimiter="__", extra="forbid"
    )

    host: str = "127.0.0.1"
    port: int = 8787
    # API processes `corral serve` runs on the port (README "Scaling out"); 1: no supervisor.
    workers: int = Field(default=1, ge=1)
    # The HTTP edge against slow or greedy clients (README "Limits"): a request head must be
    # complete this long after its first byte (or the connection's start), however slowly it
    # trickles in; connections beyond the caps are closed as soon as they are accepted.
    http_head_timeout_seconds: float = Field(default=15.0, gt=0)
    http_max_head_bytes: int = Field(default=64 * 1024, ge=1024)
    http_max_connections: int = Field(default=8192, ge=1)
    http_max_connections_per_client: int = Field(default=1024, ge=1)
    # Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or
    # networks); empty: the client is the peer address, whatever the headers say.
    trusted_proxies: list[str] = []
    # The credential `/internal/v1/*` requires besides a loopback address; default: a random
    # secret of this process, handed to nothing unless the operator sets it here.
    internal_token: str | None = Field(default=None, min_length=16)
    data_dir: Path = Path(".corral")
    database_url: str | None = None  # default: sqlite under data_dir
    api_tokens: Annotated[list[ApiToken], NoDecode] = []
    log_level: str = "info"
    log_json: bool | None = None  # default: JSON when stderr is not a terminal
    validate_responses: bool = False
    docs: bool = True
    limits: Limits = Limits()
    # Directories (besides the managed workspaces dir) in which a client may place a workspace
    # with an explicit rootPath or import one; empty: only the managed dir.
    workspace_roots: list[Path] = []
    # Sandbox commands (README "Sandbox isolation"). auto: bwrap when it is installed and works.
    sandbox_isolation: Literal["auto", "bwrap", "none"] = "auto"
    sandbox_network: bool = False  # bwrap only; `none` never cuts the network
    sandbox_env_passthrough: list[str] = []  # server variables commands may see, by name
    sandbox_hidden_paths: list[Path] = []  # masked in bwrap besides data_dir, home, config
    sandbox_timeout_ms: int = Field(default=120_000, ge=1)
    sandbox_max_timeout_ms: int = Field(default=1_800_000, ge=1)
    sandbox_output_bytes: int = Field(default=1 * MiB, ge=1)  # each of stdout and stderr
    sandbox_task_log_bytes: int = Field(default=64 * MiB, ge=1)  # per background task
    sandbox_max_background_tasks: int = Field(default=32, ge=1)  # running at once
    sandbox_max_background_tasks_per_workspace: int = Field(default=8, ge=1)
    # A background command still running this long after its start is ended (0: never).
    sandbox_background_max_seconds: float = Field(default=6 * 3600, ge=0)
    # Session event streams (SSE): the comment sent on an idle stream so proxies keep it open,
    # and how many events a live reader may fall behind before its stream is ended.
    sse_ping_seconds: float = Field(default=15.0, gt=0)
    sse_max_lag_events: int = Field(default=1000, ge=1)
    # How often commits of other processes on the same database (a `corral worker`, other API
    # processes) are looked for: events of followed sessions, and runs queued or cancels
    # requested elsewhere (in a worker); 0: never.
    sse_foreign_poll_seconds: float = Field(default=0.25, ge=0)
    # Redis (README "Redis"): processes sharing the database tell each other of committed
    # events, runs to take and runs to stop through it instead of polling; the poll above then
    # runs only while Redis is unreachable, and every `redis_safety_poll_seconds` (0: never).
    # Channels and keys start with `redis_prefix` (Pub/Sub ignores the URL's db number).
    redis_url: str | None = None
    redis_prefix: str = Field(default="corral:", pattern=r"^\S*$")
    redis_safety_poll_seconds: float = Field(default=5.0, ge=0)
    # Platform models (core/llm/platform_models.py): YAML files in `models_dir`; without a
    # `default` there, the default model follows the provider keys in the environment.
    models_dir: Path | None = None  # default: <data_dir>/models
    default_openai_model: str = "gpt-4.1"
    default_anthropic_model: str = "claude-sonnet-5-5"
    # Server variables a workspace model's `keyEnv` may name. Workspaces are agent-writable:
    # never list a key that agents must not spend.
    model_key_env_allowlist: list[str] = []

    # Runs (README "Runs"): how many execute at once in this process, how often an executing
    # run proves it is alive, when a silent one counts as abandoned, and what then happens.
    run_worker: bool = True  # false: this process only queues runs; `corral worker`s run them
    run_concurrency: int = Field(default=64, ge=1)
    run_heartbeat_seconds: float = Field(default=5.0, gt=0)
    run_stale_seconds: float = Field(default=120.0, gt=0)
    run_recovery_policy: Literal["fail", "requeue_running"] = "fail"
    run_recovery_max_attempts: int = Field(default=1, ge=0)

    @field_validator("api_tokens", mode="before")
    @classmethod
    def _tokens_from_text(cls, value: Any) -> Any:
        """`CORRAL_API_TOKENS=tok1,tok2` is accepted beside the JSON list form."""
        if isinstance(value, str):
            if value.lstrip().startswith("["):
                return json.loads(value)
            return [{"token": t.strip()} for t in value.split(",") if t.strip()]
        return value

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        path = config_file()
        sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings)
        if path.is_file():
            sources += (YamlConfigSettingsSource(settings_cls, yaml_file=path),)
        return sources

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.data_dir / 'corral.db').resolve()}"

    @property
    def workspaces_dir(self) -> Path:
        return (self.data_dir / "workspaces").resolve()

    @property
    def runtimes_dir(self) -> Path:
        return (self.data_dir / "runtimes").resolve()

    @property
    def platform_models_dir(self) -> Path:
        return (self.models_dir or self.data_dir / "models").resolve()
