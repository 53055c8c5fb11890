"""Per-client token buckets for intake: one flooding client gets 429 with Retry-After, others go on.

A client is its staff token when it has one, else its remote address (aiohttp's `request.remote`: behind
a reverse proxy, configure the proxy so that this is the caller's address, not the proxy's). Staff tokens
are not limited by default: a hotline desk or an Open311 bridge records thousands of calls through one
token in a surge, tokens are minted by us and revocable, and throttling them would drop real calls.
`app[LIMITS]` overrides the defaults (e.g. a staff bucket for a bridge that misbehaves).
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from aiohttp import web

from services.api.principal import PRINCIPAL, PUBLIC
from services.api.problems import Problem


@dataclass(frozen=True, slots=True)
class Bucket:
    rate: float  # tokens added per second
    burst: float  # bucket size: how many requests may come at once


@dataclass(frozen=True, slots=True)
class RateLimits:
    public: Bucket = Bucket(rate=2.0, burst=60.0)  # per remote address
    staff: Bucket | None = None  # per token; None: not limited
    enabled: bool = True
    remembered: int = 100_000  # clients tracked at most (least recently seen forgotten first)


class RateLimiter:
    def __init__(self, limits: RateLimits) -> None:
        self.limits = limits
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)

    def take(self, request: web.Request) -> None:
        """Spend one token of this request's client, or raise a 429 Problem saying when to come back."""
        if not self.limits.enabled:
            return
        principal = request.get(PRINCIPAL, PUBLIC)
        if principal.token_id is not None:
            if self.limits.staff is None:
                return
            client, bucket = "token:" + principal.token_id, self.limits.staff
        else:
            client, bucket = "addr:" + (request.remote or "unknown"), self.limits.public
        now = time.monotonic()
        tokens, at = self._buckets.pop(client, (bucket.burst, now))
        tokens = min(bucket.burst, tokens + (now - at) * bucket.rate)
        if tokens < 1.0:
            self._remember(client, tokens, now)
            wait = math.ceil((1.0 - tokens) / bucket.rate)
            raise Problem(
                429, "Too many requests",
                f"This client sent more than {bucket.burst:g} complaints at once or {bucket.rate:g} a second "
                f"over time; try again in {wait} s.",
                code="rate_limited", headers={"Retry-After": str(wait)},
            )  # fmt: skip
        self._remember(client, tokens - 1.0, now)

    def _remember(self, client: str, tokens: float, now: float) -> None:
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self.limits.remembered:
            self._buckets.popitem(last=False)


LIMITS = web.AppKey("rate_limits", RateLimits)
LIMITER = web.AppKey("rate_limiter", RateLimiter)


def install(app: web.Application) -> None:
    """Called at startup (resources.writers): the limiter made from `app[LIMITS]`, or the defaults."""
    app[LIMITER] = RateLimiter(app.get(LIMITS, RateLimits()))
