"""Per-client token buckets: one flooding client gets 429 with Retry-After, others go on.

A client is its staff token when it has one, else its address (an IPv6 address's /64): the TCP peer, or, when the peer is one of
LEVEE_TRUSTED_PROXIES, the right-most X-Forwarded-For address that is not itself a trusted proxy. The header
is never read from any other peer, so a client cannot pick its own bucket by sending one. Behind a proxy
that is not listed, every citizen shares the proxy's bucket: list the proxies.

Each purpose has its own buckets, so a citizen re-checking a status never loses the right to file:
intake (JSON intake and Open311 without a key), status lookups, public lists, and Open311 api_keys (one bucket per key: a
key is issued to one integrator, whose bridge files for many citizens from one address; a key that floods is
taken out of LEVEE_OPEN311_API_KEYS). Staff tokens are not limited by default: a hotline desk or an Open311
bridge records thousands of calls through one token in a surge, tokens are minted by us and revocable, and
throttling them would drop real calls. The one exception is opening complainants' contact details, which
people do one call at a time: a bucket per token. `app[LIMITS]` overrides the defaults, and a deployment's
LEVEE_RATE_LIMITS overrides those. Addresses many people share (LEVEE_SHARED_ADDRESSES: a carrier's NAT, a
shelter's Wi-Fi) stay one client each, with LEVEE_SHARED_ADDRESS_FACTOR times the intake limit.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass

from aiohttp import web

from services.api import keys
from services.api.principal import PRINCIPAL, PUBLIC
from services.api.problems import Problem
from services.runtime.metrics import PERSONAL_DATA_REFUSED
from services.settings import Settings

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address
IPV6_PREFIX = 64  # an IPv6 client is its /64, the block one subscriber is given (RFC 6177)
MAX_HOPS = 20  # X-Forwarded-For entries read at most, right to left: a long forged chain costs nothing


@dataclass(frozen=True, slots=True)
class Bucket:
    rate: float  # tokens added per second
    burst: float  # bucket size: how many requests may come at once

    def times(self, factor: float) -> Bucket:
        return Bucket(self.rate * factor, self.burst * factor)


@dataclass(frozen=True, slots=True)
class RateLimits:
    public: Bucket = Bucket(rate=2.0, burst=60.0)  # intake, per client address
    # Status lookups, per client address: a tracking code is short, so slow down anyone guessing them.
    status: Bucket = Bucket(rate=1.0, burst=30.0)
    open311_key: Bucket = Bucket(rate=20.0, burst=600.0)  # per Open311 api_key: an integrator's whole flow
    # Open311 lists read without a token, per client address: each up to 1,000 requests (about 0.6 MB, 50 ms
    # of the API), where a reader that polls asks once a minute or so.
    listing: Bucket = Bucket(rate=1.0, burst=20.0)
    staff: Bucket | None = None  # per token, any purpose; None: not limited
    # Contact details opened, per staff token: a person on the phone opens one every minute or two, a desk of
    # several a few; a leaked token read in a loop opened every resolved caller's in the city (a security review).
    personal_data: Bucket = Bucket(rate=0.1, burst=60.0)
    enabled: bool = True
    remembered: int = 100_000  # clients tracked at most (least recently seen forgotten first)
    # Addresses many people share (a mobile carrier's NAT, an evacuation shelter's Wi-Fi): each of their clients
    # gets `shared_factor` times the intake limit, so the residents behind one can file as many, not one's worth.
    shared: tuple[Network, ...] = ()
    shared_factor: float = 20.0

    def with_settings(self, settings: Settings) -> RateLimits:
        """These limits with a deployment's LEVEE_RATE_LIMITS and LEVEE_SHARED_ADDRESSES applied."""
        changed: dict[str, object] = {
            _FIELDS[purpose]: Bucket(rate, burst) for purpose, rate, burst in settings.rate_limits
        }
        if settings.shared_addresses:
            changed["shared"] = tuple(
                ipaddress.ip_network(a, strict=False) for a in settings.shared_addresses
            )
            changed["shared_factor"] = settings.shared_address_factor
        return dataclasses.replace(self, **changed)  # type: ignore[arg-type]


# LEVEE_RATE_LIMITS' purposes (services.settings.RATE_LIMIT_PURPOSES) -> RateLimits' fields.
_FIELDS = {"intake": "public", "status": "status", "listing": "listing", "open311_key": "open311_key",
           "personal_data": "personal_data"}  # fmt: skip


