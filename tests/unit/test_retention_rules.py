"""The retention rules (domain/retention.py) on fixed timestamps: which versions each keeps."""

from __future__ import annotations

import datetime as dt

import pytest

from mediavault.domain.retention import (
    DAY_MS,
    Candidate,
    Policy,
    Rules,
    ThinRule,
    governing,
    parse_policy,
    period_of,
    to_remove,
)
from mediavault.errors import InvalidRequest

# Sunday 2026-03-15 12:00 UTC.
NOW = int(dt.datetime(2026, 3, 15, 12, tzinfo=dt.UTC).timestamp() * 1000)


def at(days_ago: float) -> int:
    return NOW - int(days_ago * DAY_MS)


def history(*ages_in_days: float, current: int | None = None, pinned: tuple[int, ...] = ()):
    """Versions numbered 1.. in the order given (oldest first); the last is current unless
    `current` names another number."""
    last = len(ages_in_days)
    return [
        Candidate(f"v{n}", n, at(age), n == (current or last), n in pinned)
        for n, age in enumerate(ages_in_days, start=1)
    ]


def removed(rules: Rules, versions: list[Candidate]) -> list[str]:
    return sorted((c.id for c, _ in to_remove(rules, versions, NOW)), key=lambda i: int(i[1:]))


def test_keep_last_counts_the_current_version() -> None:
    versions = history(50, 40, 30, 20, 10)
    assert removed(Rules(keep_last=3), versions) == ["v1", "v2"]
    assert removed(Rules(keep_last=1), versions) == ["v1", "v2", "v3", "v4"]


def test_keep_last_keeps_a_restored_old_current_version_and_the_newest_others() -> None:
    versions = history(50, 40, 30, 20, 10, current=1)
    # v1 is current (restored); keepLast 2 keeps it and the newest other, v5.
    assert removed(Rules(keep_last=2), versions) == ["v2", "v3", "v4"]


def test_keep_days_keeps_versions_created_within_the_last_n_days() -> None:
    versions = history(91, 90.5, 89.9, 3, 0)
    assert removed(Rules(keep_days=90), versions) == ["v1", "v2"]


def test_the_current_version_and_pinned_versions_are_never_removed() -> None:
    versions = history(400, 300, 200, current=1, pinned=(2,))
    assert removed(Rules(keep_days=1), versions) == ["v3"]


def test_a_version_is_kept_if_any_rule_keeps_it() -> None:
    versions = history(100, 60, 50, 5, 1)
    # keepDays 10 keeps v4, v5; keepLast 3 keeps v5 (current), v4, v3.
    assert removed(Rules(keep_last=3, keep_days=10), versions) == ["v1", "v2"]


def test_thin_by_day_keeps_the_newest_version_of_each_utc_day() -> None:
    # Two versions on 2026-03-05 (10 days ago, 09:00 and 11:00), one on 2026-03-04.
    d5 = int(dt.datetime(2026, 3, 5, 9, tzinfo=dt.UTC).timestamp() * 1000)
    d5_late = d5 + 2 * 3_600_000
    d4 = d5 - DAY_MS
    versions = [
        Candidate("v1", 1, d4, False, False),
        Candidate("v2", 2, d5, False, False),
        Candidate("v3", 3, d5_late, False, False),
        Candidate("v4", 4, at(1), True, False),
    ]
    rules = Rules(thin=(ThinRule(7, "day"),))
    found = to_remove(rules, versions, NOW)
    assert [(c.id, reason) for c, reason in found] == [
        ("v2", "a newer version of UTC day 2026-03-05 is kept")
    ]


def test_thin_by_week_keeps_the_newest_version_of_each_iso_week() -> None:
    monday = int(dt.datetime(2026, 2, 2, 8, tzinfo=dt.UTC).timestamp() * 1000)  # week 06
    week = [monday + n * DAY_MS for n in range(7)]  # Monday .. Sunday of ISO week 2026-W06
    next_monday = monday + 7 * DAY_MS  # week 07
    versions = [Candidate(f"v{n}", n, t, False, False) for n, t in enumerate(week, start=1)]
    versions += [Candidate("v8", 8, next_monday, False, False)]
    versions += [Candidate("v9", 9, at(0), True, False)]
    assert period_of(week[6], "week") == "ISO week 2026-W06"
    assert period_of(next_monday, "week") == "ISO week 2026-W07"
    assert removed(Rules(thin=(ThinRule(7, "week"),)), versions) == [f"v{n}" for n in range(1, 7)]


