"""Settings: the only code that reads the environment (and `.env`)."""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.netaddr import Network, parse_networks

# Token the gateway uses for its own in-process sandbox; never leaves the process.
EMBEDDED_SANDBOX_TOKEN = "embedded-sandbox"  # noqa: S105


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(f"expected host:port, got {text.strip()!r}")
    return host.strip("[]"), int(port)


class Settings(BaseSettings):
    """Every setting the gateway knows, with safe defaults for the embedded mode."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Where the embedded default keeps its files (SQLite database, generated secret).
    data_dir: Path = Path("data")
    database_url: str = ""
    redis_url: str = ""
    # How Redis is run (see docs/redis.md): one node; a Redis Cluster (REDIS_URL names any node);
    # or a primary found through Sentinel (REDIS_URL then gives only credentials, db and TLS).
    redis_mode: Literal["standalone", "cluster", "sentinel"] = "standalone"
    redis_sentinels: str = ""  # comma-separated host:port of the sentinels
    redis_sentinel_master: str = ""  # the name the sentinels monitor the primary under
    redis_sentinel_password: SecretStr | None = None  # the sentinels' own password, if they ask one

    # Upstream. No token means the built-in sandbox simulator answers in-process.
    facecheck_api_token: SecretStr | None = None
    facecheck_base_url: str = "https://facecheck.id"
    upstream_connect_timeout_seconds: float = Field(5.0, gt=0)
    upstream_timeout_seconds: float = Field(30.0, gt=0)
    upstream_poll_interval_seconds: float = Field(1.0, gt=0)
    # Circuit breaker: this many consecutive transport failures, timeouts or 5xx (0: never) pause new
    # uploads and submits for CIRCUIT_OPEN_SECONDS; then an /api/info probe decides.
    circuit_failure_threshold: int = Field(5, ge=0)
    circuit_open_seconds: float = Field(30.0, gt=0)
    # How long `with_progress: false` holds the call open before answering with the current status.
    search_wait_seconds: float = Field(60.0, ge=0)

    # Quotas and credits.
    search_credit_cost: int = Field(3, ge=0)
    upstream_max_concurrent_searches: int = Field(20, ge=1)
    # `closed` refuses spending calls when Redis is unreachable; `open` lets them through.
    quota_fail_mode: Literal["closed", "open"] = "closed"
    balance_refresh_seconds: float = Field(60.0, gt=0)
    info_cache_seconds: float = Field(5.0, ge=0)
    # How often the background tracker checks searches no client is polling.
    tracker_interval_seconds: float = Field(2.0, gt=0)
    redis_key_prefix: str = Field("fcg", pattern=r"^[A-Za-z0-9_:-]{1,32}$")
    redis_timeout_seconds: float = Field(0.5, gt=0)

    # Result cache, single flight and poll coalescing. A finished search's output is kept this long
    # (0: nothing is stored); `tenant` shares results only within a tenant, `global` across tenants,
    # `off` shares nothing (no cache, no single flight). Tenants may override the scope.
    cache_ttl_seconds: int = Field(86_400, ge=0)
    cache_scope: Literal["tenant", "global", "off"] = "tenant"
    # Credits a search answered from the cache costs its tenant (0: free).
    cache_hit_credit_cost: int = Field(0, ge=0)
    # Bytes the in-process result cache (embedded mode) may hold; least recently used results go
    # first. With Redis, bound its memory with Redis's own `maxmemory`.
    cache_max_bytes: int = Field(64 * 1024 * 1024, ge=0)
    # Delete each input image upstream (delete_pic) once its search has finished or failed.
    delete_inputs_after_search: bool = False

    # HMAC secret for API keys and ids. Empty: generated once and kept in DATA_DIR.
    gateway_secret: SecretStr | None = None
    # Bearer token for /admin. Empty: only keys with the `admin` scope reach /admin.
    admin_token: SecretStr | None = None
    # Key lookups are cached this long per process; revocations reach every replica at once via Redis.
    key_cache_seconds: float = Field(5.0, ge=0)
    # Failed authentications from one client address allowed per window, before it is refused.
    auth_failure_limit: int = Field(20, ge=1)
    auth_failure_window_seconds: float = Field(60.0, gt=0)

    # Admin console: a session ends after this long without a request; a sign-in link printed by
    # `serve` on the embedded default works once, within this long.
    console_idle_seconds: float = Field(1800.0, gt=0)
    console_link_seconds: float = Field(86_400.0, gt=0)

    # `compat` answers errors with HTTP 200 as FaceCheck does; `http` uses the matching status.
    api_error_status: Literal["compat", "http"] = "compat"

    # Image checks, applied before anything goes upstream.
    max_image_bytes: int = Field(8 * 1024 * 1024, gt=0)
    max_request_bytes: int = Field(26 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(40_000_000, gt=0)
    min_image_side: int = Field(16, ge=1)
    # Memory one image may take once decoded (width x height x bytes per pixel; a JPEG counts at the
    # 1/8 scale it is checked at), and how many images one process decodes at once.
    max_decoded_image_bytes: int = Field(96 * 1024 * 1024, gt=0)
    image_decode_concurrency: int = Field(2, ge=1)
    # Limits applied as bytes arrive: every request header together (names and values), and how long
    # a request body may pause between two chunks before the call is cut (REQUEST_TIMEOUT).
    max_header_bytes: int = Field(32 * 1024, ge=1024)
    body_timeout_seconds: float = Field(30.0, gt=0)

    # Audit log. Spool: where events wait (fsync'd) while the database cannot take them; empty =
    # DATA_DIR/audit-spool. Result URLs are stored only when asked for. Retention 0 = keep forever
    # (PostgreSQL drops whole monthly partitions older than this).
    audit_spool_dir: str = ""
    audit_result_urls: bool = False
    audit_retention_days: int = Field(0, ge=0)
    audit_replay_interval_seconds: float = Field(5.0, gt=0)
    # Proxies (comma-separated CIDRs) whose X-Forwarded-For is believed, for the client address
    # recorded in the audit log and counted by the authentication brake.
    trusted_proxies: str = ""

    # Budget notifications: how often every replica checks budgets and sends what the outbox holds
    # (also soon after a search is charged); each webhook call's timeout; attempts before giving up;
    # the first retry's wait, doubled after each failure (at most an hour).
    notify_interval_seconds: float = Field(10.0, gt=0)
    webhook_timeout_seconds: float = Field(5.0, gt=0)
    webhook_max_attempts: int = Field(10, ge=1)
    webhook_retry_seconds: float = Field(10.0, gt=0)
    # A held search upstream has not settled this many hours after its submit is flagged unresolved
    # for an operator (never refunded on a guess).
    unresolved_after_hours: float = Field(24.0, gt=0)
    # Ledger: upstream balance reads are recorded when the balance moved, and at least this often;
    # the drift gauge covers the last LEDGER_DAYS days (UTC) and is refreshed this often.
    ledger_record_seconds: float = Field(300.0, gt=0)
    ledger_days: int = Field(7, ge=1, le=366)
    ledger_refresh_seconds: float = Field(60.0, gt=0)

    log_level: str = "INFO"
    # `auto`: text for humans when stderr is an interactive terminal, JSON lines otherwise.
    log_format: Literal["auto", "json", "text"] = "auto"

    # Observability. /metrics needs no key (operators scrape it); it carries no secret and only
    # bounded labels. Worker processes share metrics through files in PROMETHEUS_MULTIPROC_DIR:
    # empty = `serve` makes a fresh temporary folder when it runs more than one worker.
    metrics_enabled: bool = True
    prometheus_multiproc_dir: str = ""
    # /readyz asks upstream at most once per this many seconds, so probes cannot hammer it.
    # Longest any single /readyz check may take before it counts as failed.
    readyz_timeout_seconds: float = Field(2.0, gt=0)

    # The sandbox simulator's knobs (for `facecheck-gateway sandbox` and the embedded upstream).
    sandbox_tokens: str = "sandbox"
    sandbox_initial_credits: int = Field(1000, ge=0)
    sandbox_queue_seconds: float = Field(1.0, ge=0)
    sandbox_search_seconds: float = Field(3.0, ge=0)
    sandbox_latency_ms: int = Field(0, ge=0)
    sandbox_error_rate: float = Field(0.0, ge=0, le=1)
    sandbox_url_shape: Literal["string", "object"] = "string"

    @field_validator("facecheck_api_token", "gateway_secret", "admin_token", "redis_sentinel_password",
                     mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def sandbox_mode(self) -> bool:
        """True when no FaceCheck token is configured: the in-process simulator is the upstream."""
        return self.facecheck_api_token is None

    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{(self.data_dir / 'gateway.db').as_posix()}"

    @cached_property
    def trusted_networks(self) -> tuple[Network, ...]:
        return parse_networks(self.trusted_proxies)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: str) -> str:
        parse_networks(value)  # a bad CIDR fails at start, not on the first request
        return value

    @cached_property
    def sentinel_addresses(self) -> list[tuple[str, int]]:
        return [_host_port(part) for part in self.redis_sentinels.split(",") if part.strip()]

    @model_validator(mode="after")
    def _sentinel_complete(self) -> Settings:
        incomplete = not self.redis_sentinel_master or not self.sentinel_addresses
        if self.redis_mode == "sentinel" and self.redis_url and incomplete:
            raise ValueError("REDIS_MODE=sentinel needs REDIS_SENTINELS and REDIS_SENTINEL_MASTER")
        return self

    @property
    def spool_dir(self) -> Path:
        return Path(self.audit_spool_dir) if self.audit_spool_dir else self.data_dir / "audit-spool"

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.startswith("sqlite")

    @cached_property
    def secret_bytes(self) -> bytes:
        """The HMAC key; generated and persisted (0600) on first use when not configured."""
        if self.gateway_secret is not None:
            return self.gateway_secret.get_secret_value().encode()
        path = self.data_dir / "gateway-secret"
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".gateway-secret.{secrets.token_hex(4)}")
            tmp.write_text(secrets.token_urlsafe(48), encoding="ascii")
            tmp.chmod(0o600)
            try:
                os.link(tmp, path)  # atomic: a concurrent starter either wins or reads ours
            except FileExistsError:
                pass
            finally:
                tmp.unlink()
        return path.read_text(encoding="ascii").strip().encode()

    def startup_problems(self) -> list[str]:
        """Reasons to refuse to start: a weak GATEWAY_SECRET or ADMIN_TOKEN wherever one is set, and
        either one missing in production (a real upstream token)."""
        problems: list[str] = []
        for name, value in (("GATEWAY_SECRET", self.gateway_secret), ("ADMIN_TOKEN", self.admin_token)):
            if value is None:
                if not self.sandbox_mode:
                    problems.append(f"{name} must be set when FACECHECK_API_TOKEN is set; {GENERATE_HINT}")
            elif (weakness := secret_weakness(value.get_secret_value())) is not None:
                problems.append(f"{name} is too weak ({weakness}); {GENERATE_HINT}")
        return problems


MIN_SECRET_LENGTH = 32
GENERATE_HINT = (f"use at least {MIN_SECRET_LENGTH} random characters, for example the output of "
                 "`python3 -c 'import secrets; print(secrets.token_urlsafe(48))'`")


def secret_weakness(value: str) -> str | None:
    """Why a configured secret is too weak to trust, or None. Length alone is not enough: 32 times
    the same letter is long. Random tokens (hex, base64) have many distinct characters and none
    that dominates."""
    if len(value) < MIN_SECRET_LENGTH:
        return f"{len(value)} characters; at least {MIN_SECRET_LENGTH} are needed"
    most = max(value.count(c) for c in set(value))
    if len(set(value)) < 10 or most * 4 > len(value):
        return "too little variety: a few characters repeated"
    return None
