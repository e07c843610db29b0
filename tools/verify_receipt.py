#!/usr/bin/env python3
"""Verify a ledger receipt offline: standard library and ``cryptography`` only, no ledger code.

    python verify_receipt.py receipt.json [--public-key BASE64]

A receipt (``ledger proof EVENT_REF -o receipt.json``) proves one event is in the ledger's
log as of a tree head: the audit path must lead from the event's leaf to the root (RFC 9162
§2.1.3.2). A consistency proof (``ledger proof --consistency OLD -o proof.json``) proves the
tree extends an earlier one (§2.1.4.2). If the tree head is signed, the Ed25519 signature must
verify; with ``--public-key`` (the key the ledger's operator publishes) it must be signed, by
that key. Exit 0 and one line "OK: …", or exit 1 and one line naming what is wrong.

Leaf = the 32 raw bytes of the event's chain hash (hex ``hash`` in the event); leaf hash =
SHA-256(0x00 || leaf); node = SHA-256(0x01 || left || right). The chain hash is recomputed from
the event's fields as the receipt shows them, so an event whose content was changed while its
hash was kept is refused: hash = SHA-256(prev_hash || JSON [position, originator_id,
originator_version, topic, state, recorded_at, effective_on, recorded_by, command_id]) (UTF-8,
no ASCII escaping, no blanks: ``ledger.store.base.chain_hash``, the same rendering
``ledger verify --export`` checks).

With ``--earlier OLD_DIGEST`` a consistency proof must start from that digest (the one the
auditor kept, signed by the same key): its size and tree root, not whatever the proof claims.
"""
from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from typing import Any


class Refused(Exception):
    pass


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes], root: bytes) -> bool:
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf_hash(leaf)
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, size: int, old_root: bytes, root: bytes, proof: list[bytes]) -> bool:
    if not 0 <= old_size <= size:
        return False
    if old_size == size:
        return not proof and old_root == root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = ([old_root] if old_size & (old_size - 1) == 0 else []) + list(proof)
    fn, sn = old_size - 1, size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while fn and not fn & 1:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == root


#: the event's fields the chain hash covers, in order, and the JSON types they must have
EVENT_FIELDS: tuple[tuple[str, tuple[type, ...]], ...] = (
    ("position", (int,)), ("originator_id", (str,)), ("originator_version", (int,)), ("topic", (str,)),
    ("state", (str,)), ("recorded_at", (str,)), ("effective_on", (str, type(None))), ("recorded_by", (str,)),
    ("command_id", (str,)),
)  # fmt: skip


