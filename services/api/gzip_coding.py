"""Whether a client takes gzip: the board's JSON and the pages' files are sent gzipped only to one that does."""

from __future__ import annotations


def takes_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding header (RFC 9110, 12.5.3) lets the answer be gzipped: "gzip" (or "x-gzip")
    or "*" with a weight above zero, where gzip is not itself weighted zero ("gzip;q=0" refuses it)."""
    weights: dict[str, float] = {}
    for part in accept_encoding.split(","):
        coding, *params = (p.strip() for p in part.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if coding:
            weights[coding.lower()] = weight
    for coding in ("gzip", "x-gzip"):
        if coding in weights:
            return weights[coding] > 0
    return weights.get("*", 0.0) > 0
