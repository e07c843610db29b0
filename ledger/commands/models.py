"""Commands: what a bureau, an enterprise or a provider asks the ledger to record.

Every command carries a client-supplied ``command_id``: a retried command is
recorded once. ``effective_on`` is when the fact took effect; it defaults to the
day the command is recorded. ``type`` names the command in JSON Lines imports.
"""
from __future__ import annotations

import json
from datetime import date
from typing import Annotated, ClassVar, Literal, Union

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationInfo, field_validator

from ledger.commands.fields import (
    MAX_MAPPING_ITEMS,
    Amount,
    Count,
    Id,
    IdList,
    Key,
    Name,
    Number,
    PositiveAmount,
    Ref,
    RefList,
    Text,
    TextList,
    TextMap,
)
from ledger.rules import credit_code

Jurisdiction = Literal["tianjin", "xinxiang", "province", "tangshan", "liuzhou"]
def _a_day(value: object) -> object:
    """A day given in JSON is ``YYYY-MM-DD`` (:func:`ledger.clock.day`, as the CLI's and the API's query
    days are): a number is refused, where pydantic would read it as seconds since 1970."""
    from ledger.clock import day

    if isinstance(value, str):
        return day(value)
    if isinstance(value, (int, float)):
        raise ValueError(f"{value!r} is not a day (YYYY-MM-DD)")
    return value


#: a day of the effective axis in a command
Day = Annotated[date, BeforeValidator(_a_day)]

CreditCode = Annotated[
    str,
    Field(min_length=18, max_length=20, description="统一社会信用代码 (GB 32100-2015), its check character validated"),
    AfterValidator(credit_code.validate),
]


#: how the vault's placeholder of a personal value kept out of the log starts (``ledger.personal.MARKER``)
SEALED_PREFIX = "sealed:"


def refuse_sealed_placeholder(value: str | None, info: ValidationInfo) -> str | None:
    """A personal field's value as given, never the vault's placeholder: one would be logged in the
    clear as if it were sealed, and a retry carrying placeholders would look like its first recording."""
    if value is not None and value.startswith(SEALED_PREFIX):
        raise ValueError(
            f"{info.field_name} may not start with {SEALED_PREFIX!r}: that is the vault's placeholder for a value "
            "kept out of the log; give the value itself"
        )
    return value


class Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)
    #: fields kept out of the log (``ledger.personal``); none unless a command names them
    PERSONAL_FIELDS: ClassVar[tuple[str, ...]] = ()

    command_id: Id
    recorded_by: Name | None = Field(default=None, description="who records the command; defaults to the operator")
    effective_on: Day | None = Field(default=None, description="when the fact took effect; defaults to today")

    def canonical_json(self) -> str:
        """The command as canonical JSON (sorted keys, no blanks): what its payload digest is taken of,
        so that a retry is recognised as the same command however its JSON was spelled."""
        return json.dumps(self.model_dump(mode="json"), ensure_ascii=False, sort_keys=True, separators=(",", ":"))


# --- providers ---------------------------------------------------------------


class SubmitApplication(Command):
    type: Literal["SubmitApplication"] = "SubmitApplication"
    provider_id: Id
    jurisdiction: Jurisdiction
    name: Name
    credit_code: CreditCode
    kind: Name = Field(description="the provider kind or category of the jurisdiction's rulebook (open lists accept others)")
    profile: TextMap = Field(default_factory=dict, description="address, legal_representative, business_scope, registered_capital")
    eligibility: dict[Key, bool | Count] = Field(default_factory=dict, max_length=MAX_MAPPING_ITEMS, description="eligibility facts the rulebook checks")


class OpenPublicNotice(Command):
    type: Literal["OpenPublicNotice"] = "OpenPublicNotice"
    provider_id: Id


class RaiseObjection(Command):
    type: Literal["RaiseObjection"] = "RaiseObjection"
    provider_id: Id
    objection_id: Id
    raised_by: Name
    grounds: Text


