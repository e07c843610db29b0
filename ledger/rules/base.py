"""The vocabulary of rule packs: citations, sanctions, facts, rules and packs.

A rule pack is data plus small pure functions. Every rule names the article it
applies, in the original Chinese, so that ``grep 第十三条`` finds it.

Counting words are kept exact (RULES.md):
``以上`` / ``及以上`` / ``达到`` / ``或以上`` are inclusive (``>=``: ``strict=False``),
``超过`` is strictly more than (``>``: ``strict=True``); ``家`` counts distinct
enterprises (``distinct_by="enterprise_id"``), ``次`` counts occurrences.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Annotated, Any, Protocol

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic_core import PydanticCustomError

from ledger.rules.calendar import Period, period

# --- sanctions -------------------------------------------------------------

WARNING = "warning"  # 警告 (with a rectification deadline in Xinxiang)
RECTIFICATION_ORDER = "rectification_order"  # 限期整改 (约谈 in Liuzhou)
REMOVAL = "removal"  # 不再列入资源池 (Tianjin)
CLEARANCE = "clearance"  # 清退 (province)
POOL_EXIT = "pool_exit"  # 退出服务商库 (Xinxiang 第十八条)
#: not a sanction: a provider's own exit, listed and announced where the text says so (天津 第十二条（八）)
VOLUNTARY_EXIT = "voluntary_exit"
DISQUALIFICATION = "disqualification"  # 取消服务商资格
BLACKLISTING = "blacklisting"  # 取消资格 + 黑名单 (Tangshan)
GRAY_LISTING = "gray_listing"  # 清退 + 灰名单 (Liuzhou)

#: sanctions that take a provider out of the pool, and the status each leaves
STATUS_AFTER_REMOVAL: Mapping[str, str] = {
    REMOVAL: "removed",
    CLEARANCE: "removed",
    POOL_EXIT: "removed",
    DISQUALIFICATION: "disqualified",
    BLACKLISTING: "blacklisted",
    GRAY_LISTING: "gray_listed",
}
#: sanctions that come with a deadline to rectify
WITH_DEADLINE = frozenset({WARNING, RECTIFICATION_ORDER})
SANCTIONS = frozenset({WARNING, RECTIFICATION_ORDER, *STATUS_AFTER_REMOVAL})


def is_removal(sanction: str) -> bool:
    return sanction in STATUS_AFTER_REMOVAL


# --- facts a provider's record counts ---------------------------------------

COMPLAINT_VERIFIED = "complaint_verified"  # a complaint/report verified as true
COMPLAINT_UNANSWERED = "complaint_unanswered"  # asked to answer a report, did not in time
#: a report answered by its deadline, entered after it had been recorded unanswered: the record contradicts that
COMPLAINT_ANSWERED_IN_TIME = "complaint_answered_in_time"
UNSATISFIED_RATING = "unsatisfied_rating"  # an enterprise rated the provider 不满意
IMPLEMENTED_BEFORE_FILING = "implemented_before_filing"
#: the filing was approved on or before the day implementation started, entered after the start had
#: been noted as before it: the record contradicts that IMPLEMENTED_BEFORE_FILING (新乡 第十五条（四）)
FILING_APPROVED_BY_START = "filing_approved_by_start"
BELOW_TARGET_LEVEL = "below_target_level"  # digital level after the project below target
ACCEPTANCE_FAILED = "acceptance_failed"
ACCEPTANCE_PASSED = "acceptance_passed"  # noted for a provider rated 不满意 before the acceptance
SCORE = "score"  # Tianjin yearly score and letter grade
EVALUATION = "evaluation"  # province yearly qualified / unqualified
STAR_RATING = "star_rating"  # Xinxiang stars
RECTIFICATION_OVERDUE = "rectification_overdue"
RECTIFICATION_REFUSED = "rectification_refused"
FINDING = "finding"  # a regulator's finding of fact citing an article


def ref_key(ref: str) -> tuple[str, int]:
    """Sort key of an event ref ``aggregate-uuid/version``: versions compare as numbers
    (a plain string sort puts ``…/10`` before ``…/9``)."""
    originator, _, version = ref.rpartition("/")
    return originator, int(version)


_NUMERALS = {"一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def chinese_number(text: str) -> int:
    """一 … 九十九 as an int (第十二条 → 12); arabic digits pass through."""
    if text.isdigit():
        return int(text)
    if "十" in text:
        tens, _, ones = text.partition("十")
        return (_NUMERALS.get(tens, 1) * 10) + _NUMERALS.get(ones, 0)
    return _NUMERALS.get(text, 0)


def article_order(article: str) -> tuple[int, ...]:
    """Sort key putting articles in the document's order: 第二条 < 第十条 < 第十二条（二） < 第十二条（十）."""
    import re

    return tuple(chinese_number(n) for n in re.findall(r"[一二三四五六七八九十]+|\d+", article))


