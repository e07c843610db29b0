"""The typed read service (``Views``) and what it returns (``ledger.views.models``)."""
from ledger.views.models import (
    AsOf,
    CounterValue,
    Explanation,
    ExplanationNode,
    Grade,
    History,
    ListEntry,
    Page,
    ProviderStanding,
    RegistryAsOf,
    RegistryEntry,
    Sanction,
    SanctionSummary,
    TimelineEntry,
    VerifyResult,
    WhatIfResult,
)
from ledger.views.service import InvalidQuery, NotFound, ViewError, Views, verify_result

__all__ = [
    "AsOf", "CounterValue", "Explanation", "ExplanationNode", "Grade", "History", "InvalidQuery", "ListEntry",
    "NotFound", "Page", "ProviderStanding", "RegistryAsOf", "RegistryEntry", "Sanction", "SanctionSummary",
    "TimelineEntry", "VerifyResult", "ViewError", "Views", "WhatIfResult", "verify_result",
]  # fmt: skip
