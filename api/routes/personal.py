"""Complainants' personal data: seen only by the regulator handling the case, erasable for good.

The values live encrypted outside the hash-chained log (``ledger.personal``);
erasing destroys the person's key (个人信息保护法 第四十七条), and the log — so
``ledger verify`` — is untouched.
"""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.auth import Principal, Role
from api.deps import AppDep, may_act_in, roles
from api.errors import Forbidden
from api.models import Problem
from ledger.aggregates.complaint import Complaint
from ledger.commands.models import Id, Text

router = APIRouter(prefix="/v1", tags=["personal data"])

Regulator = Annotated[Principal, roles(Role.regulator)]
_ERRORS: dict[int | str, dict[str, Any]] = {code: {"model": Problem} for code in (401, 403, 404, 422)}


class Complainant(BaseModel):
    complaint_id: str
    values: dict[str, str] | None = Field(description="complainant_name, contact; null once erased")
    erased_at: str | None = Field(None, description="when the person's key was destroyed (recorded time)")


class Erasure(BaseModel):
    reason: Text = Field(min_length=1, description="why, e.g. the retention period ended (个人信息保护法 第四十七条)")


class Erased(BaseModel):
    complaint_id: str
    erased: bool = Field(description="false when there was nothing left to erase")


def _vault_for(app: Any, principal: Principal, complaint_id: str) -> Any:
    complaint = app.ledger.load(Complaint, complaint_id)  # NotFound -> 404
    may_act_in(principal, complaint.jurisdiction)
    vault = getattr(app.ledger, "personal", None)
    if vault is None:
        raise Forbidden("this ledger keeps no personal data vault")
    return vault


@router.get("/complaints/{complaint_id}/complainant", response_model=Complainant, responses=_ERRORS, summary="The complainant's name and contact details (the handling regulator only)")
def complainant(complaint_id: Id, app: AppDep, principal: Regulator) -> Any:
    found = _vault_for(app, principal, complaint_id).reveal(f"complaint:{complaint_id}")
    if found is None:
        return Complainant(complaint_id=complaint_id, values=None)
    return Complainant(complaint_id=complaint_id, values=found.values, erased_at=found.erased_at)


@router.post("/complaints/{complaint_id}/complainant/erasure", response_model=Erased, responses=_ERRORS, summary="Erase the complainant's personal data for good (destroys the key)")
def erase(complaint_id: Id, body: Erasure, app: AppDep, principal: Regulator) -> Any:
    vault = _vault_for(app, principal, complaint_id)
    return Erased(complaint_id=complaint_id, erased=vault.erase(f"complainant:{complaint_id}", body.reason))