@dataclass(frozen=True)
class Citation:
    short: str  # 天津 / 新乡 / 省指南 / 唐山 / 柳州
    article: str  # 第十三条（二）
    text: str  # the clause in the original Chinese
    document: str = ""

    @property
    def label(self) -> str:
        return f"{self.short} {self.article}"

    def as_dict(self) -> dict[str, str]:
        return {"short": self.short, "article": self.article, "text": self.text, "document": self.document}


@dataclass(frozen=True)
class Item:
    """One countable thing in a provider's record: a live fact or an active sanction."""

    ref: str
    kind: str
    effective_on: date
    enterprise_id: str | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


class View(Protocol):
    """What rules may read of a provider: only live evidence (nothing voided or rescinded)."""

    def facts(self, kind: str) -> list[Item]: ...

    def sanctions(self, kind: str) -> list[Item]: ...


@dataclass(frozen=True)
class Decision:
    """A consequence a rule derives, before it is recorded."""

    rule: Rule
    key: str
    evidence: tuple[str, ...]
    condition_on: date  # the day the rule's condition became true
    params: Mapping[str, Any]


Select = Callable[[View], list[Item]]


@dataclass(frozen=True)
class Rule:
    """Base of counted rules: a sanction attached to an article."""

    id: str
    citation: Citation
    sanction: str
    select: Select
    consequences: tuple[str, ...] = ()
    deadline_param: str | None = None  # pack parameter giving the days to rectify

    def decisions(self, view: View, params: BaseModel, excused: Iterable[str] = ()) -> list[Decision]:
        raise NotImplementedError

    def still_holds(self, view: View, params: BaseModel, cited: Iterable[str]) -> bool:
        """Whether the evidence a recorded sanction cites, where still live, still fires the rule."""
        raise NotImplementedError

    def _live(self, view: View, excused: Iterable[str] = ()) -> list[Item]:
        skip = set(excused)
        return sorted((i for i in self.select(view) if i.ref not in skip), key=lambda i: (i.effective_on, ref_key(i.ref)))


@dataclass(frozen=True)
class CountRule(Rule):
    """Fires once when the count of selected items reaches the threshold.

    ``param`` names the pack parameter holding the document's number N; with
    ``strict`` the rule fires when the count is > N (超过), else when >= N.
    ``distinct_by`` counts distinct values of an item attribute (家) instead of
    occurrences (次).
    """

    param: str = ""
    strict: bool = False
    distinct_by: str | None = None

    def threshold(self, params: BaseModel) -> int:
        n = int(getattr(params, self.param)) if self.param else 1
        return n + 1 if self.strict else n

    def _fire(self, items: list[Item], needed: int) -> tuple[list[Item], date] | None:
        seen: set[Any] = set()
        counted: list[Item] = []
        for item in items:
            counted.append(item)
            seen.add(getattr(item, self.distinct_by) if self.distinct_by else item.ref)
            if len(seen) >= needed:
                return counted, item.effective_on
        return None

    def decisions(self, view, params, excused=()):
        fired = self._fire(self._live(view, excused), self.threshold(params))
        if fired is None:
            return []
        counted, on = fired
        used = {self.param: getattr(params, self.param)} if self.param else {}
        return [Decision(self, self.id, tuple(i.ref for i in counted), on, used)]

    def still_holds(self, view, params, cited):
        cited = set(cited)
        live = [i for i in self._live(view) if i.ref in cited]
        return self._fire(live, self.threshold(params)) is not None