class ResolveObjection(Command):
    type: Literal["ResolveObjection"] = "ResolveObjection"
    provider_id: Id
    objection_id: Id
    stands: bool = Field(description="true if the objection is upheld and stands against admission")
    reasons: Text = ""


class ClosePublicNotice(Command):
    type: Literal["ClosePublicNotice"] = "ClosePublicNotice"
    provider_id: Id
    last_day: Day = Field(description="the last day of the notice; days are counted inclusively")


class AdmitProvider(Command):
    type: Literal["AdmitProvider"] = "AdmitProvider"
    provider_id: Id


class RefuseAdmission(Command):
    type: Literal["RefuseAdmission"] = "RefuseAdmission"
    provider_id: Id
    reason: Text


class LapseApplication(Command):
    type: Literal["LapseApplication"] = "LapseApplication"
    provider_id: Id
    reason: Text


ProfileField = Literal["name", "address", "legal_representative", "business_scope", "registered_capital"]


class RecordProfileChange(Command):
    type: Literal["RecordProfileChange"] = "RecordProfileChange"
    provider_id: Id
    field: ProfileField
    new_value: Name
    changed_on: Day
    reported_on: Day
    major: bool = True

    @field_validator("reported_on")
    @classmethod
    def _not_before_change(cls, reported_on: date, info):
        changed_on = info.data.get("changed_on")
        if changed_on and reported_on < changed_on:
            raise ValueError("reported_on is before changed_on")
        return reported_on


class RecordScore(Command):
    """天津 第十一条: the yearly third-party score, from which the letter grade follows."""

    type: Literal["RecordScore"] = "RecordScore"
    provider_id: Id
    year: int = Field(ge=2000, le=2100)
    score: float = Field(ge=0, le=100, allow_inf_nan=False)


class RecordEvaluation(Command):
    """省指南 四（三）: the periodic evaluation, qualified or not."""

    type: Literal["RecordEvaluation"] = "RecordEvaluation"
    provider_id: Id
    year: int = Field(ge=2000, le=2100)
    qualified: bool


class RecordStarRating(Command):
    """新乡 第十四条: stars from enterprises served and their satisfaction; thresholds are the bureau's."""

    type: Literal["RecordStarRating"] = "RecordStarRating"
    provider_id: Id
    rating_round: Id
    stars: int = Field(ge=0, le=3)
    basis: dict[Key, Count | Number | Text] = Field(default_factory=dict, max_length=MAX_MAPPING_ITEMS, description="enterprises served, satisfaction, thresholds used")


class RecordFinding(Command):
    """A regulator's finding of fact citing an article; the ledger applies the sanction it attaches."""

    type: Literal["RecordFinding"] = "RecordFinding"
    provider_id: Id
    article: Name = Field(description="an article key of the jurisdiction's pack, e.g. 第十三条（四）")
    summary: Text
    evidence: RefList = Field(default_factory=list)
    deadline_days: int | None = Field(default=None, ge=1, le=365, description="days to rectify, for warnings and orders")
    exceptional_reason: Text | None = Field(default=None, description="why a deadline exceeds the rulebook's normal limit")


class CompleteRectification(Command):
    type: Literal["CompleteRectification"] = "CompleteRectification"
    provider_id: Id
    sanction_ref: Ref


class SetRectificationPeriod(Command):
    """The regulator's period for a warning or order to rectify that the ledger derived while the
    bureau had set no period for such orders (新乡 第十五条（四）, 柳州 第十二条（四）（六）: "限期整改",
    no number): ``deadline_days`` counted, as a finding's, from the day the order took effect."""

    type: Literal["SetRectificationPeriod"] = "SetRectificationPeriod"
    provider_id: Id
    sanction_ref: Ref
    deadline_days: int = Field(ge=1, le=365, description="days to rectify, counted from the day the order took effect")
    exceptional_reason: Text | None = Field(default=None, description="why the period exceeds the rulebook's normal limit")


