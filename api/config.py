"""The tracking service's configuration: a plain value the shell builds from the settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from limits import parse

from schemas.codes import DEFAULT_MARKETPLACE_FORMAT, MarketplaceFormat


@dataclass(frozen=True, slots=True)
class HistoryTarget:
    """Where the service reads shipment history: a ClickHouse HTTP interface (a server, or the
    running sink's read-only query endpoint for the embedded store)."""

    url: str
    """``http(s)://host:port``."""
    database: str = "tracecode"
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    timeout_s: float = 10.0


@dataclass(frozen=True, slots=True)
class ApiConfig:
    """Everything ``tracecode api`` needs; see ``tracecode.settings`` for the defaults."""

    web_urls: tuple[str, ...]
    """Worker web views to ask for live state (any worker answers for any code)."""
    history: HistoryTarget | None
    """``None``: no history (the live state only)."""
    token: str | None = field(default=None, repr=False)
    """Bearer token of the support endpoints; ``None``: they answer 503 (not configured)."""
    host: str = "127.0.0.1"
    port: int = 8080
    marketplace: MarketplaceFormat = DEFAULT_MARKETPLACE_FORMAT
    rate_limit: str = "60/minute"
    """Requests one client may make to the public endpoints (``limits`` notation)."""
    max_body_bytes: int = 16_384
    cors_origins: tuple[str, ...] = ()
    """Origins whose pages may call the API from a browser; none by default."""

    def __post_init__(self) -> None:
        try:
            parse(self.rate_limit)
        except ValueError:
            raise ValueError(
                f"rate limit {self.rate_limit!r} is not a rate such as 60/minute or 5/second"
            ) from None
        if self.max_body_bytes < 1:
            raise ValueError("the request body limit must be at least 1 byte")
        if self.token is not None and len(self.token) < 16:
            raise ValueError("the API token must be at least 16 characters long")
        if not 0 < self.port < 65536:
            raise ValueError(f"port {self.port} is not a TCP port")
