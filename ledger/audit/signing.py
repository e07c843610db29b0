"""Signed digests: Ed25519 keys (``cryptography``), signing a digest, checking a signature.

The ledger signs with the private key named by the ``LEDGER_SIGNING_KEY_FILE``
setting (PEM, PKCS #8; ``ledger keygen`` makes one). An auditor pins the public
key (base64 of its 32 raw bytes, printed by ``ledger keygen``): a digest signed
by another key, or changed after it was signed, is refused.
"""
from __future__ import annotations

import base64
import dataclasses
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ledger.audit.verify import Digest


def generate_key(path: str | os.PathLike[str]) -> str:
    """Write a new private key to ``path`` (mode 0600, never overwritten); returns the public key."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    return public_key_of(key)


def load_key(path: str | os.PathLike[str]) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path} is not an Ed25519 private key")
    return key


def public_key_of(key: Ed25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def sign(digest: Digest, key: Ed25519PrivateKey) -> Digest:
    signature = base64.b64encode(key.sign(digest.signed_content())).decode("ascii")
    return dataclasses.replace(digest, signature=signature, public_key=public_key_of(key))


def signature_problem(digest: Digest, pinned_public_key: str | None = None) -> str | None:
    """Why the digest's signature is not to be trusted, or None. Without a pinned key, a digest
    need not be signed; with one, it must be signed by that key."""
    if digest.signature is None or digest.public_key is None:
        return "the digest is not signed" if pinned_public_key else None
    if pinned_public_key and digest.public_key != pinned_public_key:
        return "the digest is signed by another key than the one pinned"
    try:
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(digest.public_key, validate=True))
        public.verify(base64.b64decode(digest.signature, validate=True), digest.signed_content())
    except (InvalidSignature, ValueError):
        return "the digest's signature does not verify: the digest was altered after it was signed"
    return None


def signer_note(digest: Digest, pinned_public_key: str | None = None) -> str:
    """Whose key signed a digest (whose signature :func:`signature_problem` found sound), and whether
    it was pinned: without a pinned key any key's signature is accepted, which proves only that the
    digest was not changed after whoever holds that key signed it."""
    if digest.signature is None or digest.public_key is None:
        return "the digest is unsigned and no key was pinned: it is only as trustworthy as the copy kept of it"
    if pinned_public_key:
        return f"signed by the pinned key {digest.public_key}"
    return (
        f"signed by {digest.public_key}, but no key was pinned, so any key's signature is accepted: "
        "give --public-key (or LEDGER_VERIFY_KEY) to require the auditor's key"
    )