class RecordRectificationRefusal(Command):
    type: Literal["RecordRectificationRefusal"] = "RecordRectificationRefusal"
    provider_id: Id
    sanction_ref: Ref


class WithdrawFromPool(Command):
    type: Literal["WithdrawFromPool"] = "WithdrawFromPool"
    provider_id: Id
    reason: Text = ""


class WithholdFees(Command):
    type: Literal["WithholdFees"] = "WithholdFees"
    provider_id: Id
    project_id: Id | None = None
    amount: PositiveAmount
    reason: Text
    #: the article that names the withholding (新乡 第十六条, 唐山 第十四条), or the item the provider was removed under
    article: Name


# --- projects ----------------------------------------------------------------


class RegisterProject(Command):
    type: Literal["RegisterProject"] = "RegisterProject"
    project_id: Id
    jurisdiction: Jurisdiction
    enterprise_id: Id
    enterprise_name: Name
    enterprise_kind: Name = "专精特新"
    integrated_provider_id: Id | None = None
    product_provider_ids: IdList = Field(default_factory=list)


class RecordDiagnosis(Command):
    type: Literal["RecordDiagnosis"] = "RecordDiagnosis"
    project_id: Id
    level_before: int = Field(ge=0, le=4, description="digital level before (中小企业数字化水平评测指标)")
    report: Text = ""
    problems: TextList = Field(default_factory=list)
    scenarios: TextList = Field(default_factory=list)


class SubmitFiling(Command):
    type: Literal["SubmitFiling"] = "SubmitFiling"
    project_id: Id
    content: Text
    cost: Amount
    expected_effect: Text = ""
    schedule: Text = ""


class DecideFiling(Command):
    type: Literal["DecideFiling"] = "DecideFiling"
    project_id: Id
    approved: bool
    reasons: Text = ""


class RecordMajorChange(Command):
    type: Literal["RecordMajorChange"] = "RecordMajorChange"
    project_id: Id
    description: Text
    investment_increase: Amount | None = None
    scenarios_removed: int = Field(default=0, ge=0, le=1000)


class StartImplementation(Command):
    type: Literal["StartImplementation"] = "StartImplementation"
    project_id: Id


class RecordAcceptance(Command):
    type: Literal["RecordAcceptance"] = "RecordAcceptance"
    project_id: Id
    passed: bool
    level_after: int | None = Field(default=None, ge=0, le=4)


class RateSatisfaction(Command):
    type: Literal["RateSatisfaction"] = "RateSatisfaction"
    project_id: Id
    provider_id: Id
    rating: Literal["满意", "基本满意", "不满意"]


class RecordPayment(Command):
    type: Literal["RecordPayment"] = "RecordPayment"
    project_id: Id
    kind: Literal["prepayment", "fee_paid", "fee_withheld", "prepayment_recovered"]
    amount: PositiveAmount
    provider_id: Id | None = None


# --- complaints and appeals ----------------------------------------------------


class FileComplaint(Command):
    #: kept out of the log, encrypted under a key of the complainant's own (``ledger.personal``)
    PERSONAL_FIELDS: ClassVar[tuple[str, ...]] = ("complainant_name", "contact")

    type: Literal["FileComplaint"] = "FileComplaint"
    complaint_id: Id
    provider_id: Id
    nature: Literal["complaint", "report"] = Field(
        default="complaint",
        description="complaint (投诉) of the service, or report (举报) on the truth of the provider's information (新乡 第十八条: real name, contact details, evidence)",
    )
    complainant_kind: Literal["enterprise", "provider", "public"]
    complainant_name: Name | None = None
    contact: Name | None = None
    real_name: bool = True
    subject: Text
    evidence: TextList = Field(default_factory=list)
    enterprise_id: Id | None = None

    _personal_values = field_validator(*PERSONAL_FIELDS)(refuse_sealed_placeholder)


