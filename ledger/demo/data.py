"""What the generator draws from: the five pools (``data/jurisdictions.json``) and word lists
(``data/words.json``) for invented names, addresses, problems and complaints. Data, not code:
edit the JSON to change what the demo says."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

_DATA = Path(__file__).with_name("data")


@dataclass(frozen=True)
class _Jurisdiction:
    code: str
    city: str  # "" for the unnamed province
    share: float  # of the providers
    kinds: tuple[tuple[str, float, bool | None], ...]  # kind, weight, leads projects (None: by draw)
    districts: tuple[str, ...]
    industries: tuple[str, ...]
    projects_per_provider: float
    bureau: str
    #: 行政区划代码 of the registering authority (the province's guide names no province)
    division: str


def _load(name: str) -> Any:
    return json.loads((_DATA / f"{name}.json").read_text(encoding="utf-8"))


_jurisdictions = _load("jurisdictions")
CONFIG: dict[str, _Jurisdiction] = {
    j: _Jurisdiction(
        c["code"], c["city"], c["share"], tuple((k["kind"], k["weight"], k["leads"]) for k in c["kinds"]),
        tuple(c["districts"]), tuple(c["industries"]), c["projects_per_provider"], c["bureau"], c["division"],
    )
    for j, c in _jurisdictions.items()
}  # fmt: skip
#: the dates a regulator declares where a rulebook leaves them blank: (valid_from, valid_until, reference)
VALIDITY: dict[str, tuple[date, date | None, str]] = {
    j: (date.fromisoformat(v["valid_from"]), date.fromisoformat(v["valid_until"]) if v["valid_until"] else None, v["reference"])
    for j, c in _jurisdictions.items()
    if (v := c.get("validity"))
}

_words = _load("words")
OTHER_CITIES: tuple[str, ...] = tuple(_words["other_cities"])
BRANDS: tuple[str, ...] = tuple(_words["brands"])
ENTERPRISE_BRANDS: tuple[str, ...] = tuple(_words["enterprise_brands"])
TECH: dict[str, tuple[str, ...]] = {kind: tuple(words) for kind, words in _words["tech"].items()}
SCOPES: tuple[str, ...] = tuple(_words["scopes"])
SURNAMES: str = _words["surnames"]
GIVEN: tuple[str, ...] = tuple(_words["given"])
#: 中小企业数字化水平评测指标（2024年版）: levels 一级 .. 四级 (0: not yet level 1)
LEVELS: tuple[str, ...] = tuple(_words["levels"])
ROADS: tuple[str, ...] = tuple(_words["roads"])
CAPITALS: tuple[int, ...] = tuple(_words["capitals"])
PROBLEMS: tuple[str, ...] = tuple(_words["problems"])
SCENARIOS: tuple[str, ...] = tuple(_words["scenarios"])
SYSTEMS: tuple[str, ...] = tuple(_words["systems"])
COMPLAINT_SUBJECTS: tuple[str, ...] = tuple(_words["complaint_subjects"])
EVIDENCE: tuple[str, ...] = tuple(_words["evidence"])
OBJECTIONS: tuple[tuple[str, bool], ...] = tuple((text, bool(stands)) for text, stands in _words["objections"])
