"""Retention policies: which versions of a file a policy keeps. Pure rules, no I/O.

A version is kept when ANY rule keeps it; the current version and pinned versions are always
kept. The rules, with `now` and a version's `created_at` (when that version was uploaded) in
epoch milliseconds:

- `keepLast: N` keeps the current version and the N-1 highest-numbered other versions.
- `keepDays: N` keeps every version created within the last N days (`created_at >= now - N
  days`).
- `thin: [{olderThanDays: D, keepOnePer: "day" | "week"}, ...]` thins bands of age: a rule
  acts on the versions older than its D days and not older than the next larger D of the list
  (the band of the largest D has no end), and keeps in its band the newest version (highest
  number) of each UTC calendar day, or of each ISO week (Monday to Sunday, UTC). Rules with
  the same D share a band (either keeping a version keeps it). Versions younger than the
  smallest D are kept by `thin`: thinning has not begun for them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from mediavault.domain.names import normalize_folder
from mediavault.errors import InvalidRequest

DAY_MS = 86_400_000
MAX_KEEP_LAST = 1000
MAX_DAYS = 36_500  # a century
MAX_THIN_RULES = 10
PERIODS = ("day", "week")
_RULE_KEYS = ("keepLast", "keepDays", "thin")


@dataclass(frozen=True)
class ThinRule:
    older_than_days: int
    keep_one_per: str  # "day" | "week"


@dataclass(frozen=True)
class Rules:
    keep_last: int | None = None
    keep_days: int | None = None
    thin: tuple[ThinRule, ...] | None = None


@dataclass(frozen=True)
class Policy:
    id: str
    folder_path: str  # "/a/b/"
    rules: Rules
    created_at: int
    updated_at: int


@dataclass(frozen=True)
class Candidate:
    """What the rules need to know of a version."""

    id: str
    number: int
    created_at: int
    is_current: bool
    pinned: bool


def parse_policy(body: dict[str, Any]) -> tuple[str, Rules]:
    """The folder and rules of a `POST /v1/retentionPolicies` body; 400 for anything else."""
    unknown = sorted(set(body) - {"folderPath", *_RULE_KEYS})
    if unknown:
        raise InvalidRequest(f"Your request contains unknown parameters: {', '.join(unknown)}.")
    folder = body.get("folderPath")
    if not isinstance(folder, str) or "\x00" in folder:
        raise InvalidRequest("Your request is missing folderPath parameter, or it is not a string.")
    if not any(key in body for key in _RULE_KEYS):
        raise InvalidRequest("A retention policy needs at least one of keepLast, keepDays, thin.")
    rules = Rules(
        keep_last=_count(body, "keepLast", 1, MAX_KEEP_LAST),
        keep_days=_count(body, "keepDays", 1, MAX_DAYS),
        thin=_thin(body["thin"]) if "thin" in body else None,
    )
    return normalize_folder(folder), rules


def _count(body: dict[str, Any], name: str, low: int, high: int) -> int | None:
    if name not in body:
        return None
    value = _integer(body[name])
    if value is None or not low <= value <= high:
        raise InvalidRequest(f"{name} must be an integer from {low} to {high}.")
    return value


def _integer(value: Any) -> int | None:
    """A JSON integer: `7`, or `7.0` (JSON does not tell them apart); `true` is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) else None


