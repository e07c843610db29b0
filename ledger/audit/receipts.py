"""Receipts: an inclusion proof of one event, and a consistency proof between two tree sizes.

A receipt is what the ledger hands a provider or a court: the event as exported, its
place in the Merkle tree (:mod:`ledger.audit.merkle`) and the tree head it is proved
against — a digest (:class:`ledger.audit.verify.Digest`, signed with the same Ed25519
key as every digest when one is configured). ``tools/verify_receipt.py`` checks it
offline with nothing but the standard library and ``cryptography``.
"""
from __future__ import annotations

from dataclasses import dataclass
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
    """The verified, signed (when ``key``) tree head now, and the events it covers. The ledger is verified
    first as ``ledger verify`` does (:func:`ledger.audit.integrity.require_sound`): no receipt is given
    over a ledger that fails it (:class:`ProofError`)."""
    from ledger.audit.integrity import LedgerUnsound, require_sound
    from ledger.audit.signing import sign

    try:
        require_sound(store)
    except LedgerUnsound as error:
        raise ProofError(f"{error}; no receipt given") from None
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
    from ledger.audit.merkle import tree_head

    if isinstance(old, Digest):
        from ledger.audit.signing import signature_problem

        if old.tree_root is None:
            raise ProofError("the earlier digest has no tree_root (taken before Merkle trees): prove from its size instead")
        refused = signature_problem(old)
        if refused:
            raise ProofError(f"the earlier digest: {refused}")
        old_size, old_root = old.position, old.tree_root
    else:
        old_size, old_root = old, tree_head(leaves[:old]).hex() if 0 <= old <= len(leaves) else ""
    if not 0 <= old_size <= head.position:
        raise ProofError(f"the earlier size {old_size} is beyond the log's {head.position} events")
    if isinstance(old, Digest):  # the log must still hold the earlier tree, or the proof would lead from a root it never had
        held = tree_head(leaves[:old_size]).hex()
        if held != old_root or (old_size and events[old_size - 1].hash != old.hash):
            raise ProofError(
                f"the log no longer extends the earlier digest taken at {old.taken_at.isoformat()}: its first {old_size} "
                f"events have the tree root {held}, the digest recorded {old_root}: the log was rewritten; no proof given"
            )
    return {
        "format": CONSISTENCY_FORMAT,
        "old_size": old_size,
        "old_root": old_root,
        "tree_size": head.position,
        "root": head.tree_root,
        "consistency_path": [p.hex() for p in consistency_proof(leaves, old_size, head.position)],
        "tree_head": head.to_json(),
    }


@dataclass(frozen=True)
class Extension:
    """A later tree head found to extend an earlier digest, offline."""

    old: Digest
    later: Digest
    #: "consistency proof" or "checkpoints"
    by: str

    def summary(self) -> str:
        return (
            f"OK: the digest of {self.later.position} events taken at {self.later.taken_at.isoformat()} extends the digest of "
            f"{self.old.position} events taken at {self.old.taken_at.isoformat()} ({self.by})"
        )


def check_extends(old: Digest, later: dict[str, Any], pinned_key: str | None = None) -> Extension:
    """Does ``later`` — a consistency proof (``ledger proof --consistency OLD``) or a later digest —
    show that the log extends the earlier digest ``old``? Offline: no ledger is read.

    A proof must start from ``old`` itself (its size and tree root) and lead to its own signed
    tree head; a later digest must agree with ``old`` at every checkpoint both carry and hold
    ``old``'s head among its checkpoints. Raises :class:`ProofError` naming what does not hold.
    """
    from ledger.audit.merkle import verify_consistency
    from ledger.audit.signing import signature_problem

    def signed(digest: Digest, what: str) -> None:
        problem = signature_problem(digest, pinned_key)
        if problem:
            raise ProofError(f"{what}: {problem}")

    signed(old, "the earlier digest")
    proof = later if "consistency_path" in later else None
    try:
        head = Digest.from_json(later["tree_head"] if proof is not None else later)
    except (KeyError, TypeError, ValueError) as error:
        raise ProofError(f"not a digest or a consistency proof written by the ledger: {error}") from None
    signed(head, "the later tree head" if proof is not None else "the later digest")
    if head.position < old.position:
        raise ProofError(f"the later digest covers {head.position} events, fewer than the earlier's {old.position}: the log was cut short")
    agreed = 0
    later_checkpoints = dict(head.checkpoints)
    later_checkpoints[head.position] = head.hash
    for position, digest in sorted((dict(old.checkpoints) | {old.position: old.hash}).items()):
        if position in later_checkpoints:
            if later_checkpoints[position] != digest:
                raise ProofError(
                    f"the digests part ways at position {position}"
                    + (f" (they agree up to position {agreed})" if agreed else "")
                    + ": the log was rewritten between them"
                )
            agreed = position
    if proof is not None:
        try:
            old_size, old_root = int(proof["old_size"]), bytes.fromhex(proof["old_root"])
            size, root = int(proof["tree_size"]), bytes.fromhex(proof["root"])
            path = [bytes.fromhex(p) for p in proof["consistency_path"]]
        except (KeyError, TypeError, ValueError) as error:
            raise ProofError(f"malformed consistency proof: {error}") from None
        if old.tree_root is None:
            raise ProofError("the earlier digest has no tree_root (taken before Merkle trees): compare checkpoints with a later digest instead")
        if (old_size, old_root.hex()) != (old.position, old.tree_root):
            raise ProofError(f"the proof starts from a tree of {old_size} events, not from the earlier digest's tree of {old.position}")
        if (size, root.hex()) != (head.position, head.tree_root):
            raise ProofError("the proof does not lead to its own tree head's size and root")
        if not verify_consistency(old_size, size, old_root, root, path):
            raise ProofError(f"the consistency proof does not show the tree of {size} extends the tree of {old_size}")
        return Extension(old, head, "consistency proof verified")
    if agreed != old.position:
        raise ProofError(
            f"the later digest has no checkpoint at position {old.position}, so checkpoints cannot decide it: "
            "give the consistency proof instead (`ledger proof --consistency OLD_DIGEST`)"
        )
    return Extension(old, head, f"the later digest holds the earlier head at position {old.position}")
