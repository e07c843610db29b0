"""Receipts: an inclusion proof of one event, and a consistency proof between two tree sizes.

A receipt is what the ledger hands a provider or a court: the event as exported, its
place in the Merkle tree (:mod:`ledger.audit.merkle`) and the tree head it is proved
against — a digest (:class:`ledger.audit.verify.Digest`, signed with the same Ed25519
key as every digest when one is configured). ``tools/verify_receipt.py`` checks it
offline with nothing but the standard library and ``cryptography``.
"""
from __future__ import annotations

from typing import Any

from ledger import wire
from ledger.audit.merkle import consistency_proof, inclusion_proof, leaf_of
from ledger.audit.verify import Digest, take_digest
from ledger.store.base import EventStore, RecordedEvent

RECEIPT_FORMAT = "ledger-inclusion-receipt/1 (RFC 9162, leaf = raw bytes of the event's chain hash)"
CONSISTENCY_FORMAT = "ledger-consistency-proof/1 (RFC 9162)"


class ProofError(ValueError):
    """No proof can be given (an unknown event, a size beyond the log, a digest without a tree root)."""


def _tree(store: EventStore, key: Any | None) -> tuple[Digest, list[RecordedEvent]]:
    """The verified, signed (when ``key``) tree head now, and the events it covers."""
    from ledger.audit.signing import sign

    head = take_digest(store)
    if key is not None:
        head = sign(head, key)
    return head, list(store.read_all(limit=head.position))


def find_event(events: list[RecordedEvent], ref: str) -> RecordedEvent:
    """The event named by its log position or its ref (aggregate-uuid/version)."""
    if ref.isdigit():
        position = int(ref)
        if not 1 <= position <= len(events):
            raise ProofError(f"no event at position {position}: the log holds {len(events)}")
        return events[position - 1]
    for event in events:
        if event.ref == ref:
            return event
    raise ProofError(f"no event {ref!r} in the log (give a position or an aggregate-uuid/version ref)")


def inclusion_receipt(store: EventStore, ref: str, key: Any | None = None) -> dict[str, Any]:
    head, events = _tree(store, key)
    event = find_event(events, ref)
    leaves = [leaf_of(e.hash) for e in events]
    path = inclusion_proof(leaves, event.position - 1, head.position)
    return {
        "format": RECEIPT_FORMAT,
        "event": wire.to_export(event),
        "leaf": event.hash,
        "position": event.position,
        "tree_size": head.position,
        "root": head.tree_root,
        "audit_path": [p.hex() for p in path],
        "tree_head": head.to_json(),
    }


def consistency_receipt(store: EventStore, old: Digest | int, key: Any | None = None) -> dict[str, Any]:
    head, events = _tree(store, key)
    leaves = [leaf_of(e.hash) for e in events]
    if isinstance(old, Digest):
        if old.tree_root is None:
            raise ProofError("the earlier digest has no tree_root (taken before Merkle trees): prove from its size instead")
        old_size, old_root = old.position, old.tree_root
    else:
        from ledger.audit.merkle import tree_head

        old_size, old_root = old, tree_head(leaves[:old]).hex() if 0 <= old <= len(leaves) else ""
    if not 0 <= old_size <= head.position:
        raise ProofError(f"the earlier size {old_size} is beyond the log's {head.position} events")
    return {
        "format": CONSISTENCY_FORMAT,
        "old_size": old_size,
        "old_root": old_root,
        "tree_size": head.position,
        "root": head.tree_root,
        "consistency_path": [p.hex() for p in consistency_proof(leaves, old_size, head.position)],
        "tree_head": head.to_json(),
    }
