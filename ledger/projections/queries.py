"""What the CLI and the API read: the live generation of the read models, through the ``rm_*`` views."""
from __future__ import annotations

from datetime import date
from typing import Any

from ledger.projections.db import ReadModelDB, loads
from ledger.projections.providers import LINE_COLUMNS, LIST_KINDS

_JSON_COLUMNS = {"standing_json", "detail", "refs", "source_refs", "params", "evidence", "consequences"}


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, value in row.items():
        if key in _JSON_COLUMNS:
            value = loads(value)
        if key == "derived":
            value = bool(value)
        out[key] = value
    return out


def _counted(row: dict[str, Any]) -> dict[str, Any]:
    """A counter's row (decoded) as :meth:`ReadModels.counters` gives it."""
    return {k: row[k] for k in ("value", "refs", "source_refs", "detail")}


class ReadModels:
    """Queries over the read models (no event store access)."""

    def __init__(self, db: ReadModelDB) -> None:
        self.db = db

    def _rows(self, sql: str, params: list[Any] | tuple = ()) -> list[dict[str, Any]]:
        with self.db.transaction(write=False) as tx:
            return [_decode(r) for r in tx.dicts(sql, params)]

    def registry(self, jurisdiction: str | None = None) -> list[dict[str, Any]]:
        """Every provider (of a jurisdiction) with its standing and since when, without the full standing."""
        columns = (
            "provider_id, jurisdiction, name, kind, status, standing, status_since, standing_since,"
            " applied_on, admitted_on, version, last_position, last_recorded_at"
        )
        if jurisdiction is None:
            return self._rows(f"SELECT {columns} FROM rm_registry ORDER BY jurisdiction, provider_id")
        return self._rows(f"SELECT {columns} FROM rm_registry WHERE jurisdiction = ? ORDER BY provider_id", (jurisdiction,))

    def provider_standing(self, provider_id: str) -> dict[str, Any] | None:
        """The full :func:`ledger.standing.standing` dict, plus ``standing_since`` and the last position applied."""
        rows = self._rows(
            "SELECT standing_json, standing_since, last_position, last_recorded_at FROM rm_registry WHERE provider_id = ?",
            (provider_id,),
        )
        if not rows:
            return None
        row = rows[0]
        return {
            **row["standing_json"],
            "standing_since": row["standing_since"],
            "last_position": row["last_position"],
            "last_recorded_at": row["last_recorded_at"],
        }

    def lists(self, kind: str | None = None, jurisdiction: str | None = None) -> list[dict[str, Any]]:
        """Published lists: ``blacklist``, ``gray_list``, ``disqualified``, ``removed`` (rescinded entries are gone)."""
        if kind is not None and kind not in LIST_KINDS:
            raise ValueError(f"unknown list {kind!r}; lists are {', '.join(LIST_KINDS)}")
        where, params = [], []
        if kind is not None:
            where.append("list_kind = ?")
            params.append(kind)
        if jurisdiction is not None:
            where.append("jurisdiction = ?")
            params.append(jurisdiction)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        return self._rows(f"SELECT * FROM rm_lists{clause} ORDER BY list_kind, jurisdiction, effective_on, sanction_ref", params)

    def timeline(self, provider_id: str) -> list[dict[str, Any]]:
        return self._rows("SELECT * FROM rm_timeline WHERE provider_id = ? ORDER BY position", (provider_id,))

    def grades(self, provider_id: str) -> list[dict[str, Any]]:
        """Letter grades by year (Tianjin), stars by round (Xinxiang), qualified/unqualified by year (province)."""
        return self._rows("SELECT * FROM rm_grades WHERE provider_id = ? ORDER BY scheme, period, effective_on, ref", (provider_id,))

    def counters(self, provider_id: str) -> dict[str, dict[str, Any]]:
        """counter name -> {value, refs, source_refs, detail}; empty if the provider is unknown."""
        rows = self._rows("SELECT * FROM rm_counters WHERE provider_id = ? ORDER BY counter", (provider_id,))
        return {r["counter"]: _counted(r) for r in rows}

    def standings(self, jurisdiction: str) -> list[dict[str, Any]]:
        """Every provider of a jurisdiction as :meth:`provider_standing`, :meth:`grades` and
        :meth:`counters` give it (``standing``, ``standing_since``, ``grades``, ``counters``), by
        provider id: three queries for them all, not three per provider."""
        with self.db.transaction(write=False) as tx:
            found = tx.dicts("SELECT provider_id, standing_json, standing_since FROM rm_registry WHERE jurisdiction = ? ORDER BY provider_id", (jurisdiction,))
            grades = tx.dicts("SELECT * FROM rm_grades WHERE jurisdiction = ? ORDER BY provider_id, scheme, period, effective_on, ref", (jurisdiction,))
            counters = tx.dicts("SELECT * FROM rm_counters WHERE jurisdiction = ? ORDER BY provider_id, counter", (jurisdiction,))
        grades_of: dict[str, list[dict[str, Any]]] = {}
        for row in grades:
            grades_of.setdefault(row["provider_id"], []).append(_decode(row))
        counters_of: dict[str, dict[str, dict[str, Any]]] = {}
        for row in counters:
            r = _decode(row)
            counters_of.setdefault(r["provider_id"], {})[r["counter"]] = _counted(r)
        return [
            {"standing": loads(row["standing_json"]), "standing_since": row["standing_since"],
             "grades": grades_of.get(row["provider_id"], []), "counters": counters_of.get(row["provider_id"], {})}
            for row in found
        ]  # fmt: skip

    def profile_changes(self, provider_id: str) -> list[dict[str, Any]]:
        """Every profile change of a provider in log order (old and new values as JSON text)."""
        return self._rows("SELECT * FROM rm_profile_changes WHERE provider_id = ? ORDER BY position", (provider_id,))

    def registry_as_of(self, known_at: str | None, effective_at: str | None, jurisdiction: str | None = None) -> tuple[list[dict[str, Any]], list[str]]:
        """The registry as of a window (``known_at``: an instant as the read models write it, the
        events recorded by then; ``effective_at``: a date, the events that took effect by then), from
        rm_registry_history, for every provider whose events inside the window are its first n: the
        line after the nth, the last row within both bounds (both maxima grow with the position).
        Returns those lines (in registry order) and the ids of the providers that an event out of
        order (rm_registry_out_of_order) puts inside the window after one left out: their lines
        must be folded from their events (``history.registry_as_of`` does). A window holds event
        *w* after a left-out one exactly when *w* is inside it and an earlier event was recorded
        after ``known_at`` or takes effect after ``effective_at``; if *w* came in order, that
        earlier event would put *w* outside too."""
        inside, inside_params, left_out, left_out_params = [], [], [], []
        for bound, latest, at, before in (
            (known_at, "recorded_max", "recorded_at", "recorded_before"),
            (effective_at, "effective_max", "effective_on", "effective_before"),
        ):
            if bound is not None:
                inside.append((latest, at))
                inside_params.append(bound)
                left_out.append(f"{before} > ?")
                left_out_params.append(bound)
        last = (
            "SELECT provider_id, MAX(position) AS position FROM rm_registry_history"
            f"{_where([f'{latest} <= ?' for latest, _ in inside])} GROUP BY provider_id"
        )
        columns = ", ".join(f"h.{c}" for c in ("provider_id", *LINE_COLUMNS))
        sql = f"SELECT {columns} FROM rm_registry_history h JOIN ({last}) l ON l.provider_id = h.provider_id AND l.position = h.position"
        params: list[Any] = list(inside_params)
        if jurisdiction is not None:
            sql += " WHERE h.jurisdiction = ?"
            params.append(jurisdiction)
        with self.db.transaction(write=False) as tx:
            lines = tx.dicts(f"{sql} ORDER BY h.jurisdiction, h.provider_id", params)
            out_of_order: list[str] = []
            if left_out:
                clauses = [f"{at} <= ?" for _, at in inside] + [f"({' OR '.join(left_out)})"]
                params = [*inside_params, *left_out_params]
                if jurisdiction is not None:  # a provider's jurisdiction never changes
                    clauses.append("provider_id IN (SELECT provider_id FROM rm_registry WHERE jurisdiction = ?)")
                    params.append(jurisdiction)
                out_of_order = [
                    r[0] for r in tx.fetchall(f"SELECT DISTINCT provider_id FROM rm_registry_out_of_order{_where(clauses)} ORDER BY provider_id", params)
                ]  # fmt: skip
        folded = set(out_of_order)
        return [line for line in lines if line["provider_id"] not in folded], out_of_order

    def incomplete(self) -> list[str]:
        """Read models added to this ledger after events were applied, empty until a replay."""
        from ledger.projections.schema import incomplete

        with self.db.transaction(write=False) as tx:
            return incomplete(tx)

    def deadlines_due(self, as_of: date) -> dict[str, list[str]]:
        """What :func:`ledger.deadlines.due` finds, from the read models instead of every aggregate:
        provider id -> complaints against it whose answer deadline passed before ``as_of``, for every
        provider with such a complaint or with a rectification deadline passed and not yet recorded."""
        day = as_of.isoformat()
        found: dict[str, list[str]] = {}
        with self.db.transaction(write=False) as tx:
            for provider_id, complaint_id in tx.fetchall(
                "SELECT provider_id, complaint_id FROM rm_answer_deadlines WHERE deadline < ? ORDER BY provider_id, complaint_id", (day,)
            ):
                found.setdefault(provider_id, []).append(complaint_id)
            for (provider_id,) in tx.fetchall("SELECT DISTINCT provider_id FROM rm_rectification_deadlines WHERE deadline < ?", (day,)):
                found.setdefault(provider_id, [])
        return found

    def dump(self) -> dict[str, list[dict[str, Any]]]:
        """Every row of every public read model, in a stable order (for comparisons and exports)."""
        order = {
            "rm_registry": "provider_id",
            "rm_grades": "provider_id, ref",
            "rm_counters": "provider_id, counter",
            "rm_lists": "sanction_ref",
            "rm_timeline": "provider_id, position",
            "rm_profile_changes": "provider_id, position",
            "rm_registry_history": "provider_id, position",
            "rm_registry_out_of_order": "provider_id, position",
            "rm_rectification_deadlines": "provider_id, sanction_ref",
            "rm_answer_deadlines": "complaint_id",
        }
        with self.db.transaction(write=False) as tx:
            return {view: tx.dicts(f"SELECT * FROM {view} ORDER BY {key}") for view, key in order.items()}