def chain_hash(event: dict[str, Any]) -> str:
    """The event's chain hash recomputed from its fields (``ledger.store.base.chain_hash``)."""
    values = []
    for name, kinds in EVENT_FIELDS:
        if name not in event or type(event[name]) not in kinds:
            raise Refused(f"the event's field {name!r} is missing or not a {' or '.join(k.__name__ for k in kinds)}")
        values.append(event[name])
    prev_hash = event.get("prev_hash")
    if not isinstance(prev_hash, str):
        raise Refused("the event's field 'prev_hash' is missing or not a str")
    content = json.dumps(values, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def field(data: Any, name: str, kind: type) -> Any:
    if not isinstance(data, dict) or name not in data or type(data[name]) is not kind:
        raise Refused(f"field {name!r} is missing or not a {kind.__name__}")
    return data[name]


def hex_bytes(value: Any, name: str) -> bytes:
    try:
        raw = bytes.fromhex(value)
    except (TypeError, ValueError):
        raise Refused(f"{name} is not hex") from None
    if len(raw) != 32:
        raise Refused(f"{name} is not a SHA-256 hash")
    return raw


def check_tree_head(receipt: dict[str, Any], pinned_key: str | None) -> str:
    """The tree head names the receipt's size and root, and its signature (if any) verifies."""
    head = field(receipt, "tree_head", dict)
    if head.get("position") != receipt["tree_size"] or head.get("tree_root") != receipt["root"]:
        raise Refused("the tree head does not name the receipt's tree size and root")
    return check_signature(head, pinned_key, "the tree head")


def check_signature(head: dict[str, Any], pinned_key: str | None, what: str) -> str:
    """A digest's Ed25519 signature (if any) verifies; with ``pinned_key`` it must be signed by it."""
    signature, public_key = head.get("signature"), head.get("public_key")
    if signature is None or public_key is None:
        if pinned_key:
            raise Refused(f"{what} is not signed")
        return f"unsigned {what.removeprefix('the ')}"
    if pinned_key and public_key != pinned_key:
        raise Refused(f"{what} is signed by another key than the one given")
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    content = {k: v for k, v in head.items() if k not in ("signature", "public_key")}
    signed = json.dumps(content, sort_keys=True, separators=(",", ":")).encode("utf-8")
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
        key.verify(base64.b64decode(signature, validate=True), signed)
    except (InvalidSignature, ValueError):
        raise Refused(f"{what}'s signature does not verify: it was altered after it was signed") from None
    return f"{what.removeprefix('the ')} signed by {public_key}"


def verify(receipt: Any, pinned_key: str | None, earlier: Any = None) -> str:
    size, root = field(receipt, "tree_size", int), hex_bytes(field(receipt, "root", str), "root")
    if earlier is not None and "consistency_path" not in receipt:
        raise Refused("--earlier goes with a consistency proof (`ledger proof --consistency OLD`), not an inclusion receipt")
    if "consistency_path" in receipt:
        old_size = field(receipt, "old_size", int)
        old_root = hex_bytes(field(receipt, "old_root", str), "old_root")
        if earlier is not None:
            if field(earlier, "position", int) != old_size or earlier.get("tree_root") != old_root.hex():
                raise Refused(
                    f"the proof starts from a tree of {old_size} (root {old_root.hex()}), not from the earlier digest's "
                    f"tree of {earlier.get('position')} (root {earlier.get('tree_root')})"
                )
            check_signature(earlier, pinned_key, "the earlier digest")
        path = [hex_bytes(p, "a consistency path entry") for p in field(receipt, "consistency_path", list)]
        if not verify_consistency(old_size, size, old_root, root, path):
            raise Refused(f"the consistency proof does not show the tree of {size} extends the tree of {old_size}")
        signed = check_tree_head(receipt, pinned_key)
        return f"OK: the tree of {size} events (root {root.hex()}) extends the tree of {old_size} (root {old_root.hex()}); {signed}"
    event = field(receipt, "event", dict)
    position = field(receipt, "position", int)
    leaf = field(receipt, "leaf", str)
    if event.get("hash") != leaf or event.get("position") != position:
        raise Refused("the event's hash or position is not the receipt's leaf")
    path = [hex_bytes(p, "an audit path entry") for p in field(receipt, "audit_path", list)]
    if not verify_inclusion(hex_bytes(leaf, "leaf"), position - 1, size, path, root):
        raise Refused(f"the audit path does not lead from the event at position {position} to the root of the tree of {size}")
    if chain_hash(event) != leaf:
        raise Refused("the event's fields do not hash to its leaf: the event was altered (its content is not what was recorded)")
    signed = check_tree_head(receipt, pinned_key)
    return f"OK: event {event.get('originator_id')}/{event.get('originator_version')} is at position {position} of the tree of {size} events (root {root.hex()}); {signed}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a ledger receipt or consistency proof offline.")
    parser.add_argument("receipt", help="the receipt JSON (from `ledger proof`)")
    parser.add_argument("--public-key", help="the tree head must be signed by this Ed25519 key (base64, as `ledger keygen` prints it)")
    parser.add_argument("--earlier", metavar="OLD_DIGEST", help="a consistency proof must start from this digest (the one you kept)")
    args = parser.parse_args(argv)
    current = args.receipt
    try:
        with open(args.receipt, encoding="utf-8") as source:
            receipt = json.load(source)
        earlier = None
        if args.earlier:
            current = args.earlier
            with open(args.earlier, encoding="utf-8") as source:
                earlier = json.load(source)
            current = args.receipt
        print(verify(receipt, args.public_key, earlier))
    except Refused as refused:
        print(f"REFUSED: {refused}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as error:
        print(f"error: cannot read {current}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