class RequestAnswer(Command):
    type: Literal["RequestAnswer"] = "RequestAnswer"
    complaint_id: Id
    #: when the answer is due: the regulator's requirement (新乡 第十八条 按要求回复), as a day or as a period
    deadline: Day | None = Field(default=None, description="the day the answer is due (or give answer_days)")
    answer_days: int | None = Field(default=None, ge=1, le=365, description="days to answer, counted as the civil code counts a period (or give deadline)")


class RecordAnswer(Command):
    type: Literal["RecordAnswer"] = "RecordAnswer"
    complaint_id: Id
    summary: Text


class VerifyComplaint(Command):
    type: Literal["VerifyComplaint"] = "VerifyComplaint"
    complaint_id: Id
    verdict: Literal["true", "unfounded"]
    findings: Text = ""


class FileAppeal(Command):
    type: Literal["FileAppeal"] = "FileAppeal"
    appeal_id: Id
    provider_id: Id
    ground: Name = Field(description="the article of the rulebook allowing the appeal, e.g. 第十七条（二）")
    evidence_refs: RefList = Field(min_length=1, description="the events the appeal asks to void")
    matter: Text
    reasons: Text
    purpose: Text
    supporting_evidence: TextList = Field(default_factory=list)


class DecideAppeal(Command):
    type: Literal["DecideAppeal"] = "DecideAppeal"
    appeal_id: Id
    upheld: bool
    reasons: Text = ""


# --- rulebooks and the clock ---------------------------------------------------


class DeclareRulebookValidity(Command):
    type: Literal["DeclareRulebookValidity"] = "DeclareRulebookValidity"
    jurisdiction: Jurisdiction
    valid_from: Day | None
    valid_until: Day | None = None
    reference: Text = Field(description="the notice or decision that fixes the dates")


class SetRulebookParameters(Command):
    type: Literal["SetRulebookParameters"] = "SetRulebookParameters"
    jurisdiction: Jurisdiction
    params: dict[Key, Count | Number] = Field(max_length=MAX_MAPPING_ITEMS)
    reference: Text


class RecordPassedDeadlines(Command):
    """The scheduler, for one provider: records the deadlines of its rectification orders, and the
    answer deadlines of ``complaint_ids`` (complaints against it), that have passed by ``as_of``
    (default today). ``ledger deadlines`` sweeps the ledger and issues one per provider with something due."""

    type: Literal["RecordPassedDeadlines"] = "RecordPassedDeadlines"
    provider_id: Id
    as_of: Day | None = None
    complaint_ids: IdList = Field(default_factory=list, description="complaints against the provider whose answer deadline to check")


ALL_COMMANDS: tuple[type[Command], ...] = (
    SubmitApplication, OpenPublicNotice, RaiseObjection, ResolveObjection, ClosePublicNotice,
    AdmitProvider, RefuseAdmission, LapseApplication, RecordProfileChange, RecordScore,
    RecordEvaluation, RecordStarRating, RecordFinding, CompleteRectification, SetRectificationPeriod,
    RecordRectificationRefusal, WithdrawFromPool, WithholdFees, RegisterProject, RecordDiagnosis,
    SubmitFiling, DecideFiling, RecordMajorChange, StartImplementation, RecordAcceptance,
    RateSatisfaction, RecordPayment, FileComplaint, RequestAnswer, RecordAnswer, VerifyComplaint,
    FileAppeal, DecideAppeal, DeclareRulebookValidity, SetRulebookParameters, RecordPassedDeadlines,
)  # fmt: skip

AnyCommand = Annotated[Union[ALL_COMMANDS], Field(discriminator="type")]  # type: ignore[valid-type]
COMMAND_ADAPTER: TypeAdapter = TypeAdapter(AnyCommand, config=ConfigDict(defer_build=True))


def parse_command(data: dict | str | bytes) -> Command:
    """One command from a dict or JSON text naming its ``type``."""
    if isinstance(data, (str, bytes)):
        return COMMAND_ADAPTER.validate_json(data)
    return COMMAND_ADAPTER.validate_python(data)


def command_schemas() -> dict:
    """The JSON Schema of every command (``ledger schema``)."""
    return COMMAND_ADAPTER.json_schema()
