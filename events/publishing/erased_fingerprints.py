"""Keyed one-way fingerprints of an erased complainant's data: what the redaction guard still refuses.

Erasing a complaint's key (crypto-shredding) leaves nothing to open, so the guard would no longer know the
person's name or address, and a notice could thank them by name the day after they asked to be forgotten.
Before the key goes, the key store keeps an HMAC-SHA256 digest of every lookup the guard would match their
name, address, phone and email by (`redaction.fingerprint`), never a value; the guard then hashes the text's
windows the same way and compares (`redaction.find_personal_data` with `KnownPersonalData`).

An entry is ``"<lookup>:<size>:<hex digest>"``: the lookup the guard makes (``c`` a value read without spaces,
followed by where its windows may start, ``g`` one of those that is also an everyday Chinese word, ``w`` Latin
words in order, ``a`` in any order, ``p`` a phone's digits, ``j`` Latin words run together) and the size of the
windows to hash (characters, or words). Sizes and starts say how long a name is and whether it is written in Han characters, no more. A
digest tells whether a guess is right to whoever holds the secret too, as the contact hash does.
"""

from __future__ import annotations

import hmac
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field


def digest(secret: bytes, lookup: str, value: str) -> bytes:
    # The lookup is part of the message: one value read as a phone and as words never yields one digest. Every
    # value read without spaces ("c…", and "g", looked up with the window it guards) is one lookup.
    namespace = "c" if lookup[0] in "cg" else lookup
    return hmac.digest(secret, f"{namespace}\x00{value}".encode(), "sha256")


def entry(secret: bytes, lookup: str, size: int, value: str) -> str:
    return f"{lookup}:{size}:{digest(secret, lookup, value).hex()}"


@dataclass(frozen=True)
class Digests:
    """Digests that answer ``value in digests`` by hashing the value, as the clear index's sets answer it."""

    secret: bytes = field(repr=False)
    lookup: str
    digests: frozenset[bytes]

    def __contains__(self, value: object) -> bool:
        text = " ".join(value) if isinstance(value, tuple) else str(value)
        return digest(self.secret, self.lookup, text) in self.digests


@dataclass(frozen=True)
class Lookups:
    """The guard's lookups (`redaction._KnownIndex`), as digests: windows of each size, and any-size sets."""

    compact: dict[tuple[str, int], Digests]  # by where a window may start (redaction._starts_of) and length
    guarded: Digests
    in_order: dict[int, Digests]  # by length in words
    any_order: dict[int, Digests]
    phones: Digests
    joined: dict[int, Digests]  # by length in characters; none in entries made before they were kept


@dataclass(frozen=True)
class ErasedFingerprints:
    """The entries of every erased complainant a text is checked against, and the secret they were made with."""

    secret: bytes = field(repr=False)
    entries: frozenset[str]

    def lookups(self) -> Lookups:
        found: dict[str, dict[int, set[bytes]]] = defaultdict(lambda: defaultdict(set))
        for stored in self.entries:
            lookup, size, hexed = stored.split(":")
            found[lookup][int(size)].add(bytes.fromhex(hexed))

        def by_size(lookup: str) -> dict[int, Digests]:
            return {size: Digests(self.secret, lookup, frozenset(d)) for size, d in found[lookup].items()}

        def any_size(lookup: str) -> Digests:
            return Digests(self.secret, lookup, frozenset(d for ds in found[lookup].values() for d in ds))

        compact = {
            (lookup[1:], size): d
            for lookup in found
            if lookup[0] == "c"
            for size, d in by_size(lookup).items()
        }
        return Lookups(compact, any_size("g"), by_size("w"), by_size("a"), any_size("p"), by_size("j"))


class KnownPersonalData(list[str]):
    """What a text must not name: the clear values (a list, as every caller of the guard passes them) and the
    fingerprints of erased complainants (`erased`), which the guard reads when it is given this list."""

    def __init__(self, clear: Iterable[str] = (), erased: ErasedFingerprints | None = None) -> None:
        super().__init__(clear)
        self.erased = erased
