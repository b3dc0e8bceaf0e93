"""Settings: the only code that reads the environment (and `.env`)."""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.netaddr import Network, parse_networks

# Token the gateway uses for its own in-process sandbox; never leaves the process.
EMBEDDED_SANDBOX_TOKEN = "embedded-sandbox"  # noqa: S105


class Settings(BaseSettings):
    """Every setting the gateway knows, with safe defaults for the embedded mode."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    # Where the embedded default keeps its files (SQLite database, generated secret).
    data_dir: Path = Path("data")
    database_url: str = ""
    redis_url: str = ""

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

    # `compat` answers errors with HTTP 200 as FaceCheck does; `http` uses the matching status.
    api_error_status: Literal["compat", "http"] = "compat"

    # Image checks, applied before anything goes upstream.
    max_image_bytes: int = Field(8 * 1024 * 1024, gt=0)
    max_request_bytes: int = Field(26 * 1024 * 1024, gt=0)
    max_image_pixels: int = Field(40_000_000, gt=0)
    min_image_side: int = Field(16, ge=1)

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

    # A held search upstream has not settled this many hours after its submit is flagged unresolved
    # for an operator (never refunded on a guess).
    unresolved_after_hours: float = Field(24.0, gt=0)
    # Ledger: upstream balance reads are recorded when the balance moved, and at least this often;
    # the drift gauge covers the last LEDGER_DAYS days (UTC) and is refreshed this often.
    ledger_record_seconds: float = Field(300.0, gt=0)
    ledger_days: int = Field(7, ge=1, le=366)
    ledger_refresh_seconds: float = Field(60.0, gt=0)

    log_level: str = "INFO"
    log_format: Literal["json", "text"] = "json"

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

    @field_validator("facecheck_api_token", "gateway_secret", "admin_token", mode="before")
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
        """Reasons to refuse to start; production (a real upstream token) needs a strong secret."""
        problems: list[str] = []
        if not self.sandbox_mode:
            secret = self.gateway_secret.get_secret_value() if self.gateway_secret else ""
            if len(secret) < 32:
                problems.append("GATEWAY_SECRET must be set to at least 32 characters when FACECHECK_API_TOKEN is set")
            admin = self.admin_token.get_secret_value() if self.admin_token else ""
            if len(admin) < 32:
                problems.append("ADMIN_TOKEN must be set to at least 32 characters when FACECHECK_API_TOKEN is set")
        return problems