def _where(clauses: list[str]) -> str:
    return f" WHERE {' AND '.join(clauses)}" if clauses else ""


class PageQuery:
    """Filters and keyset paging shared by the paged queries below."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)


def registry_page(
    models: ReadModels,
    *,
    jurisdiction: str | None,
    standing: str | None,
    kind: str | None,
    grade: str | None,
    after: tuple[str, str] | None,
    offset: int,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    """Registry rows ordered by (jurisdiction, provider_id), after a key; and how many match in all."""
    q = PageQuery()
    if jurisdiction is not None:
        q.add("r.jurisdiction = ?", jurisdiction)
    if standing is not None:
        q.add("r.standing = ?", standing)
    if kind is not None:
        q.add("r.kind = ?", kind)
    if grade is not None:  # the provider's latest grade of any scheme
        q.add(
            "EXISTS (SELECT 1 FROM rm_grades g WHERE g.provider_id = r.provider_id AND g.grade = ? AND g.period ="
            " (SELECT MAX(g2.period) FROM rm_grades g2 WHERE g2.provider_id = g.provider_id AND g2.scheme = g.scheme))",
            grade,
        )
    with models.db.transaction(write=False) as tx:
        row = tx.fetchone(f"SELECT COUNT(*) FROM rm_registry r{_where(q.clauses)}", q.params)
        total = int(row[0]) if row else 0
        if after is not None:
            q.add("(r.jurisdiction > ? OR (r.jurisdiction = ? AND r.provider_id > ?))", after[0], after[0], after[1])
        rows = tx.dicts(
            "SELECT r.provider_id, r.jurisdiction, r.name, r.kind, r.status, r.standing, r.status_since, r.standing_since,"
            f" r.applied_on, r.admitted_on FROM rm_registry r{_where(q.clauses)}"
            " ORDER BY r.jurisdiction, r.provider_id LIMIT ? OFFSET ?",
            [*q.params, limit, offset],
        )
    return rows, total


def lists_page(
    models: ReadModels, *, kind: str | None, jurisdiction: str | None, after: str | None, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """List entries ordered by sanction ref (stable), after a ref; and how many match in all."""
    q = PageQuery()
    if kind is not None:
        q.add("list_kind = ?", kind)
    if jurisdiction is not None:
        q.add("jurisdiction = ?", jurisdiction)
    with models.db.transaction(write=False) as tx:
        row = tx.fetchone(f"SELECT COUNT(*) FROM rm_lists{_where(q.clauses)}", q.params)
        total = int(row[0]) if row else 0
        if after is not None:
            q.add("(list_kind, jurisdiction, effective_on, sanction_ref) > (SELECT list_kind, jurisdiction, effective_on, sanction_ref"
                  " FROM rm_lists WHERE sanction_ref = ?)", after)  # fmt: skip
        rows = tx.dicts(
            f"SELECT * FROM rm_lists{_where(q.clauses)} ORDER BY list_kind, jurisdiction, effective_on, sanction_ref LIMIT ? OFFSET ?",
            [*q.params, limit, offset],
        )
    return [_decode(r) for r in rows], total


def timeline_page(
    models: ReadModels,
    provider_id: str,
    *,
    effective_from: str | None,
    effective_to: str | None,
    recorded_from: str | None,
    recorded_to: str | None,
    event_types: list[str] | None,
    actor: str | None,
    after: int | None,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    """A provider's timeline rows in log order, after a position; and how many match in all.

    The bounds are inclusive ISO strings: dates on the effective axis, UTC instants
    (``datetime.isoformat()`` of an aware UTC time, as the rows hold ``recorded_at``, so that
    they compare as text) on the recorded axis."""
    q = PageQuery()
    q.add("provider_id = ?", provider_id)
    if effective_from is not None:
        q.add("effective_on >= ?", effective_from)
    if effective_to is not None:
        q.add("effective_on <= ?", effective_to)
    if recorded_from is not None:
        q.add("recorded_at >= ?", recorded_from)
    if recorded_to is not None:
        q.add("recorded_at <= ?", recorded_to)
    if event_types is not None:
        q.add(f"event_name IN ({', '.join('?' * len(event_types))})", *event_types)
    if actor is not None:
        q.add("recorded_by = ?", actor)
    with models.db.transaction(write=False) as tx:
        row = tx.fetchone(f"SELECT COUNT(*) FROM rm_timeline{_where(q.clauses)}", q.params)
        total = int(row[0]) if row else 0
        if after is not None:
            q.add("position > ?", after)
        rows = tx.dicts(f"SELECT * FROM rm_timeline{_where(q.clauses)} ORDER BY position LIMIT ?", [*q.params, limit])
    return rows, total
