"""Merkle tree (RFC 9162): every inclusion and consistency proof for trees of 1..17 leaves verifies,
and any change to a proof, an index, a size or a root does not."""
from __future__ import annotations

import hashlib

import pytest

from ledger.audit.merkle import (
    EMPTY_ROOT,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    tree_head,
    verify_consistency,
    verify_inclusion,
)

LEAVES = [hashlib.sha256(str(i).encode()).digest() for i in range(17)]


def flipped(proof: list[bytes], i: int) -> list[bytes]:
    return [bytes([p[0] ^ 1]) + p[1:] if j == i else p for j, p in enumerate(proof)]


def test_tree_heads_follow_rfc_9162() -> None:
    a, b, c = (leaf_hash(x) for x in LEAVES[:3])
    assert tree_head([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert tree_head(LEAVES[:1]) == a
    assert tree_head(LEAVES[:2]) == node_hash(a, b)
    assert tree_head(LEAVES[:3]) == node_hash(node_hash(a, b), c)  # split at 2, not at 1


def test_rfc_6962_empty_and_single_leaf_vectors() -> None:  # the Certificate Transparency reference vectors
    assert tree_head([]).hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    assert tree_head([b""]).hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"


@pytest.mark.parametrize("size", range(1, 18))
def test_every_inclusion_proof_verifies_and_nothing_else_does(size: int) -> None:
    root = tree_head(LEAVES[:size])
    for index in range(size):
        proof = inclusion_proof(LEAVES, index, size)
        assert verify_inclusion(LEAVES[index], index, size, proof, root)
        for i in range(len(proof)):
            assert not verify_inclusion(LEAVES[index], index, size, flipped(proof, i), root)
        assert not verify_inclusion(LEAVES[(index + 1) % 17], index, size, proof, root)
        assert not verify_inclusion(LEAVES[index], index, size, proof, node_hash(root, root))
        assert not verify_inclusion(LEAVES[index], index, size, proof + [root], root)
        if size > 1:
            assert not verify_inclusion(LEAVES[index], (index + 1) % size, size, proof, root)
            assert not verify_inclusion(LEAVES[index], index, size, proof[:-1], root)
        for wrong_size in (size - 1, size + 1, 2 * size):
            # the size is bound by the signed tree head; the path alone binds it only through its shape
            if wrong_size > index and len(inclusion_proof(LEAVES + LEAVES, index, wrong_size)) != len(proof):
                assert not verify_inclusion(LEAVES[index], index, wrong_size, proof, root)


@pytest.mark.parametrize("size", range(1, 18))
def test_every_consistency_proof_verifies_and_nothing_else_does(size: int) -> None:
    root = tree_head(LEAVES[:size])
    for old in range(size + 1):
        old_root = tree_head(LEAVES[:old])
        proof = consistency_proof(LEAVES, old, size)
        assert verify_consistency(old, size, old_root, root, proof)
        for i in range(len(proof)):
            assert not verify_consistency(old, size, old_root, root, flipped(proof, i))
        if 0 < old < size:
            assert not verify_consistency(old, size, node_hash(old_root, old_root), root, proof)
            assert not verify_consistency(old, size, old_root, node_hash(root, root), proof)
            assert not verify_consistency(old, size, old_root, root, proof[:-1])
            assert not verify_consistency(old, size, old_root, root, proof + [root])
            if old > 1:
                assert not verify_consistency(old - 1, size, old_root, root, proof)
            if size < 17 and len(consistency_proof(LEAVES, old, size + 1)) != len(proof):  # size: bound by the shape
                assert not verify_consistency(old, size + 1, old_root, root, proof)


def test_a_tree_that_does_not_extend_the_old_one_is_refused() -> None:
    forged = LEAVES[:5] + [b"\x00" * 32] + LEAVES[6:]
    proof = consistency_proof(forged, 7, 12)
    assert not verify_consistency(7, 12, tree_head(LEAVES[:7]), tree_head(forged[:12]), proof)


def test_out_of_range_requests_are_refused() -> None:
    with pytest.raises(ValueError):
        inclusion_proof(LEAVES, 5, 5)
    with pytest.raises(ValueError):
        consistency_proof(LEAVES, 6, 5)
    assert not verify_inclusion(LEAVES[0], 0, 0, [], EMPTY_ROOT)