@dataclass(frozen=True)
class PerFactRule(Rule):
    """Fires once for every selected item (e.g. each 不满意 after acceptance)."""

    def decisions(self, view, params, excused=()):
        return [Decision(self, f"{self.id}@{i.ref}", (i.ref,), i.effective_on, {}) for i in self._live(view, excused)]

    def still_holds(self, view, params, cited):
        live = {i.ref for i in self._live(view)}
        return all(ref in live for ref in cited)


@dataclass(frozen=True)
class ConsecutiveYearsRule(Rule):
    """Fires when selected yearly items cover ``param`` consecutive years (连续两年)."""

    param: str = ""

    def _fire(self, items: list[Item], needed: int) -> tuple[list[Item], date] | None:
        by_year = {int(i.data["year"]): i for i in items}
        for year in sorted(by_year):
            run = [by_year.get(year + k) for k in range(needed)]
            if all(run):
                chosen = [i for i in run if i is not None]
                return chosen, max(i.effective_on for i in chosen)
        return None

    def decisions(self, view, params, excused=()):
        needed = int(getattr(params, self.param))
        fired = self._fire(self._live(view, excused), needed)
        if fired is None:
            return []
        chosen, on = fired
        return [Decision(self, self.id, tuple(i.ref for i in chosen), on, {self.param: needed})]

    def still_holds(self, view, params, cited):
        cited = set(cited)
        live = [i for i in self._live(view) if i.ref in cited]
        return self._fire(live, int(getattr(params, self.param))) is not None


# --- what a regulator's finding attaches ------------------------------------


@dataclass(frozen=True)
class FindingArticle:
    """An article a regulator cites in a finding of fact, and the sanction it attaches (a warning or
    an order to rectify 限期: within the period the regulator's finding sets, ``deadline_days``)."""

    citation: Citation
    sanction: str
    consequences: tuple[str, ...] = ()


@dataclass(frozen=True)
class AppealGround:
    """A ground of appeal (申诉) and what evidence or sanctions it may ask to void."""

    citation: Citation
    #: fact kinds or sanction kinds the appeal may name; "*" means anything
    may_void: tuple[str, ...]


def within(low: float | None = None, high: float | None = None, why: str = "") -> AfterValidator:
    """A parameter's bounds, refused in one line naming them and why (the article whose floor or
    cap it is): ``Annotated[int, within(7, why="天津 第十条 公示期不少于7天")]``."""

    def check(value: Any) -> Any:
        if (low is not None and value < low) or (high is not None and value > high):
            bounds = f"at least {low}" if high is None else f"at most {high}" if low is None else f"from {low} to {high}"
            raise PydanticCustomError("out_of_bounds", "must be {bounds}{why}", {"bounds": bounds, "why": f" ({why})" if why else ""})
        return value

    return AfterValidator(check)


#: a counted threshold (N 次, N 家, N 年): at least 1
Count = Annotated[int, within(1, why="a count")]
#: a period in days: at least 1
Days = Annotated[int, within(1, why="a period in days")]
#: a digital level of 《中小企业数字化水平评测指标（2024年版）》: 一级 to 四级
Level = Annotated[int, within(1, 4, why="评测指标 levels 一级 to 四级")]


