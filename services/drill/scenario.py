"""A drill scenario as data, and the seeded generator that turns it into a timed stream of actions.

Pure: the same scenario, seed, rate and duration always give the same actions, so a drill can be replayed.
"""

from __future__ import annotations

import math
import random
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCENARIOS = Path(__file__).parent
CHANNELS = ("hotline", "hotline", "hotline", "web", "app", "app", "social_media", "walk_in")
VULNERABLE = ("elderly", "disabled", "infant", "pregnant", "patient")


@dataclass(frozen=True)
class Incident:
    key: str
    category: str | None
    district: str
    lat: float
    lon: float
    spread_km: float
    share: float
    texts: tuple[str, ...]
    categories: tuple[str, ...] = ()


@dataclass(frozen=True)
class Framing:
    """Words around a report that do not change what it says (a greeting, a block number, a thank-you)."""

    zh_before: tuple[str, ...] = ("",)
    zh_after: tuple[str, ...] = ("",)
    en_before: tuple[str, ...] = ("",)
    en_after: tuple[str, ...] = ("",)

    def frame(self, rng: random.Random, text: str) -> str:
        chinese = any("\u4e00" <= ch <= "\u9fff" for ch in text)
        before, after = (self.zh_before, self.zh_after) if chinese else (self.en_before, self.en_after)
        n, m = rng.randint(1, 60), rng.randint(1, 30)
        # Only the framing is a template: the report's own text may hold braces.
        return rng.choice(before).format(n=n, m=m) + text + rng.choice(after).format(n=n, m=m)


@dataclass(frozen=True)
class Scenario:
    name: str
    title_en: str
    title_zh: str
    incidents: tuple[Incident, ...]
    framing: Framing = Framing()


@dataclass(frozen=True)
class Submission:
    """One complaint to POST at `at` seconds after the drill starts."""

    at: float
    body: dict[str, Any]
    incident: str
    repeat_of: int | None = None  # index of an earlier submission by the same caller
    index: int = 0
    idempotency_key: str = field(default="")


def load_scenario(name: str) -> Scenario:
    path = SCENARIOS / f"{name}.toml"
    if not path.exists():
        known = sorted(p.stem for p in SCENARIOS.glob("*.toml"))
        raise ValueError(f"unknown scenario {name!r}; known: {', '.join(known)}")
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    incidents = [
        Incident(
            key=i["key"], category=i["category"], district=i["district"], lat=i["lat"], lon=i["lon"],
            spread_km=i["spread_km"], share=i["share"], texts=tuple(i["texts_zh"] + i["texts_en"]),
        )
        for i in raw["incidents"]
    ]  # fmt: skip
    background = raw["background"]
    incidents.append(
        Incident(
            key="background", category=None, district="", lat=22.65, lon=114.05, spread_km=25.0,
            share=background["share"], texts=tuple(background["texts_zh"] + background["texts_en"]),
            categories=tuple(background["categories"]),
        )
    )  # fmt: skip
    framing = _framing(raw.get("framing", {}), path)
    return Scenario(raw["name"], raw["title_en"], raw["title_zh"], tuple(incidents), framing)


def _framing(raw: dict[str, Any], path: Path) -> Framing:
    parts = set(Framing.__dataclass_fields__)
    if unknown := sorted(set(raw) - parts):
        raise ValueError(
            f"{path.name} [framing]: unknown {', '.join(unknown)}; known: {', '.join(sorted(parts))}"
        )
    if empty := sorted(part for part, words in raw.items() if not words):
        raise ValueError(f'{path.name} [framing]: {", ".join(empty)} is empty ("" frames nothing)')
    return Framing(**{part: tuple(words) for part, words in raw.items()})


def submissions(scenario: Scenario, *, seed: int, rate: float, duration: float) -> Iterator[Submission]:
    """Complaints arriving as a Poisson process at `rate` per second for `duration` seconds."""
    rng = random.Random(seed)
    weights = [i.share for i in scenario.incidents]
    callers: list[tuple[int, dict[str, Any]]] = []
    at = 0.0
    index = 0
    while True:
        at += rng.expovariate(rate)
        if at >= duration:
            return
        if callers and rng.random() < 0.06:  # a caller rings again about the same thing
            first, body = rng.choice(callers)
            yield Submission(at, {**body, "channel": "hotline"}, "repeat", repeat_of=first, index=index,
                             idempotency_key=f"drill-{seed}-{index}")  # fmt: skip
            index += 1
            continue
        incident = rng.choices(scenario.incidents, weights)[0]
        body = _complaint(rng, incident, index)
        body["description"] = scenario.framing.frame(rng, body["description"])
        if body.get("reporter"):
            callers.append((index, body))
        yield Submission(at, body, incident.key, index=index, idempotency_key=f"drill-{seed}-{index}")
        index += 1


def _complaint(rng: random.Random, incident: Incident, index: int) -> dict[str, Any]:
    lat, lon = _scatter(rng, incident.lat, incident.lon, incident.spread_km)
    text_index = rng.randrange(len(incident.texts))
    body: dict[str, Any] = {
        "channel": rng.choice(CHANNELS),
        "description": incident.texts[text_index],
        "location": {"lat": round(lat, 5), "lon": round(lon, 5)},
        "people_affected": rng.choice((1, 1, 1, 2, 3, 4, 6, 10, 25, 120)),
    }
    if incident.district:
        body["location"]["district"] = incident.district
    category = incident.category or (
        incident.categories[text_index % len(incident.texts) % len(incident.categories)]
        if incident.categories
        else None
    )
    if category and rng.random() < 0.6:  # many callers do not say; triage classifies
        body["category"] = category
    if rng.random() < 0.3:
        body["vulnerable"] = sorted(set(rng.sample(VULNERABLE, rng.choice((1, 1, 2)))))
    if body["channel"] == "social_media" and rng.random() < 0.5:
        body["media_exposure"] = True  # kept only when an operator records it (the public may not)
    if rng.random() < 0.7:
        body["reporter"] = {"name": f"Drill Caller {index}", "phone": f"139{rng.randrange(10**8):08d}"}
    return body


def _scatter(rng: random.Random, lat: float, lon: float, spread_km: float) -> tuple[float, float]:
    """A point near (lat, lon), clamped inside the served area's rough box."""
    distance = abs(rng.gauss(0, spread_km / 2)) / 111.0
    angle = rng.uniform(0, 2 * math.pi)
    return (
        min(22.899, max(22.401, lat + distance * math.sin(angle))),
        min(114.399, max(113.701, lon + distance * math.cos(angle) / math.cos(math.radians(lat)))),
    )
