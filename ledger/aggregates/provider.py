"""Provider (服务商): one provider's membership of one jurisdiction's pool.

Everything the rules count about a provider is in this aggregate's own stream:
its own facts (scores, evaluations, findings, refusals, overdue deadlines) and
*facts noted* from projects and complaints (a 不满意 rating, a verified
complaint), each pointing at the event it came from. Sanctions cite the refs of
the facts and sanctions behind them, so the chain of causation can be walked.
Nothing is ever edited: an upheld appeal records ``EvidenceVoided``, and what no
longer holds is rescinded by ``SanctionRescinded`` and ``Reinstated``.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from eventsourcing.domain import event

from ledger.aggregates.base import DomainError, LedgerAggregate, aggregate_id
from ledger.rules.base import (
    COMPLAINT_ANSWERED_IN_TIME,
    COMPLAINT_UNANSWERED,
    EVALUATION,
    FINDING,
    RECTIFICATION_OVERDUE,
    RECTIFICATION_REFUSED,
    SCORE,
    STAR_RATING,
    STATUS_AFTER_REMOVAL,
    WITH_DEADLINE,
    Item,
    ref_key,
)

PRE_POOL = ("applied", "under_notice")
IN_POOL = ("in_pool", "reinstated")
REMOVED_STATUSES = frozenset(STATUS_AFTER_REMOVAL.values())
OUT_OF_POOL = ("refused", "lapsed", "exited", *sorted(REMOVED_STATUSES))
#: every standing the registry shows: a status, or warned / rectifying for a member with an open order
STANDINGS = ("applied", "under_notice", *IN_POOL, "warned", "rectifying", *OUT_OF_POOL)
PROFILE_FIELDS = ("name", "address", "legal_representative", "business_scope", "registered_capital")


def days_late(changed_on: date, reported_on: date) -> int:
    """Days between a profile change and its report: more than 0 is a late report."""
    return (reported_on - changed_on).days


class Provider(LedgerAggregate):
    @staticmethod
    def create_id(provider_id: str, **_: Any):
        return aggregate_id("provider", provider_id)

    @event("Applied")
    def __init__(
        self,
        provider_id: str,
        jurisdiction: str,
        name: str,
        kind: str,
        profile: dict,
        eligibility: dict,
        effective_on: date,
    ) -> None:
        self.provider_id = provider_id
        self.jurisdiction = jurisdiction
        self.name = name
        self.kind = kind
        self.profile = dict(profile, name=name)
        self.eligibility = eligibility
        self.status = "applied"
        self.status_since = effective_on
        self.applied_on = effective_on
        self.admitted_on: date | None = None
        self.notice: dict | None = None
        self.facts: dict[str, dict] = {}
        self.sanctions: dict[str, dict] = {}
        self.voided: dict[str, str] = {}  # ref -> appeal ref
        self.exited_on: date | None = None  # its own exit (states snapshotted before it was kept: exit_day)
        self.excused: dict[str, list[str]] = {}  # rule id -> evidence refs it may not use again
        #: the profile changes reported late (报告逾期): what findings and standing() cite; changes
        #: reported on time are not kept here (they are rows of the read model ``rm_profile_changes``),
        #: so a provider's state does not grow with its on-time reports
        self.late_profile_reports: list[dict] = []
        self.fees_withheld: list[dict] = []

    # --- state helpers ------------------------------------------------------

    @property
    def credit_code(self) -> str | None:
        """统一社会信用代码: recorded with the application's particulars (none in ledgers from before 2026-12)."""
        return self.profile.get("credit_code")

    @property
    def begins(self) -> tuple[str, date]:
        """No fact about a provider takes effect before its application."""
        return f"provider {self.provider_id} applied", self.applied_on

    @property
    def joined_pool(self) -> tuple[str, date | None]:
        """Nothing that concerns a provider of the pool (a score, a finding, a project it serves,
        a withdrawal) takes effect before it was admitted: a sanction cannot remove a provider from
        a pool it had not yet joined."""
        return f"provider {self.provider_id} was admitted", self.admitted_on

    def out_of_pool_on(self, day: date) -> dict | None:
        """The removal that kept the provider out of the pool on ``day`` (from the day it took effect
        until it was rescinded), if one did; one rescinded from its own day never did."""
        for s in self.sanctions.values():
            if s["sanction"] in STATUS_AFTER_REMOVAL and s["effective_on"] <= day:
                until = s["rescinded_on"]
                if until is None or day < until:
                    return s
        return None

    @property
    def in_pool(self) -> bool:
        return self.status in IN_POOL

    def in_pool_on(self, day: date) -> bool:
        """Whether the provider was a member of the pool on ``day``: admitted by then, and neither out of
        it by a removal nor gone by its own exit (:meth:`why_out_of_pool_on`). What happened on such a
        day counts as it would have had it been recorded then, whatever was recorded since."""
        if self.admitted_on is None or day < self.admitted_on:
            return False
        return self.why_out_of_pool_on(day) is None

    def why_out_of_pool_on(self, day: date) -> str | None:
        """Why a provider admitted by ``day`` was not in the pool that day, in a refusal's words: it had
        left of its own accord, or a removal kept it out (:meth:`out_of_pool_on`); None if it was in."""
        exited = self.exit_day
        if exited is not None and day >= exited:
            return f"had left the pool (exited on {exited})"
        removal = self.out_of_pool_on(day)
        if removal is None:
            return None
        until = f"until {removal['rescinded_on']}" if removal["rescinded_on"] is not None else "since"
        return f"was out of the pool that day ({removal['sanction']} {removal['ref']} from {removal['effective_on']}, {until})"

    def _set_status(self, status: str, since: date) -> None:
        self.status = status
        self.status_since = since

    def live_facts(self, kind: str) -> list[Item]:
        return self.live_facts_of((kind,))[kind]

    def live_facts_of(self, kinds: Iterable[str]) -> dict[str, list[Item]]:
        """:meth:`live_facts` of each of ``kinds``, in one pass over the facts."""
        found: dict[str, list[Item]] = {kind: [] for kind in kinds}
        superseded = self._superseded() if SCORE in found or EVALUATION in found else set()
        answered = self._answered_in_time() if COMPLAINT_UNANSWERED in found else {}
        for f in self.facts.values():
            items = found.get(f["kind"])
            if items is not None and self._not_counted(f, superseded, answered) is None:
                items.append(Item(f["ref"], f["kind"], f["effective_on"], f.get("enterprise_id"), f.get("data", {})))
        return found

    def why_not_counted(self, ref: str) -> str | None:
        """Why an item a sanction cites (a fact, or a sanction) no longer counts, in a rescission's
        words; None while it does."""
        fact = self.facts.get(ref)
        if fact is not None:
            return self._not_counted(fact, self._superseded(), self._answered_in_time())
        if ref in self.voided:
            return f"{ref} was voided by appeal {self.voided[ref]}"
        sanction = self.sanctions.get(ref)
        return f"{ref} was rescinded on {sanction['rescinded_on']}" if sanction and sanction["rescinded_on"] is not None else None

    def _not_counted(self, fact: dict, superseded: set[str], answered: dict[str, str]) -> str | None:
        """Why a fact counts toward nothing, None if it counts: voided by an appeal; about a sanction
        since rescinded (an overdue, a refusal); lateness the record now contradicts — an order recorded
        overdue whose completion, entered afterwards, is dated by its deadline, a report recorded
        unanswered whose answer, entered afterwards, is dated by its deadline (柳州 第十四条（四）
        "未按时完成整改的", 新乡 第十六条（四） "在规定期限内仍未按照要求完成整改的", 第十八条 "未按要求回复");
        or a yearly verdict a later one of its year replaced (``superseded``). It stays on record."""
        ref, kind = fact["ref"], fact["kind"]
        if ref in self.voided:
            return f"{ref} was voided by appeal {self.voided[ref]}"
        source = fact.get("source_ref")
        about = self.sanctions.get(source) if source else None  # (_rescinded, inlined: once a fact on the hot path)
        if about is not None and about["rescinded_on"] is not None:
            return f"{ref} concerns {source}, rescinded"
        if kind == RECTIFICATION_OVERDUE:
            order = self.sanctions.get(source or "")
            if order is not None and order["completed_on"] is not None and order["deadline"] is not None and order["completed_on"] <= order["deadline"]:
                return f"{ref}: {source} was completed on {order['completed_on']}, by its deadline {order['deadline']}"
            if order is not None and order["refused_on"] is not None and order["deadline"] is not None and order["refused_on"] <= order["deadline"]:
                # refused within its period (新乡 第十六条（二） 受到警告拒不进行整改, 唐山 第十三条（一） 限期拒不进行整改):
                # the refusal decides, from its own day, not a lateness recorded before it was entered
                return f"{ref}: {source} was refused on {order['refused_on']}, by its deadline {order['deadline']}"
        elif kind == COMPLAINT_UNANSWERED and fact.get("data", {}).get("complaint_id") in answered:
            complaint_id = fact["data"]["complaint_id"]
            return f"{ref}: complaint {complaint_id} was {answered[complaint_id]} by its deadline"
        if ref in superseded:
            return f"{ref}: a later verdict of {fact['data'].get('year')} replaced it"
        return None

    def _superseded(self) -> set[str]:
        """Yearly scores and evaluations (天津 第十一条 每年…评价评级, 省指南 四（三） 连续两年评价为不合格)
        that a later one of the same year replaced: a year has one verdict, the latest (by its date,
        then as recorded); the earlier stays on record and counts toward nothing."""
        latest: dict[tuple[str, int], dict] = {}
        for f in self.facts.values():
            if f["kind"] in (SCORE, EVALUATION):
                key = (f["kind"], int(f["data"]["year"]))
                held = latest.get(key)
                if held is None or (f["effective_on"], ref_key(f["ref"])) >= (held["effective_on"], ref_key(held["ref"])):
                    latest[key] = f
        winners = {f["ref"] for f in latest.values()}
        return {f["ref"] for f in self.facts.values() if f["kind"] in (SCORE, EVALUATION) and f["ref"] not in winners}

    def _answered_in_time(self) -> dict[str, str]:
        """The reports whose answer, entered after they were recorded unanswered, is dated by the deadline —
        or whose verification concluded by then (a verdict dated by the deadline: nothing was left to
        answer) — each with what happened ("answered", "verified on …")."""
        return {
            f["data"].get("complaint_id"): (f"verified on {f['data']['verified_on']}" if f["data"].get("verified_on") else "answered")
            for f in self.facts.values()
            if f["kind"] == COMPLAINT_ANSWERED_IN_TIME
        }

    def _rescinded(self, ref: str | None) -> bool:
        """A fact about a sanction (overdue, refused) stops counting once the sanction is rescinded."""
        sanction = self.sanctions.get(ref) if ref else None
        return sanction is not None and sanction["rescinded_on"] is not None

    def active_sanctions(self, kind: str | None = None) -> list[dict]:
        return [
            s
            for s in self.sanctions.values()
            if s["rescinded_on"] is None and (kind is None or s["sanction"] == kind)
        ]

    def sanction_items(self, kind: str) -> list[Item]:
        return [
            Item(s["ref"], s["sanction"], s["effective_on"], None, {"rule_id": s["rule_id"], "article": s["citation"]["article"]})
            for s in self.active_sanctions(kind)
        ]

    def open_rectifications(self) -> list[dict]:
        """Warnings and orders that are neither completed nor rescinded (with their deadline, or one
        derived while no period was set, awaiting the regulator's)."""
        return [s for s in self.active_sanctions() if s["sanction"] in WITH_DEADLINE and s["completed_on"] is None]

    def rectifications_due(self, as_of: date) -> list[dict]:
        """Warnings and orders whose deadline passed before ``as_of`` and are not yet recorded overdue,
        nor refused by their deadline, oldest deadline first. One refused only after its deadline was
        overdue first (from the day after it), whenever the refusal was entered: 新乡 第十六条（四）
        "在规定期限内仍未按照要求完成整改的" was met before 第十六条（二） "拒不进行整改"."""
        due = [
            s
            for s in self.active_sanctions()
            if s["sanction"] in WITH_DEADLINE and s["deadline"] is not None and s["deadline"] < as_of
            and s["overdue_on"] is None and (s["refused_on"] is None or s["refused_on"] > s["deadline"])
            # still open, or completed only after its deadline (柳州 第十四条（四）未按时完成整改的)
            and (s["completed_on"] is None or s["completed_on"] > s["deadline"])
            # an order of a provider out of the pool is moot, unless its deadline passed while it was in
            # the pool (a removal recorded before the sweep, dated after the deadline, does not undo that)
            and (self.in_pool or self.in_pool_on(s["deadline"] + timedelta(days=1)))
        ]  # fmt: skip
        return sorted(due, key=lambda s: s["deadline"])

    def active_removals(self) -> list[dict]:
        return [s for s in self.active_sanctions() if s["sanction"] in STATUS_AFTER_REMOVAL]

    def find_fact_by_source(self, source_ref: str) -> dict | None:
        for fact in self.facts.values():
            if fact.get("source_ref") == source_ref:
                return fact
        return None

    def _add_fact(self, kind: str, effective_on: date, enterprise_id: str | None = None, source_ref: str | None = None, **data: Any) -> str:
        ref = self.next_ref()
        self.facts[ref] = {
            "ref": ref,
            "kind": kind,
            "effective_on": effective_on,
            "enterprise_id": enterprise_id,
            "source_ref": source_ref,
            "data": data,
        }
        return ref

    def require_in_pool(self, what: str) -> None:
        if not self.in_pool:
            raise DomainError(f"provider {self.provider_id} is {self.status}, not in the pool: cannot {what}")

    # --- selection and admission -------------------------------------------

    @event("PublicNoticeOpened")
    def open_notice(self, effective_on: date) -> None:
        self.notice = {"opened_on": effective_on, "last_day": None, "objections": {}}
        self._set_status("under_notice", effective_on)

    @event("ObjectionRaised")
    def raise_objection(self, objection_id: str, raised_by: str, grounds: str, effective_on: date) -> None:
        assert self.notice is not None
        self.notice["objections"][objection_id] = {"raised_on": effective_on, "raised_by": raised_by, "grounds": grounds, "stands": None}

    @event("ObjectionResolved")
    def resolve_objection(self, objection_id: str, stands: bool, reasons: str, effective_on: date) -> None:
        assert self.notice is not None
        self.notice["objections"][objection_id]["stands"] = stands

    @event("PublicNoticeClosed")
    def close_notice(self, last_day: date, days: int, effective_on: date) -> None:
        assert self.notice is not None
        self.notice["last_day"] = last_day
        self.notice["days"] = days

    def unresolved_or_standing_objections(self) -> list[str]:
        if not self.notice:
            return []
        return [oid for oid, o in self.notice["objections"].items() if o["stands"] is not False]

    @event("Admitted")
    def admit(self, citation: dict | None, effective_on: date) -> None:
        self.admitted_on = effective_on
        self._set_status("in_pool", effective_on)

    @event("AdmissionRefused")
    def refuse_admission(self, reason: str, citation: dict | None, effective_on: date) -> None:
        self._set_status("refused", effective_on)

    @event("ApplicationLapsed")
    def lapse(self, reason: str, effective_on: date) -> None:
        self._set_status("lapsed", effective_on)

    # --- profile ------------------------------------------------------------

    @event("ProfileChanged")
    def change_profile(self, field: str, old: Any, new: Any, changed_on: date, reported_on: date, major: bool, effective_on: date) -> None:
        self.profile[field] = new
        if field == "name":
            self.name = new
        late = days_late(changed_on, reported_on)
        if late > 0:
            self.late_profile_reports.append(
                {"ref": self.next_ref(), "field": field, "old": old, "new": new, "changed_on": changed_on, "reported_on": reported_on, "major": major, "days_late": late}
            )

    # --- grades ---------------------------------------------------------------

    @event("ScoreRecorded")
    def record_score(self, year: int, score: float, grade: str, pack_version: str, effective_on: date) -> None:
        self._add_fact(SCORE, effective_on, year=year, score=score, grade=grade, pack_version=pack_version)

    @event("EvaluationRecorded")
    def record_evaluation(self, year: int, qualified: bool, effective_on: date) -> None:
        self._add_fact(EVALUATION, effective_on, year=year, qualified=qualified)

    @event("StarsRated")
    def rate_stars(self, rating_round: str, stars: int, basis: dict, effective_on: date) -> None:
        self._add_fact(STAR_RATING, effective_on, rating_round=rating_round, stars=stars, basis=basis)

    # --- facts from projects and complaints, findings ---------------------------

    @event("FactNoted")
    def note_fact(self, kind: str, source_ref: str, enterprise_id: str | None, data: dict, effective_on: date) -> None:
        self._add_fact(kind, effective_on, enterprise_id, source_ref, **data)

    @event("FindingRecorded")
    def record_finding(self, article: str, summary: str, evidence: list, effective_on: date) -> None:
        self._add_fact(FINDING, effective_on, article=article, summary=summary, evidence=evidence)

    # --- sanctions --------------------------------------------------------------

    @event("SanctionImposed")
    def impose(
        self,
        sanction: str,
        rule_id: str,
        key: str,
        citation: dict,
        pack_version: str,
        params: dict,
        evidence: list,
        condition_on: date,
        deadline: date | None,
        consequences: list,
        derived: bool,
        effective_on: date,
    ) -> None:
        ref = self.next_ref()
        self.sanctions[ref] = {
            "ref": ref,
            "sanction": sanction,
            "rule_id": rule_id,
            "key": key,
            "citation": citation,
            "pack_version": pack_version,
            "params": params,
            "evidence": evidence,
            "condition_on": condition_on,
            "deadline": deadline,
            "consequences": consequences,
            "derived": derived,
            "effective_on": effective_on,
            "completed_on": None,
            "overdue_on": None,
            "refused_on": None,
            "rescinded_on": None,
        }
        if sanction in STATUS_AFTER_REMOVAL:
            status = STATUS_AFTER_REMOVAL[sanction]
            if self._removed_after(effective_on, ref) is None:
                # out since an earlier removal to the same status that still stands (a history as of a day
                # before that one's rescission, which a replacement followed): since then
                same = [s["effective_on"] for s in self.active_removals() if s["ref"] != ref and STATUS_AFTER_REMOVAL[s["sanction"]] == status]
                self._set_status(status, min([effective_on, *same]) if self.status == status else effective_on)
            elif self.status == status:  # dated before one already standing (facts entered late), to the same status
                self.status_since = min(self.status_since, effective_on)
            # else: the later removal's status stands

    def _removed_after(self, day: date, but: str) -> dict | None:
        """The latest removal other than ``but`` that stands (not rescinded) and took effect after ``day``."""
        later = [s for s in self.active_removals() if s["ref"] != but and s["effective_on"] > day]
        return max(later, key=lambda s: s["effective_on"]) if later else None

    def _open_order(self, sanction_ref: str) -> dict:
        order = self.sanctions.get(sanction_ref)
        if order is None or order["sanction"] not in WITH_DEADLINE:
            raise DomainError(f"{sanction_ref} is not a warning or rectification order of provider {self.provider_id}")
        if order["rescinded_on"] is not None:
            raise DomainError(f"{sanction_ref} was rescinded on {order['rescinded_on']}")
        if order["completed_on"] is not None:
            raise DomainError(f"{sanction_ref} was already completed on {order['completed_on']}")
        return order

    def check_open_order(self, sanction_ref: str) -> dict:
        return self._open_order(sanction_ref)

    @event("RectificationCompleted")
    def complete_rectification(self, sanction_ref: str, effective_on: date) -> None:
        self.sanctions[sanction_ref]["completed_on"] = effective_on

    @event("RectificationPeriodSet")
    def set_rectification_period(self, sanction_ref: str, deadline: date, params: dict, effective_on: date) -> None:
        """The regulator's period for a warning or order the ledger derived without one."""
        order = self.sanctions[sanction_ref]
        order["deadline"] = deadline
        order["params"] = {**order["params"], **params}

    @event("RectificationRefused")
    def refuse_rectification(self, sanction_ref: str, effective_on: date) -> None:
        order = self.sanctions[sanction_ref]
        order["refused_on"] = effective_on
        self._add_fact(RECTIFICATION_REFUSED, effective_on, source_ref=sanction_ref, article=order["citation"]["article"], order=sanction_ref)

    @event("RectificationOverdue")
    def record_overdue(self, sanction_ref: str, deadline: date, effective_on: date) -> None:
        order = self.sanctions[sanction_ref]
        order["overdue_on"] = effective_on
        self._add_fact(
            RECTIFICATION_OVERDUE, effective_on, source_ref=sanction_ref, article=order["citation"]["article"],
            rule_id=order["rule_id"], order=sanction_ref, deadline=deadline,
        )  # fmt: skip

    # --- appeals, rescission, reinstatement -------------------------------------

    @event("EvidenceVoided")
    def void_evidence(self, refs: list, appeal_ref: str, effective_on: date) -> None:
        for ref in refs:
            self.voided[ref] = appeal_ref
            sanction = self.sanctions.get(ref)
            if sanction is not None:
                # a sanction voided by name may not be derived again from the same evidence
                self.excused.setdefault(sanction["rule_id"], []).extend(sanction["evidence"])

    @event("SanctionRescinded")
    def rescind(self, sanction_ref: str, reason: str, appeal_ref: str | None, effective_on: date) -> None:
        sanction = self.sanctions[sanction_ref]
        sanction["rescinded_on"] = effective_on
        if sanction["sanction"] not in STATUS_AFTER_REMOVAL:
            return
        standing = self._removed_after(date.min, sanction_ref)
        if standing is not None:  # another removal still keeps the provider out: its status
            self._set_status(STATUS_AFTER_REMOVAL[standing["sanction"]], standing["effective_on"])
        elif self.exit_day is not None:  # it had left of its own accord: it stays out
            self._set_status("exited", self.exit_day)
        elif self.status in REMOVED_STATUSES:
            # back in the pool (the engine records why, or the removal that replaces it); a history as of a
            # day before a removal dated later, which kept the provider out in the live record, says so too
            self._set_status("reinstated", max(effective_on, self.status_since))

    @event("Reinstated")
    def reinstate(self, reason: str, rescinded: list, effective_on: date) -> None:
        self._set_status("reinstated", effective_on)

    # --- leaving and money ------------------------------------------------------

    @event("Exited")
    def exit_pool(self, reason: str, citation: dict | None, effective_on: date) -> None:
        self.exited_on = effective_on
        self._set_status("exited", effective_on)

    @property
    def exit_day(self) -> date | None:
        """The day the provider left the pool of its own accord, if it did; a removal derived later from
        facts dated before it does not undo that it left."""
        kept = self.__dict__.get("exited_on")
        if kept is None and "exited_on" not in self.__dict__ and self.status == "exited":
            return self.status_since  # a state snapshotted before the day was kept
        return kept

    @event("FeesWithheld")
    def withhold_fees(self, project_id: str | None, amount: str, citation: dict | None, reason: str, effective_on: date) -> None:
        self.fees_withheld.append({"ref": self.next_ref(), "project_id": project_id, "amount": amount, "citation": citation, "reason": reason, "effective_on": effective_on})


class ProviderView:
    """What rules may read of a provider: live facts and active sanctions."""

    def __init__(self, provider: Provider) -> None:
        self._provider = provider

    def facts(self, kind: str) -> list[Item]:
        return self._provider.live_facts(kind)

    def sanctions(self, kind: str) -> list[Item]:
        return self._provider.sanction_items(kind)