class PackParameters(BaseModel):
    """Thresholds and deadlines: the documents' values are the defaults. Each is bounded (a count
    and a period at least 1, a floor or cap the text states never crossed): a change outside its
    bounds is refused naming ``params.<field>`` (:func:`ledger.commands.handlers.set_rulebook_parameters`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    #: 民法典 第二百零三条: a period whose last day is a day off ends on the next working day
    #: (:mod:`ledger.rules.calendar`); a regulator may switch it off
    statutory_holidays: bool = True

    def period(self, start: date, days: int) -> Period:
        """A period of ``days`` days running from ``start``, counted as the civil code counts it."""
        return period(start, days, statutory_holidays=self.statutory_holidays)


@dataclass(frozen=True)
class FeeArticle:
    """The article under which fees go unpaid or are deducted, and what it follows: a removal under
    one of ``after_removal_under`` (article prefixes: 新乡 第十六条 "取消其服务商资格，视情况不予支付或扣除
    部分服务费用"), and with ``failed_acceptance`` a project that failed acceptance too (唐山 第十四条
    "服务商被清退或未通过验收的，不予支付服务费用"), which the ledger records at the acceptance itself."""

    citation: Citation
    after_removal_under: tuple[str, ...]
    failed_acceptance: bool = False
    #: the removal itself leaves the fees of the provider's projects not yet accepted unpaid (唐山 第十四条
    #: "服务商被清退…不予支付服务费用，试点企业有权追回该项目预付款项": ``Project.fees_after_clearance``), where
    #: otherwise the regulator decides (新乡 第十六条 "视情况", ``WithholdFees``)
    on_removal: bool = False

    def follows(self, article: str) -> bool:
        """Whether a removal under ``article`` is one this article's withholding follows."""
        return article.startswith(self.after_removal_under)


