"""A Merkle tree over the log, as certificate-transparency logs build it (RFC 9162 §2.1).

The hash chain proves the log was not altered, but only to someone who holds the
whole log. A Merkle tree lets the ledger prove far less expensively that *one*
event is in the log as of a tree head (an inclusion proof, log2(n) hashes) and
that a later tree head extends an earlier one (a consistency proof) — so a
provider or a court can check a sanction offline with a small verifier
(``tools/verify_receipt.py``) and never see the rest of the ledger.

A leaf is the 32 raw bytes of an event's stored chain hash (the ``hash`` column,
hex in the store): it already covers the event's content and everything before
it. Hashing is RFC 9162's: leaf = SHA-256(0x00 || leaf), node = SHA-256(0x01 ||
left || right), the tree of n leaves split at the largest power of two below n.
Indices are 0-based (log position - 1). Pure functions: no I/O.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def leaf_of(chain_hash: str) -> bytes:
    """The leaf for an event: the raw bytes of its stored (hex) chain hash."""
    return bytes.fromhex(chain_hash)


def tree_head(leaves: Iterable[bytes]) -> bytes:
    """MTH of the leaves, streaming: O(log n) memory (a stack of complete subtrees, merged as
    a binary counter; the right-to-left merge at the end gives RFC 9162's split)."""
    stack: list[tuple[int, bytes]] = []  # (subtree size, hash), sizes strictly decreasing
    for leaf in leaves:
        size, node = 1, leaf_hash(leaf)
        while stack and stack[-1][0] == size:
            left_size, left = stack.pop()
            size, node = left_size + size, node_hash(left, node)
        stack.append((size, node))
    if not stack:
        return EMPTY_ROOT
    node = stack.pop()[1]
    while stack:
        node = node_hash(stack.pop()[1], node)
    return node


def _split(n: int) -> int:
    """The largest power of two strictly below ``n`` (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _mth(hashed: Sequence[bytes]) -> bytes:
    """MTH over already leaf-hashed entries."""
    if len(hashed) == 1:
        return hashed[0]
    k = _split(len(hashed))
    return node_hash(_mth(hashed[:k]), _mth(hashed[k:]))


def inclusion_proof(leaves: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """The audit path for leaf ``index`` (0-based) in the tree of the first ``size`` leaves (RFC 9162 §2.1.3.1)."""
    if not 0 <= index < size <= len(leaves):
        raise ValueError(f"no leaf {index} in a tree of {size} (the log holds {len(leaves)})")
    hashed = [leaf_hash(leaf) for leaf in leaves[:size]]

    def path(m: int, d: Sequence[bytes]) -> list[bytes]:
        if len(d) == 1:
            return []
        k = _split(len(d))
        if m < k:
            return path(m, d[:k]) + [_mth(d[k:])]
        return path(m - k, d[k:]) + [_mth(d[:k])]

    return path(index, hashed)


def consistency_proof(leaves: Sequence[bytes], old_size: int, size: int) -> list[bytes]:
    """The proof that the tree of ``size`` leaves extends the tree of ``old_size`` (RFC 9162 §2.1.4.1)."""
    if not 0 <= old_size <= size <= len(leaves):
        raise ValueError(f"no consistency proof from {old_size} to {size} (the log holds {len(leaves)})")
    if old_size in (0, size):
        return []
    hashed = [leaf_hash(leaf) for leaf in leaves[:size]]

    def subproof(m: int, d: Sequence[bytes], complete: bool) -> list[bytes]:
        if m == len(d):
            return [] if complete else [_mth(d)]
        k = _split(len(d))
        if m <= k:
            return subproof(m, d[:k], complete) + [_mth(d[k:])]
        return subproof(m - k, d[k:], False) + [_mth(d[:k])]

    return subproof(old_size, hashed, True)


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does ``proof`` show ``leaf`` at ``index`` in the tree of ``size`` with ``root``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf_hash(leaf)
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, size: int, old_root: bytes, root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: does ``proof`` show the tree (``size``, ``root``) extends (``old_size``, ``old_root``)?"""
    if not 0 <= old_size <= size:
        return False
    if old_size == size:
        return not proof and old_root == root
    if old_size == 0:
        return not proof  # the empty tree is a prefix of every tree
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first node
        path.insert(0, old_root)
    fn, sn = old_size - 1, size - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == old_root and sr == root