class RateLimiter:
    def __init__(self, limits: RateLimits, trusted_proxies: Iterable[str] = ()) -> None:
        self.limits = limits
        self.trusted: tuple[Network, ...] = tuple(
            ipaddress.ip_network(p, strict=False) for p in trusted_proxies
        )
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()  # client -> (tokens, at)

    def take(self, request: web.Request) -> None:
        """Intake: spend one token of this request's client, or raise a 429 Problem saying when to retry."""
        self._take_as(request, "intake", self.limits.public, "complaints", shared=True)

    def take_status(self, request: web.Request) -> None:
        """A public status lookup: its own buckets, keyed like intake's."""
        self._take_as(request, "status", self.limits.status, "status lookups")

    def take_listing(self, request: web.Request) -> None:
        """A public list (Open311 `GET requests` by filters): its own buckets, keyed like intake's."""
        self._take_as(request, "listing", self.limits.listing, "request lists")

    def take_personal_data(self, request: web.Request) -> None:
        """Staff opening a complainant's contact details: one bucket per token, whatever else it is allowed; each
        refusal counted (`levee_personal_data_refused_total`, which alert LeveePersonalDataOpenedInBulk watches)."""
        token_id = request.get(PRINCIPAL, PUBLIC).token_id
        if not self.limits.enabled or token_id is None:
            return
        try:
            self._spend(
                f"personal:token:{token_id}", self.limits.personal_data, "openings of contact details"
            )
        except Problem:
            PERSONAL_DATA_REFUSED.inc()
            raise

    def take_open311_key(self, api_key: str) -> None:
        """An Open311 request carrying a valid api_key: one bucket per key, whatever the address."""
        if self.limits.enabled:
            self._spend("open311:" + api_key, self.limits.open311_key, "complaints")

    def client_address(self, request: web.Request) -> str:
        """The caller's address: the peer, or the client its trusted proxies name (see the module doc)."""
        peer = request.remote or "unknown"
        if not self._is_trusted(_parse(peer)):
            return peer
        lines = request.headers.getall("X-Forwarded-For", ())
        hops = [hop.strip() for line in lines for hop in line.split(",") if hop.strip()]
        client = peer
        for hop in reversed(hops[-MAX_HOPS:]):
            address = _parse(hop)
            if address is None:
                # Not an address (a trusted proxy wrote "unknown"?): what the last trusted hop reported.
                return hop[:64] or client
            client = str(address)
            if not self._is_trusted(address):
                return client
        return client  # every hop is a proxy of ours: the left-most one is as close to the client as it gets

    def _take_as(
        self, request: web.Request, purpose: str, bucket: Bucket, what: str, *, shared: bool = False
    ) -> None:
        """`shared`: a shared address's clients get the factor (filing only: a status lookup guesses codes and
        a public list costs 50 ms, which anyone at a shelter's Wi-Fi could do twenty times faster)."""
        if not self.limits.enabled:
            return
        principal = request.get(PRINCIPAL, PUBLIC)
        if principal.token_id is None:
            address = self.client_address(request)
            if shared and self.limits.shared and self._is_shared(_parse(address)):
                bucket = bucket.times(self.limits.shared_factor)
            self._spend(f"{purpose}:addr:{_client_key(address)}", bucket, what)
        elif self.limits.staff is not None:
            self._spend(f"{purpose}:token:{principal.token_id}", self.limits.staff, what)

    def _spend(self, client: str, bucket: Bucket, what: str) -> None:
        now = time.monotonic()
        tokens, at = self._buckets.pop(client, (bucket.burst, now))
        tokens = min(bucket.burst, tokens + (now - at) * bucket.rate)
        if tokens < 1.0:
            self._remember(client, tokens, now)
            wait = math.ceil((1.0 - tokens) / bucket.rate)
            raise Problem(
                429, "Too many requests",
                f"This client sent this server more than {bucket.burst:g} {what} at once or {bucket.rate:g} a second "
                f"over time; try again in {wait} s.",
                code="rate_limited", headers={"Retry-After": str(wait)},
            )  # fmt: skip
        self._remember(client, tokens - 1.0, now)

    def _is_trusted(self, address: Address | None) -> bool:
        return address is not None and any(address in network for network in self.trusted)

    def _is_shared(self, address: Address | None) -> bool:
        return address is not None and any(address in network for network in self.limits.shared)

    def _remember(self, client: str, tokens: float, now: float) -> None:
        self._buckets[client] = (tokens, now)
        while len(self._buckets) > self.limits.remembered:
            self._buckets.popitem(last=False)


def _client_key(address: str) -> str:
    """The bucket an address spends from: itself for IPv4, its /64 for IPv6. One IPv6 subscriber is given a
    whole /64 (2^64 addresses): keyed by address, a flood from one home went through untouched."""
    parsed = _parse(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((parsed, IPV6_PREFIX), strict=False))
    return address


def _parse(text: str) -> Address | None:
    """An address as peers and proxies write it: plain, "[v6]:port" or "v4:port"; IPv4-mapped IPv6 as IPv4."""
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


LIMITS = web.AppKey("rate_limits", RateLimits)
LIMITER = web.AppKey("rate_limiter", RateLimiter)


def install(app: web.Application) -> None:
    """Called at startup (resources.writers): the limiter made from `app[LIMITS]` (or the defaults) and the
    settings' trusted proxies."""
    settings = app[keys.SETTINGS]
    limits = app.get(LIMITS, RateLimits()).with_settings(settings)
    app[LIMITER] = RateLimiter(limits, settings.trusted_proxies)
