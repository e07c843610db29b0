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
SHA-256(0x00 || leaf); node = SHA-256(0x01 || left || right).
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
    signature, public_key = head.get("signature"), head.get("public_key")
    if signature is None or public_key is None:
        if pinned_key:
            raise Refused("the tree head is not signed")
        return "unsigned tree head"
    if pinned_key and public_key != pinned_key:
        raise Refused("the tree head is signed by another key than the one given")
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    content = {k: v for k, v in head.items() if k not in ("signature", "public_key")}
    signed = json.dumps(content, sort_keys=True, separators=(",", ":")).encode("utf-8")
    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key, validate=True))
        key.verify(base64.b64decode(signature, validate=True), signed)
    except (InvalidSignature, ValueError):
        raise Refused("the tree head's signature does not verify: it was altered after it was signed") from None
    return f"tree head signed by {public_key}"


def verify(receipt: Any, pinned_key: str | None) -> str:
    size, root = field(receipt, "tree_size", int), hex_bytes(field(receipt, "root", str), "root")
    if "consistency_path" in receipt:
        old_size = field(receipt, "old_size", int)
        old_root = hex_bytes(field(receipt, "old_root", str), "old_root")
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
    signed = check_tree_head(receipt, pinned_key)
    return f"OK: event {event.get('originator_id')}/{event.get('originator_version')} is at position {position} of the tree of {size} events (root {root.hex()}); {signed}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a ledger receipt or consistency proof offline.")
    parser.add_argument("receipt", help="the receipt JSON (from `ledger proof`)")
    parser.add_argument("--public-key", help="the tree head must be signed by this Ed25519 key (base64, as `ledger keygen` prints it)")
    args = parser.parse_args(argv)
    try:
        with open(args.receipt, encoding="utf-8") as source:
            receipt = json.load(source)
        print(verify(receipt, args.public_key))
    except Refused as refused:
        print(f"REFUSED: {refused}", file=sys.stderr)
        return 1
    except (OSError, ValueError) as error:
        print(f"error: cannot read {args.receipt}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
