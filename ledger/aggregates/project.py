"""Project (试点企业改造项目): a pilot enterprise's transformation served by providers."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from eventsourcing.domain import event

from ledger.aggregates.base import DomainError, LedgerAggregate, aggregate_id
from ledger.rules.base import is_removal

if TYPE_CHECKING:
    from ledger.aggregates.provider import Provider
    from ledger.rules.base import RulePack

ENTERPRISE_KINDS = ("专精特新", "专精特新“小巨人”", "单项冠军", "重点产业链企业", "特色产业集群企业", "中小企业")
RATINGS = ("满意", "基本满意", "不满意")
PAYMENT_KINDS = ("prepayment", "fee_paid", "fee_withheld", "prepayment_recovered")
#: what goes unpaid under 唐山 第十四条 "不予支付服务费用" where the ledger knows no sum (no planned cost)
ALL_FEES = "all service fees not yet paid"


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
        self.approved_on: date | None = None  # the day the (latest) filing was approved
        self.acceptance: str | None = None  # passed / failed
        self.passed_on: date | None = None  # the day the project passed acceptance
        self.failed_on: date | None = None  # the day of its latest failed acceptance
        self.fees_not_payable: list[dict] = []  # 唐山 第十四条 where no sum is known (FeesNotPayable)
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
        self.approved_on = effective_on if approved else None

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
        if passed:
            self.passed_on = effective_on
        else:
            self.failed_on = effective_on
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

    @event("FeesNotPayable")
    def record_fees_not_payable(self, grounds: str, fees: str, amount: str | None, provider_id: str, citation: dict, effective_on: date) -> None:
        """唐山 第十四条 "未通过验收的，不予支付服务费用" on a project whose fees the ledger has no sum for
        (no planned cost: 唐山 has no filing step): ``fees`` names them (:data:`ALL_FEES`), ``amount`` is None."""
        self.fees_not_payable.append({"grounds": grounds, "fees": fees, "amount": amount, "provider_id": provider_id, "citation": citation, "on": effective_on})

    @event("WithholdingReviewed")
    def review_withholding(self, lifted: bool, amount: str, prepayment_recoverable: str | None, provider_id: str, reason: str, citation: dict | None, effective_on: date) -> None:
        """唐山 第十四条 "未通过验收的，不予支付服务费用": the project passed at a later acceptance.
        ``lifted``: the fees withheld at the failed acceptance are payable again and the
        prepayment is no longer recoverable; else ``reason`` says why the withholding stays."""
        if lifted:
            self.withholding_lifted = amount
            self.prepayment_recoverable = None
        self.withholding_reviewed = True

    def approved_by(self, day: date) -> bool:
        """Whether the filing had been approved (and not since changed: 新乡 第十二条（三） 重新提交…备案审核) by ``day``."""
        return self.filing == "approved" and self.approved_on is not None and self.approved_on <= day

    def fees_after_clearance(self, providers: Mapping[str, Provider], pack: RulePack) -> list[dict]:
        """唐山 第十四条 "服务商被清退…不予支付服务费用，试点企业有权追回该项目预付款项", read from the record
        of the project's providers (their removals under the article the pack's fees follow, 第十三条):
        for each, if the project had not passed acceptance by the day the removal took effect, its
        fees are not to be paid from that day and the prepayment made for it is recoverable. Computed,
        not recorded, so it follows the facts whatever order they were entered in: a project entered
        late, a pass dated before the clearance (then paid), a clearance rescinded on appeal (then
        ``rescinded_on`` is the day of the decision). Only where the removal itself withholds the fees
        (``FeeArticle.on_removal``): 新乡 第十六条 "视情况" is the regulator's decision (WithholdFees)."""
        fees = pack.fees
        if fees is None or not fees.on_removal:
            return []
        found = []
        for provider_id in self.provider_ids:
            provider = providers.get(provider_id)
            if provider is None:
                continue
            for removal in sorted(provider.sanctions.values(), key=lambda s: s["effective_on"]):
                if not (is_removal(removal["sanction"]) and fees.follows(removal["citation"]["article"])):
                    continue
                on = max(removal["effective_on"], self.registered_on)
                if self.passed_on is not None and self.passed_on <= on:
                    continue  # accepted by then: those fees were earned before it was cleared
                if removal["rescinded_on"] is not None and removal["rescinded_on"] <= on:
                    continue  # rescinded from its own day (as if never), or before the project began
                if not pack.in_force(removal["effective_on"]):
                    continue
                found.append({
                    "provider_id": provider_id,
                    "grounds": "被清退",
                    "removal_ref": removal["ref"],
                    "removal_article": removal["citation"]["article"],
                    "effective_on": on,
                    "rescinded_on": removal["rescinded_on"],
                    "fees": ALL_FEES,
                    "amount": self._unpaid(provider_id),
                    "prepayment_recoverable": self._prepaid(provider_id),
                    "citation": fees.citation.as_dict(),
                })  # fmt: skip
        return found

    def _unpaid(self, provider_id: str) -> str | None:
        """The planned cost not yet paid, where it is the provider's alone (the only provider of the
        project); None where the ledger knows no such sum."""
        if self.planned_cost is None or self.provider_ids != [provider_id]:
            return None
        return str(max(self.planned_cost - self.paid("fee_paid") - self.paid("prepayment"), Decimal(0)))

    def _prepaid(self, provider_id: str) -> str | None:
        """The prepayments made to ``provider_id`` on this project (or unattributed, when it leads it),
        less what was recovered; None when nothing is left to recover."""
        lead = self.provider_ids[:1] == [provider_id]

        def total(kind: str) -> Decimal:
            return sum((Decimal(p["amount"]) for p in self.payments
                        if p["kind"] == kind and (p["provider_id"] == provider_id or (p["provider_id"] is None and lead))), Decimal(0))  # fmt: skip

        left = total("prepayment") - total("prepayment_recovered")
        return str(left) if left > 0 else None

    def paid(self, kind: str) -> Decimal:
        """The total of payments of one kind (prepayment, fee_paid, …)."""
        return sum((Decimal(p["amount"]) for p in self.payments if p["kind"] == kind), Decimal(0))

    def require_provider(self, provider_id: str) -> None:
        if provider_id not in self.provider_ids:
            raise DomainError(f"provider {provider_id} does not serve project {self.project_id}")