@dataclass(frozen=True)
class RulePack:
    jurisdiction: str
    short: str
    document: str
    version: str
    valid_from: date | None
    valid_until: date | None
    validity: Citation
    params: PackParameters
    provider_kinds: tuple[str, ...]
    rules: tuple[Rule, ...]
    findings: Mapping[str, FindingArticle]
    appeal_grounds: Mapping[str, AppealGround]
    notice_citation: Citation | None = None
    voluntary_exit: Citation | None = None
    #: a voluntary exit is publicly announced and listed with the removals (天津 第十二条 "不再列入资源池，
    #: 并向社会公示" heads its item （八） "主动退出资源池的")
    voluntary_exit_announced: bool = False
    #: an entity may apply for several directions (kinds) of the pool at once, one application each
    #: (天津 第九条 "可根据自身能力和条件申报资源池的多个方向"); elsewhere one application at a time
    several_directions: Citation | None = None
    #: where the kinds are introduced as examples ("主要包括…等", "主要包含"): ``provider_kinds``
    #: are the known ones, suggested; another kind is accepted and recorded as given
    open_kinds: Citation | None = None
    #: what an appeal must state and carry (新乡 第十七条 写明申诉的事项、理由和目的，并提供…佐证材料)
    appeal_statement: Citation | None = None
    #: reports must be real-name with contact details and evidence (新乡 第十八条)
    real_name_reports: Citation | None = None
    grade: Callable[[float, Any], str] | None = None  # (score, params) -> letter
    requires_notice: bool = False
    #: the article that lets a provider's fees go unpaid or be deducted (新乡 第十六条, 唐山 第十四条);
    #: None where the pack names no such thing (天津, 省指南, 柳州): no fees are withheld there
    fees: FeeArticle | None = None
    #: the digital level a project must reach, where falling short is a counted fact
    target_level_citation: Citation | None = None
    #: the filing review implementation must have passed (新乡 第十二条（二）（三）), where starting work
    #: without it is a counted fact (IMPLEMENTED_BEFORE_FILING); None where the text names no filing
    filing_review: Citation | None = None
    #: (kind, eligibility facts, params) -> problems, each citing its article
    eligibility: Callable[[str, Any, Any], list[str]] = lambda kind, facts, params: []
    #: the regulator's parameter changes (``SetRulebookParameters``), by the day each takes effect:
    #: (that day, the values it sets); ``params`` has every one applied, :meth:`as_of` those in force
    #: on a day. None of them reaches back to what happened before its day
    param_changes: tuple[tuple[date, Mapping[str, Any]], ...] = ()
    #: the parameters before any change: the document's values
    document_params: PackParameters | None = None

    @property
    def min_notice_days(self) -> int | None:
        """Days a public notice must last (counted inclusively), None when not required."""
        return getattr(self.params, "min_notice_days", None)

    @property
    def max_rectification_days(self) -> int | None:
        """Longest rectification deadline normally allowed (一般不超过30日), None when unlimited."""
        return getattr(self.params, "max_rectification_days", None)

    def in_force(self, on: date) -> bool:
        """Whether the pack may derive a sanction for a condition that became true ``on``."""
        if self.valid_from is None:  # a draft whose start date the regulator has not set
            return False
        if on < self.valid_from:
            return False
        return self.valid_until is None or on <= self.valid_until

    def with_validity(self, valid_from: date | None, valid_until: date | None) -> RulePack:
        return replace(self, valid_from=valid_from, valid_until=valid_until)

    def with_param_changes(self, changes: Iterable[tuple[date, Mapping[str, Any]]]) -> RulePack:
        """The pack with the regulator's parameter changes, each in force from its day on (a change
        dated earlier than another but recorded after it is ordered by its day)."""
        ordered = tuple(sorted(changes, key=lambda change: change[0]))
        document = self.document_params or self.params
        params = document
        for _, values in ordered:
            params = params.model_copy(update=dict(values))
        return replace(self, params=params, param_changes=ordered, document_params=document)

    def as_of(self, day: date) -> RulePack:
        """The pack with the parameters in force on ``day``: the document's values, changed by the
        regulator's changes that took effect by then (dates come from the facts: a deadline, a grade,
        a notice's length follow the parameters of the day they concern, not of the day entered)."""
        if not self.param_changes or self.document_params is None:
            return self
        params = self.document_params
        for since, values in self.param_changes:
            if since <= day:
                params = params.model_copy(update=dict(values))
        return replace(self, params=params)

    def changes_param(self, name: str) -> bool:
        """Whether the regulator ever changed parameter ``name`` (to another value than the document's)."""
        document = self.document_params
        return document is not None and any(name in values and values[name] != getattr(document, name, None) for _, values in self.param_changes)

    def rule(self, rule_id: str) -> Rule:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)

    def describe(self) -> dict[str, Any]:
        return {
            "jurisdiction": self.jurisdiction,
            "document": self.document,
            "version": self.version,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "validity": self.validity.label,
            "params": self.params.model_dump(),
            "provider_kinds": list(self.provider_kinds),
            "provider_kinds_open": self.open_kinds.label if self.open_kinds else None,
            "rules": [
                {"id": r.id, "article": r.citation.label, "sanction": r.sanction, "text": r.citation.text}
                for r in self.rules
            ],
            "findings": {a: f.sanction for a, f in self.findings.items()},
            "appeal_grounds": {a: g.citation.text for a, g in self.appeal_grounds.items()},
        }


def facts(kind: str, where: Callable[[Item], bool] | None = None) -> Select:
    return lambda view: [i for i in view.facts(kind) if where is None or where(i)]


def facts_of(*kinds: str) -> Select:
    return lambda view: [i for kind in kinds for i in view.facts(kind)]


def sanctions(kind: str) -> Select:
    return lambda view: view.sanctions(kind)


def cite(short: str, document: str) -> Callable[[str, str], Citation]:
    """A citation factory for one document."""

    def make(article: str, text: str) -> Citation:
        return Citation(short=short, article=article, text=text, document=document)

    return make
