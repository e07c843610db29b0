"""Tamper evidence: chain verification, exports and auditor digests."""
from ledger.audit.verify import (
    ChainBroken,
    ChainWalker,
    Digest,
    ExportFormatError,
    ExportSummary,
    VerifyReport,
    export_events,
    read_export,
    recompute_hash,
    take_digest,
    verify_against_digest,
    verify_events,
    verify_export,
    verify_store,
)

__all__ = [
    "ChainBroken",
    "ChainWalker",
    "Digest",
    "ExportFormatError",
    "ExportSummary",
    "VerifyReport",
    "export_events",
    "read_export",
    "recompute_hash",
    "take_digest",
    "verify_against_digest",
    "verify_events",
    "verify_export",
    "verify_store",
]