def test_thin_rules_act_on_bands_of_age() -> None:
    # Between 7 and 30 days: one per day; beyond 30 days: one per week.
    ages = [45.0, 44.9, 44.8, 20.0, 19.9, 10.0, 2.0, 1.9, 0.0]
    versions = history(*ages)
    rules = Rules(thin=(ThinRule(30, "week"), ThinRule(7, "day")))
    # 45, 44.9 and 44.8 days ago are 2026-01-29 (ISO week 05): only the newest, v3, stays.
    # 20.0 and 19.9 days ago are 2026-02-23 at 12:00 and 14:24, one UTC day: v5 stays.
    # Versions younger than 7 days are untouched by thinning.
    assert removed(rules, versions) == ["v1", "v2", "v4"]


def test_thin_rules_with_the_same_age_share_a_band() -> None:
    versions = history(20.0, 19.9, 0)
    day_and_week = Rules(thin=(ThinRule(7, "week"), ThinRule(7, "day")))
    assert removed(day_and_week, versions) == ["v1"]


def test_the_deepest_folders_policy_governs_a_file() -> None:
    outer = Policy("p1", "/a/", Rules(keep_last=5), 0, 0)
    inner = Policy("p2", "/a/b/", Rules(keep_last=2), 0, 0)
    root = Policy("p0", "/", Rules(keep_days=1), 0, 0)
    policies = [outer, inner, root]
    assert governing(policies, "/a/b/c/") is inner
    assert governing(policies, "/a/x/") is outer
    assert governing(policies, "/ab/") is root
    assert governing([outer], "/ab/") is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"folderPath": "/a/"}, "at least one of keepLast, keepDays, thin"),
        ({"keepLast": 3}, "missing folderPath"),
        ({"folderPath": 3, "keepLast": 3}, "missing folderPath"),
        ({"folderPath": "/a/", "keepLast": 0}, "keepLast must be an integer from 1 to 1000"),
        ({"folderPath": "/a/", "keepLast": True}, "keepLast must be an integer"),
        ({"folderPath": "/a/", "keepLast": 2.5}, "keepLast must be an integer"),
        ({"folderPath": "/a/", "keepDays": -1}, "keepDays must be an integer from 1 to 36500"),
        ({"folderPath": "/a/", "thin": []}, "thin must be an array of 1 to 10 rules"),
        ({"folderPath": "/a/", "thin": {"olderThanDays": 1}}, "thin must be an array"),
        ({"folderPath": "/a/", "thin": [{"olderThanDays": 7}]}, "with exactly these keys"),
        (
            {"folderPath": "/a/", "thin": [{"olderThanDays": 7, "keepOnePer": "month"}]},
            'keepOnePer must be "day" or "week"',
        ),
        (
            {"folderPath": "/a/", "thin": [{"olderThanDays": -7, "keepOnePer": "day"}]},
            "olderThanDays must be an integer from 0 to 36500",
        ),
        (
            {"folderPath": "/a/", "keepLast": 3, "keepForever": True},
            "unknown parameters: keepForever",
        ),
    ],
)
def test_invalid_policies_are_refused_with_a_clear_message(body: dict, message: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        parse_policy(body)
    assert message in refused.value.message


def test_a_policy_folder_is_normalized_like_an_upload_folder() -> None:
    folder, rules = parse_policy({"folderPath": "a\\b", "keepLast": 3, "keepDays": 7})
    assert folder == "/a/b/"
    assert rules == Rules(keep_last=3, keep_days=7)
    assert parse_policy({"folderPath": "", "keepDays": 1})[0] == "/"


def test_integral_json_numbers_are_integers() -> None:
    body = {
        "folderPath": "/a",
        "keepLast": 3.0,
        "thin": [{"olderThanDays": 7.0, "keepOnePer": "day"}],
    }
    assert parse_policy(body)[1] == Rules(keep_last=3, thin=(ThinRule(7, "day"),))