def _thin(value: Any) -> tuple[ThinRule, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_THIN_RULES:
        raise InvalidRequest(f"thin must be an array of 1 to {MAX_THIN_RULES} rules.")
    rules = []
    for item in value:
        if not isinstance(item, dict) or set(item) != {"olderThanDays", "keepOnePer"}:
            raise InvalidRequest(
                'Each thin rule must be an object {"olderThanDays": <days>, '
                '"keepOnePer": "day" | "week"} with exactly these keys.'
            )
        days = _integer(item["olderThanDays"])
        if days is None or not 0 <= days <= MAX_DAYS:
            raise InvalidRequest(f"thin: olderThanDays must be an integer from 0 to {MAX_DAYS}.")
        if item["keepOnePer"] not in PERIODS:
            raise InvalidRequest('thin: keepOnePer must be "day" or "week".')
        rules.append(ThinRule(days, item["keepOnePer"]))
    return tuple(sorted(rules, key=lambda r: r.older_than_days))


def rules_json(rules: Rules) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if rules.keep_last is not None:
        body["keepLast"] = rules.keep_last
    if rules.keep_days is not None:
        body["keepDays"] = rules.keep_days
    if rules.thin is not None:
        body["thin"] = [
            {"olderThanDays": r.older_than_days, "keepOnePer": r.keep_one_per} for r in rules.thin
        ]
    return body


def rules_from_json(keep_last: int | None, keep_days: int | None, thin: Any) -> Rules:
    return Rules(
        keep_last=keep_last,
        keep_days=keep_days,
        thin=None
        if thin is None
        else tuple(ThinRule(int(r["olderThanDays"]), str(r["keepOnePer"])) for r in thin),
    )


def governing(policies: list[Policy], folder_path: str) -> Policy | None:
    """The policy of the deepest folder that holds `folder_path` (itself included)."""
    holding = [p for p in policies if folder_path.startswith(p.folder_path)]
    return max(holding, key=lambda p: len(p.folder_path), default=None)


def to_remove(rules: Rules, versions: list[Candidate], now: int) -> list[tuple[Candidate, str]]:
    """The versions no rule keeps, newest number first, each with why no rule keeps it."""
    ordered = sorted(versions, key=lambda v: v.number, reverse=True)
    kept_last = _kept_by_keep_last(rules.keep_last, ordered)
    kept_thin, thin_reasons = _thinned(rules.thin, ordered, now)
    removed = []
    for version in ordered:
        if version.is_current or version.pinned:
            continue
        reasons = []
        if rules.keep_last is not None:
            if version.id in kept_last:
                continue
            reasons.append(f"not among the last {rules.keep_last} versions")
        if rules.keep_days is not None:
            if version.created_at >= now - rules.keep_days * DAY_MS:
                continue
            reasons.append(f"older than {rules.keep_days} days")
        if rules.thin is not None:
            if version.id in kept_thin:
                continue
            reasons.append(thin_reasons[version.id])
        removed.append((version, "; ".join(reasons)))
    return removed


def _kept_by_keep_last(keep_last: int | None, ordered: list[Candidate]) -> set[str]:
    if keep_last is None:
        return set()
    others = [v.id for v in ordered if not v.is_current]
    kept = set(others[: keep_last - 1])
    kept.update(v.id for v in ordered if v.is_current)
    return kept


def _thinned(
    rules: tuple[ThinRule, ...] | None, ordered: list[Candidate], now: int
) -> tuple[set[str], dict[str, str]]:
    """The ids `thin` keeps, and for the others which period's newer version is kept."""
    kept: set[str] = set()
    reasons: dict[str, str] = {}
    if not rules:
        return kept, reasons
    # Each distinct olderThanDays starts a band; rules with the same one share it.
    starts = sorted({r.older_than_days for r in rules})
    for version in ordered:
        if version.created_at >= now - starts[0] * DAY_MS:
            kept.add(version.id)  # younger than every band
    for rule in rules:
        index = starts.index(rule.older_than_days)
        newest_edge = now - rule.older_than_days * DAY_MS
        older_edge = now - starts[index + 1] * DAY_MS if index + 1 < len(starts) else None
        seen: set[str] = set()
        for version in ordered:  # newest number first: the first of each period is kept
            if version.created_at >= newest_edge:
                continue
            if older_edge is not None and version.created_at < older_edge:
                continue
            period = period_of(version.created_at, rule.keep_one_per)
            if period in seen:
                reasons.setdefault(version.id, f"a newer version of {period} is kept")
            else:
                seen.add(period)
                kept.add(version.id)
    return kept, reasons


def period_of(at_ms: int, per: str) -> str:
    """`UTC day 2026-03-01` or `ISO week 2026-W09`."""
    moment = dt.datetime.fromtimestamp(at_ms / 1000, tz=dt.UTC)
    if per == "day":
        return f"UTC day {moment.date().isoformat()}"
    year, week, _ = moment.isocalendar()
    return f"ISO week {year}-W{week:02d}"
