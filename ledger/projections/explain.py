"""Explain a sanction: its article, parameters, evidence and the chain of causation.

``explain(ledger, ref)`` walks from a sanction (or a removal) down to the
original facts:

- a ``SanctionImposed`` cites evidence refs: facts of the provider, or other
  sanctions (e.g. the warnings a disqualification counted) — recursed into;
- a ``FactNoted`` points with ``source_ref`` at the project or complaint event
  it came from (a 不满意 rating, a complaint verified as true), which is shown
  with the complaint's filing behind it; a fact about a sanction (overdue,
  refused) points at that sanction — recursed into;
- a regulator's finding lists the events it relied on.

Each node says whether it was voided by an upheld appeal (and which: id,
ground, decision) or rescinded (when, why, by which appeal). Reads the event
store only; writes nothing.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any
from uuid import UUID

from ledger import wire
from ledger.aggregates.provider import Provider
from ledger.application import fold
from ledger.projections.timeline import summarize
from ledger.rules.base import STATUS_AFTER_REMOVAL
from ledger.store.base import EventStore, RecordedEvent, event_ref
from ledger.wire import decode_state


class ExplainError(LookupError):
    """The ref names nothing that can be explained."""


@dataclass
class Node:
    ref: str
    kind: str  # sanction / fact / event / missing
    title: str
    event_name: str | None = None
    effective_on: str | None = None
    recorded_at: str | None = None
    recorded_by: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    voided: dict[str, Any] | None = None  # {"appeal_ref", "appeal_id", "ground", "decided_on", "reasons"}
    rescinded: dict[str, Any] | None = None  # {"ref", "on", "reason", "appeal_ref", "appeal_id"}
    children: list[Node] = field(default_factory=list)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass
class Explanation:
    provider_id: str
    jurisdiction: str
    root: Node

    @property
    def tainted(self) -> list[Node]:
        """Nodes of the chain voided or rescinded."""
        return [n for n in self.root.walk() if n.voided or n.rescinded]

    def to_dict(self) -> dict[str, Any]:
        return {"provider_id": self.provider_id, "jurisdiction": self.jurisdiction, "root": asdict(self.root)}

    def render(self) -> str:
        lines = [f"provider {self.provider_id} ({self.jurisdiction})"]
        _render(self.root, lines, "", "")
        return "\n".join(lines)


def _render(node: Node, lines: list[str], first: str, rest: str) -> None:
    when = []
    if node.effective_on:
        when.append(f"effective {node.effective_on}")
    if node.recorded_at:
        when.append(f"recorded {node.recorded_at} by {node.recorded_by}")
    lines.append(f"{first}{node.kind.upper()} {node.ref}  {node.title}" + (f"  [{'; '.join(when)}]" if when else ""))
    d = node.details
    if node.kind == "sanction":
        lines.append(f"{rest}    「{d.get('text', '')}」 ({d.get('document', '')}, pack {d.get('pack_version')})")
        if d.get("params"):
            lines.append(f"{rest}    parameters: " + ", ".join(f"{k}={v}" for k, v in d["params"].items()))
        lines.append(f"{rest}    {'derived by the ledger' if d.get('derived') else 'on a regulator finding'}; state {d.get('state')}")
    elif node.kind == "fact" and d.get("data"):
        lines.append(f"{rest}    " + ", ".join(f"{k}={v}" for k, v in d["data"].items()))
    if node.voided:
        v = node.voided
        lines.append(f"{rest}    !! VOIDED by appeal {v.get('appeal_id') or v['appeal_ref']} ({v.get('ground', '')}) on {v.get('decided_on')}")
    if node.rescinded:
        r = node.rescinded
        by = f" by appeal {r.get('appeal_id') or r.get('appeal_ref')}" if r.get("appeal_ref") else ""
        lines.append(f"{rest}    !! RESCINDED on {r['on']}{by}: {r.get('reason')}")
    for i, child in enumerate(node.children):
        last = i == len(node.children) - 1
        _render(child, lines, rest + ("└─ " if last else "├─ "), rest + ("   " if last else "│  "))


class _Chain:
    def __init__(self, store: EventStore, provider_events: list[RecordedEvent]) -> None:
        self.store = store
        self.events = {e.ref: e for e in provider_events}
        self.provider: Provider = fold(wire.decode(e) for e in provider_events)
        self.rescissions: dict[str, RecordedEvent] = {}
        for e in provider_events:
            if wire.event_type(e) == "provider.sanction-rescinded.v1":
                self.rescissions[decode_state(e)["sanction_ref"]] = e
        self._appeals: dict[str, dict[str, Any]] = {}
        self._seen: set[str] = set()

    def event(self, ref: str) -> RecordedEvent | None:
        if ref not in self.events:
            self.events.update(self.store.read_refs([ref]))
        return self.events.get(ref)

    def appeal(self, decided_ref: str | None) -> dict[str, Any]:
        """The appeal behind an ``Appeal.Decided`` ref: id, ground, decision."""
        if not decided_ref:
            return {}
        if decided_ref not in self._appeals:
            originator = decided_ref.rsplit("/", 1)[0]
            found = self.store.read_refs([decided_ref, event_ref(originator, 1)])
            info: dict[str, Any] = {"appeal_ref": decided_ref}
            filed = found.get(event_ref(originator, 1))
            if filed is not None:
                state = decode_state(filed)
                info.update(appeal_id=state.get("appeal_id"), ground=state.get("ground"), matter=state.get("matter"))
            decided = found.get(decided_ref)
            if decided is not None:
                state = decode_state(decided)
                info.update(decided_on=decided.effective_on.isoformat() if decided.effective_on else None, reasons=state.get("reasons"), upheld=state.get("upheld"))
            self._appeals[decided_ref] = info
        return self._appeals[decided_ref]

    def _stamp(self, node: Node, event: RecordedEvent | None) -> Node:
        if event is not None:
            node.event_name = wire.event_type(event)
            node.effective_on = event.effective_on.isoformat() if event.effective_on else None
            node.recorded_at = event.recorded_at.isoformat()
            node.recorded_by = event.recorded_by
        voided_by = self.provider.voided.get(node.ref)
        if voided_by:
            node.voided = self.appeal(voided_by)
        return node

    def node(self, ref: str) -> Node:
        if ref in self._seen:
            return Node(ref, "event", "(already shown above)")
        self._seen.add(ref)
        if ref in self.provider.sanctions:
            return self.sanction(ref)
        if ref in self.provider.facts:
            return self.fact(ref)
        return self.plain(ref)

    def sanction(self, ref: str) -> Node:
        s = self.provider.sanctions[ref]
        citation = s["citation"]
        state = "rescinded" if s["rescinded_on"] else ("completed" if s["completed_on"] else "in force")
        node = Node(
            ref,
            "sanction",
            f"{s['sanction']} — {citation['short']} {citation['article']}",
            details={
                "sanction": s["sanction"],
                "article": f"{citation['short']} {citation['article']}",
                "text": citation.get("text", ""),
                "document": citation.get("document", ""),
                "pack_version": s["pack_version"],
                "rule_id": s["rule_id"],
                "params": s["params"],
                "derived": s["derived"],
                "evidence": list(s["evidence"]),
                "condition_on": s["condition_on"].isoformat(),
                "deadline": s["deadline"].isoformat() if s["deadline"] else None,
                "consequences": list(s["consequences"]),
                "removes": s["sanction"] in STATUS_AFTER_REMOVAL,
                "state": state,
            },
        )
        self._stamp(node, self.event(ref))
        rescission = self.rescissions.get(ref)
        if rescission is not None:
            r = decode_state(rescission)
            appeal = self.appeal(r.get("appeal_ref"))
            node.rescinded = {
                "ref": rescission.ref,
                "on": rescission.effective_on.isoformat() if rescission.effective_on else None,
                "reason": r.get("reason"),
                "appeal_ref": r.get("appeal_ref"),
                "appeal_id": appeal.get("appeal_id"),
            }
        node.children = [self.node(e) for e in s["evidence"]]
        return node

    def fact(self, ref: str) -> Node:
        f = self.provider.facts[ref]
        data = dict(f.get("data", {}))
        node = Node(
            ref,
            "fact",
            f["kind"] + (f" (enterprise {f['enterprise_id']})" if f.get("enterprise_id") else ""),
            details={"kind": f["kind"], "enterprise_id": f.get("enterprise_id"), "source_ref": f.get("source_ref"), "data": data},
        )
        self._stamp(node, self.event(ref))
        if f.get("source_ref"):
            node.children.append(self.node(f["source_ref"]))
        for evidence in data.get("evidence", []) if isinstance(data.get("evidence"), list) else []:
            node.children.append(self.node(evidence))
        return node

    def plain(self, ref: str) -> Node:
        event = self.event(ref)
        if event is None:
            return Node(ref, "missing", "not in the ledger")
        name = wire.event_type(event)
        state = decode_state(event)
        node = self._stamp(Node(ref, "event", f"{name}: {summarize(name, state)}"), event)
        if name.startswith("complaint.") and event.originator_version > 1:
            node.children.append(self.node(event_ref(event.originator_id, 1)))  # the complaint as filed
        return node


def _store(source: Any) -> EventStore:
    return source if isinstance(source, EventStore) else source.store


def explain(source: Any, ref: str) -> Explanation:
    """The causation tree of a sanction ref (a ``SanctionRescinded`` or ``Reinstated`` ref explains what it undid)."""
    store = _store(source)
    try:
        originator = UUID(ref.rsplit("/", 1)[0])
    except ValueError:
        raise ExplainError(f"{ref!r} is not an event reference (uuid/version)") from None
    events = store.read_aggregate(originator)
    if not events or not wire.is_event_of(events[0], "provider"):
        raise ExplainError(f"{ref} is not an event of a provider")
    chain = _Chain(store, events)
    target = chain.events.get(ref)
    if target is None:
        raise ExplainError(f"no event {ref}")
    name = wire.event_type(target)
    if name == "provider.sanction-rescinded.v1":
        ref = decode_state(target)["sanction_ref"]
    elif name == "provider.reinstated.v1":
        rescinded = decode_state(target)["rescinded"]
        root = chain._stamp(Node(ref, "event", f"{name}: {summarize(name, decode_state(target))}"), target)
        root.children = [chain.node(r) for r in rescinded]
        return Explanation(chain.provider.provider_id, chain.provider.jurisdiction, root)
    if name == "provider.exited.v1":  # a voluntary exit the text lists with the removals (天津 第十二条（八）)
        state = decode_state(target)
        citation = state.get("citation") or {}
        article = f" — {citation['short']} {citation['article']}" if citation else ""
        root = chain._stamp(Node(ref, "event", f"{name}: {summarize(name, state)}{article}"), target)
        if citation:
            root.details = {"article": f"{citation['short']} {citation['article']}", "text": citation.get("text", ""), "document": citation.get("document", "")}
        return Explanation(chain.provider.provider_id, chain.provider.jurisdiction, root)
    if ref not in chain.provider.sanctions:
        raise ExplainError(f"{ref} ({name}) is not a sanction")
    chain._seen.add(ref)
    return Explanation(chain.provider.provider_id, chain.provider.jurisdiction, chain.sanction(ref))


def removal_refs(source: Any, provider_id: str) -> list[str]:
    """Refs of every removing sanction of a provider, in force first, then newest first; a provider
    that left the pool of its own accord under an article that lists the exit with the removals
    (天津 第十二条（八） "主动退出资源池的"), the ref of its exit."""
    store = _store(source)
    events = store.read_aggregate(Provider.create_id(provider_id))
    provider = fold(wire.decode(e) for e in events)
    if provider is None:
        raise ExplainError(f"no provider {provider_id!r}")
    removals = [s for s in provider.sanctions.values() if s["sanction"] in STATUS_AFTER_REMOVAL]
    removals.sort(key=lambda s: (s["rescinded_on"] is not None, -int(s["ref"].rsplit("/", 1)[1])))
    refs = [s["ref"] for s in removals]
    if provider.status == "exited":
        exits = [e for e in events if wire.event_type(e) == "provider.exited.v1" and decode_state(e).get("citation")]
        refs = [event_ref(exits[-1].originator_id, exits[-1].originator_version)] + refs if exits else refs
    return refs


def explain_removal(source: Any, provider_id: str) -> Explanation:
    """The provider's removal in force (else its latest removal)."""
    refs = removal_refs(source, provider_id)
    if not refs:
        raise ExplainError(f"provider {provider_id} has never been removed")
    return explain(source, refs[0])
