"""Project (试点企业改造项目): a pilot enterprise's transformation served by providers."""
from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from eventsourcing.domain import event

from ledger.aggregates.base import DomainError, LedgerAggregate, aggregate_id

ENTERPRISE_KINDS = ("专精特新", "专精特新“小巨人”", "单项冠军", "重点产业链企业", "特色产业集群企业", "中小企业")
RATINGS = ("满意", "基本满意", "不满意")
PAYMENT_KINDS = ("prepayment", "fee_paid", "fee_withheld", "prepayment_recovered")


class Project(LedgerAggregate):
    @staticmethod
    def create_id(project_id: str, **_: Any):
        return aggregate_id("project", project_id)

    @event("Registered")
    def __init__(
        self,
        project_id: str,
        jurisdiction: str,
        enterprise_id: str,
        enterprise_name: str,
        enterprise_kind: str,
        integrated_provider_id: str | None,
        product_provider_ids: list,
        effective_on: date,
    ) -> None:
        self.project_id = project_id
        self.registered_on = effective_on
        self.jurisdiction = jurisdiction
        self.enterprise_id = enterprise_id
        self.enterprise_name = enterprise_name
        self.enterprise_kind = enterprise_kind
        self.integrated_provider_id = integrated_provider_id
        self.product_provider_ids = list(product_provider_ids)
        self.stage = "registered"
        self.level_before: int | None = None
        self.level_after: int | None = None
        self.filing: str | None = None  # submitted / approved / rejected / refiling_required
        self.implementation_started_on: date | None = None
        self.acceptance: str | None = None  # passed / failed
        self.ratings: dict[str, dict] = {}  # provider id -> latest rating
        self.payments: list[dict] = []
        self.planned_cost: Decimal | None = None
        self.prepayment_recoverable: str | None = None
        self.withholding_lifted: str | None = None
        self.withholding_reviewed = False

    @property
    def begins(self) -> tuple[str, date]:
        return f"project {self.project_id} was registered", self.registered_on

    @property
    def provider_ids(self) -> list[str]:
        ids = [self.integrated_provider_id] if self.integrated_provider_id else []
        return ids + [p for p in self.product_provider_ids if p not in ids]

    @property
    def approved(self) -> bool:
        return self.filing == "approved"

    @event("Diagnosed")
    def diagnose(self, level_before: int, report: str, problems: list, scenarios: list, effective_on: date) -> None:
        self.level_before = level_before
        self.stage = "diagnosed"

    @event("FilingSubmitted")
    def submit_filing(self, plan: dict, effective_on: date) -> None:
        self.filing = "submitted"
        self.planned_cost = Decimal(plan["cost"]) if plan.get("cost") is not None else None

    @event("FilingDecided")
    def decide_filing(self, approved: bool, reasons: str, effective_on: date) -> None:
        self.filing = "approved" if approved else "rejected"

    @event("MajorChangeRecorded")
    def record_major_change(self, description: str, investment_increase: str | None, scenarios_removed: int, effective_on: date) -> None:
        # 新乡 第十二条（三）: a major change must be filed again before work goes on
        self.filing = "refiling_required"

    @event("ImplementationStarted")
    def start_implementation(self, before_approval: bool, effective_on: date) -> None:
        self.implementation_started_on = effective_on
        self.stage = "implementing"

    @event("AcceptanceDecided")
    def decide_acceptance(self, passed: bool, level_after: int | None, effective_on: date) -> None:
        self.acceptance = "passed" if passed else "failed"
        if level_after is not None:
            self.level_after = level_after
        self.stage = "accepted" if passed else "acceptance_failed"

    @event("SatisfactionRated")
    def rate_satisfaction(self, provider_id: str, rating: str, effective_on: date) -> None:
        self.ratings[provider_id] = {"rating": rating, "ref": self.next_ref(), "on": effective_on}

    @event("PaymentRecorded")
    def record_payment(self, kind: str, amount: str, provider_id: str | None, citation: dict | None, effective_on: date) -> None:
        self.payments.append({"kind": kind, "amount": amount, "provider_id": provider_id, "citation": citation, "on": effective_on})

    @event("PrepaymentRecoverable")
    def record_prepayment_recoverable(self, amount: str, provider_id: str | None, citation: dict | None, effective_on: date) -> None:
        self.prepayment_recoverable = amount

    @event("WithholdingReviewed")
    def review_withholding(self, lifted: bool, amount: str, prepayment_recoverable: str | None, provider_id: str, reason: str, citation: dict | None, effective_on: date) -> None:
        """唐山 第十四条 "未通过验收的，不予支付服务费用": the project passed at a later acceptance.
        ``lifted``: the fees withheld at the failed acceptance are payable again and the
        prepayment is no longer recoverable; else ``reason`` says why the withholding stays."""
        if lifted:
            self.withholding_lifted = amount
            self.prepayment_recoverable = None
        self.withholding_reviewed = True

    def paid(self, kind: str) -> Decimal:
        """The total of payments of one kind (prepayment, fee_paid, …)."""
        return sum((Decimal(p["amount"]) for p in self.payments if p["kind"] == kind), Decimal(0))

    def require_provider(self, provider_id: str) -> None:
        if provider_id not in self.provider_ids:
            raise DomainError(f"provider {provider_id} does not serve project {self.project_id}")
