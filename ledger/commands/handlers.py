"""One handler per command. Handlers check what the rulebook requires, call the
aggregates' ``@event`` methods, and let the rule engine derive consequences.
They do no I/O beyond loading aggregates through the unit of work."""
from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from ledger.aggregates import Appeal, Complaint, DomainError, Entity, Project, Provider, Rulebook, entity_key
from ledger.aggregates.project import ALL_FEES
from ledger.aggregates.provider import OUT_OF_POOL
from ledger.application import Context, Handler, bounded
from ledger.commands import models as m
from ledger.rules.base import (
    ACCEPTANCE_FAILED,
    ACCEPTANCE_PASSED,
    BELOW_TARGET_LEVEL,
    COMPLAINT_ANSWERED_IN_TIME,
    COMPLAINT_UNANSWERED,
    COMPLAINT_VERIFIED,
    EVALUATION,
    FILING_APPROVED_BY_START,
    IMPLEMENTED_BEFORE_FILING,
    SCORE,
    UNSATISFIED_RATING,
    WITH_DEADLINE,
    Citation,
    RulePack,
)
from ledger.store.base import event_ref


def _provider(ctx: Context, provider_id: str) -> Provider:
    return ctx.uow.get(Provider, provider_id)


# --- selection and admission ---------------------------------------------------


def submit_application(c: m.SubmitApplication, ctx: Context) -> None:
    earlier = ctx.uow.find(Provider, c.provider_id)
    if earlier is not None:
        again = "; a new application takes a new provider id" if earlier.status in ("exited", "refused", "lapsed") else ""
        raise DomainError(f"provider {c.provider_id} has already applied ({earlier.status} since {earlier.status_since}){again}")
    pack = ctx.pack(c.jurisdiction)
    entity = ctx.uow.find(Entity, entity_key(c.jurisdiction, c.credit_code))
    applied_as = entity.provider_ids if entity is not None else ctx.uow.applications_before_reservations(c.jurisdiction, c.credit_code)
    _may_apply_again(ctx, c.credit_code, applied_as, c.kind, pack)
    if c.kind not in pack.provider_kinds and pack.open_kinds is None:
        raise DomainError(f"{pack.short}: kind {c.kind!r} is not one of {', '.join(pack.provider_kinds)}")
    # where the text lists its kinds as examples (天津 第四条 "主要包括…等", 省指南 一（一） "主要包含"),
    # another kind is recorded as given
    problems = pack.eligibility(c.kind, c.eligibility, pack.as_of(c.effective_on or ctx.today).params)
    if problems:
        raise DomainError("not eligible: " + "; ".join(problems))
    on = ctx.effective(c)
    ctx.uow.add(
        Provider(
            provider_id=c.provider_id,
            jurisdiction=c.jurisdiction,
            name=c.name,
            kind=c.kind,
            profile={**c.profile, "credit_code": c.credit_code},
            eligibility=dict(c.eligibility),
            effective_on=on,
        )
    )
    # the entity's reservation changes with every application: two concurrent ones with one code
    # expect the same version of it, and the second is decided again (and refused)
    if entity is None:
        ctx.uow.add(Entity(jurisdiction=c.jurisdiction, credit_code=c.credit_code, provider_id=c.provider_id, earlier_provider_ids=applied_as, effective_on=on))
    else:
        entity.reserve_again(provider_id=c.provider_id, effective_on=on)


def _may_apply_again(ctx: Context, credit_code: str, earlier: list[str], kind: str, pack: RulePack) -> None:
    """An entity (by its 统一社会信用代码) applies to a jurisdiction's pool once at a time — in Tianjin
    once at a time for each direction (kind) of the pool (天津 第九条 "可根据自身能力和条件申报资源池的
    多个方向"). One out of the pool under an earlier provider id — it left, was refused or lapsed, or
    a removal, disqualification, blacklisting or gray-listing stands — may apply again: no text bars
    a new application or gives a bar a length (天津 第十二条 "不再列入资源池" heads its item （八）
    主动退出 too: it takes the provider out, it does not bar the entity), so whether to admit it is the
    regulator's decision (``RefuseAdmission``), with the earlier provider's record before it.

    ``earlier``: the provider ids it applied under in the jurisdiction, oldest first (its
    :class:`~ledger.aggregates.Entity`); each is read for its current status."""
    for provider_id in earlier:
        provider = ctx.uow.get(Provider, provider_id)
        if provider.status in OUT_OF_POOL:
            continue
        if pack.several_directions is None:
            raise DomainError(f"entity {credit_code} has already applied as provider {provider.provider_id} ({provider.status})")
        if provider.kind == kind:
            raise DomainError(
                f"{pack.several_directions.label}: entity {credit_code} has already applied for the direction {kind} as provider "
                f"{provider.provider_id} ({provider.status}); another direction takes an application of its own"
            )


def open_public_notice(c: m.OpenPublicNotice, ctx: Context) -> None:
    provider = _provider(ctx, c.provider_id)
    if provider.status != "applied":
        raise DomainError(f"provider {c.provider_id} is {provider.status}; a public notice follows an application")
    provider.open_notice(effective_on=ctx.effective(c, provider.begins))


def _open_notice(provider: Provider) -> dict:
    if provider.status != "under_notice" or provider.notice is None or provider.notice["last_day"] is not None:
        raise DomainError(f"provider {provider.provider_id} has no public notice open")
    return provider.notice


def raise_objection(c: m.RaiseObjection, ctx: Context) -> None:
    """天津 第十条 公示期满无异议的纳入: an objection counts if raised during the notice, from its first to its
    last day. One dated after the last day of a closed notice is refused; one recorded before the close
    is not counted by it (:func:`close_public_notice`)."""
    provider = _provider(ctx, c.provider_id)
    closed = provider.notice
    if closed is not None and closed["last_day"] is not None:
        on = ctx.effective(c, ("the public notice opened", closed["opened_on"]))
        if on > closed["last_day"]:
            pack = ctx.pack(provider.jurisdiction, closed["opened_on"])
            label = pack.notice_citation.label if pack.notice_citation else pack.short
            raise DomainError(
                f"effective_on {on} is after the public notice's last day ({closed['last_day']}): {label} 公示期满无异议的纳入 — "
                "an objection counts only if raised during the notice",
                field="effective_on",
            )
    notice = _open_notice(provider)
    if c.objection_id in notice["objections"]:
        raise DomainError(f"objection {c.objection_id} already raised")
    on = ctx.effective(c, ("the public notice opened", notice["opened_on"]))
    provider.raise_objection(objection_id=c.objection_id, raised_by=c.raised_by, grounds=c.grounds, effective_on=on)


def resolve_objection(c: m.ResolveObjection, ctx: Context) -> None:
    provider = _provider(ctx, c.provider_id)
    notice = _open_notice(provider)
    if c.objection_id not in notice["objections"]:
        raise DomainError(f"no objection {c.objection_id} against provider {c.provider_id}")
    on = ctx.effective(c, (f"objection {c.objection_id} was raised", notice["objections"][c.objection_id]["raised_on"]))
    provider.resolve_objection(objection_id=c.objection_id, stands=c.stands, reasons=c.reasons, effective_on=on)


def close_public_notice(c: m.ClosePublicNotice, ctx: Context) -> None:
    """天津 第十条: 公示期不少于7天，公示期满无异议的纳入资源池 — closing the notice decides admission, which
    takes effect the day after the notice's last day (or later, as ``effective_on`` says)."""
    provider = _provider(ctx, c.provider_id)
    notice = _open_notice(provider)
    pack = ctx.pack(provider.jurisdiction, notice["opened_on"])  # the length required when the notice opened
    days = (c.last_day - notice["opened_on"]).days + 1
    if days < 1:
        raise DomainError(f"last_day {c.last_day} is before the notice opened on {notice['opened_on']}", field="last_day")
    label = pack.notice_citation.label if pack.notice_citation else pack.short
    if c.last_day >= ctx.today:  # 公示期满: objections may come in until the last day is over
        raise DomainError(f"{label}: the public notice runs until {c.last_day}; it can be closed from the day after")
    if pack.min_notice_days is not None and days < pack.min_notice_days:
        raise DomainError(
            f"{label}: the public notice must last at least {pack.min_notice_days} days; "
            f"{notice['opened_on']}..{c.last_day} is {days}"
        )
    # 公示期满无异议: only an objection raised during the notice counts (one recorded before the close but
    # dated after the last day neither needs resolving nor refuses admission)
    during = {oid: o for oid, o in notice["objections"].items() if o["raised_on"] <= c.last_day}
    unresolved = [oid for oid, o in during.items() if o["stands"] is None]
    if unresolved:
        raise DomainError(f"resolve objection(s) {', '.join(unresolved)} before closing the notice")
    # 公示期满无异议的纳入: the admission (or the refusal) takes effect once the period is over, the day after
    # its last day at the earliest — never while objections could still come in
    after = c.last_day + timedelta(days=1)
    on = bounded("effective_on", c.effective_on or after, ctx.today, (f"the public notice's last day ({c.last_day}) was over", after))
    provider.close_notice(last_day=c.last_day, days=days, effective_on=on)
    citation = pack.notice_citation.as_dict() if pack.notice_citation else None
    standing = [oid for oid, o in during.items() if o["stands"]]
    late = [f"{oid} (raised {o['raised_on']})" for oid, o in notice["objections"].items() if oid not in during]
    if standing:
        not_counted = f"; raised after the last day, not counted: {', '.join(late)}" if late else ""
        provider.refuse_admission(reason=f"objection(s) {', '.join(standing)} stand{not_counted}", citation=citation, effective_on=on)
    else:
        provider.admit(citation=citation, effective_on=on)


def admit_provider(c: m.AdmitProvider, ctx: Context) -> None:
    provider = _provider(ctx, c.provider_id)
    pack = ctx.pack(provider.jurisdiction)
    if pack.requires_notice:
        label = pack.notice_citation.label if pack.notice_citation else pack.short
        raise DomainError(f"{label}: admission follows the public notice; close the notice instead")
    if provider.status != "applied":
        raise DomainError(f"provider {c.provider_id} is {provider.status}; only an applicant can be admitted")
    on = ctx.effective(c, provider.begins)
    provider.admit(citation=None, effective_on=on)


def _pending_applicant(ctx: Context, provider_id: str) -> Provider:
    provider = _provider(ctx, provider_id)
    if provider.status not in ("applied", "under_notice"):
        raise DomainError(f"provider {provider_id} is {provider.status}, not a pending applicant")
    return provider


def refuse_admission(c: m.RefuseAdmission, ctx: Context) -> None:
    provider = _pending_applicant(ctx, c.provider_id)
    provider.refuse_admission(reason=c.reason, citation=None, effective_on=ctx.effective(c, provider.begins))


def lapse_application(c: m.LapseApplication, ctx: Context) -> None:
    provider = _pending_applicant(ctx, c.provider_id)
    provider.lapse(reason=c.reason, effective_on=ctx.effective(c, provider.begins))


def record_profile_change(c: m.RecordProfileChange, ctx: Context) -> None:
    provider = _provider(ctx, c.provider_id)
    bounded("reported_on", c.reported_on, ctx.today)
    on = bounded("effective_on", c.effective_on or c.changed_on, ctx.today)
    provider.change_profile(
        field=c.field,
        old=provider.profile.get(c.field),
        new=c.new_value,
        changed_on=c.changed_on,
        reported_on=c.reported_on,
        major=c.major,
        effective_on=on,
    )


# --- grades ----------------------------------------------------------------------


def record_score(c: m.RecordScore, ctx: Context) -> None:
    provider = _provider(ctx, c.provider_id)
    pack = ctx.pack(provider.jurisdiction)
    if pack.grade is None:
        raise DomainError(f"{pack.short} grades providers without scores; RecordScore is for 天津 第十一条")
    on = _member_or_correcting(ctx, c, provider, SCORE, c.year, "record a score")
    _plausible_year(c.year, on)
    grade = pack.grade(c.score, pack.as_of(on).params)  # the bands in force on the score's day
    provider.record_score(year=c.year, score=c.score, grade=grade, pack_version=pack.version, effective_on=on)
    ctx.reconcile(provider, on)


def record_evaluation(c: m.RecordEvaluation, ctx: Context) -> None:
    provider = _provider(ctx, c.provider_id)
    if provider.jurisdiction != "province":
        raise DomainError("qualified/unqualified evaluations are the province's (省指南 四（三）)")
    on = _member_or_correcting(ctx, c, provider, EVALUATION, c.year, "record an evaluation")
    _plausible_year(c.year, on)
    provider.record_evaluation(year=c.year, qualified=c.qualified, effective_on=on)
    ctx.reconcile(provider, on)


def record_star_rating(c: m.RecordStarRating, ctx: Context) -> None:
    provider = _provider(ctx, c.provider_id)
    if provider.jurisdiction != "xinxiang":
        raise DomainError("star ratings are Xinxiang's (新乡 第十四条)")
    provider.rate_stars(rating_round=c.rating_round, stars=c.stars, basis=dict(c.basis), effective_on=_member_on(ctx, c, provider, "rate stars"))


def _member_on(ctx: Context, c: m.Command, provider: Provider, what: str) -> date:
    """The day a fact about a member of the pool took effect: not before its admission, nor on a day a
    removal or its exit kept it out of the pool (a sanction cannot remove it, nor a finding concern it
    as a member, while it was not one). A provider out of the pool now was a member on earlier days:
    a fact of such a day, entered late, is recorded and counts as of its day."""
    _require_admitted(provider, what)
    on = ctx.effective(c, provider.joined_pool)
    _in_pool_on(provider, on)
    return on


def _member_or_correcting(ctx: Context, c: m.RecordScore | m.RecordEvaluation, provider: Provider, kind: str, year: int, what: str) -> date:
    """:func:`_member_on`, except for a later verdict of a year that has one on record (recorded while the
    provider was a member): it corrects that year (a year has one verdict, the latest: 天津 第十一条
    每年…评价评级, 省指南 四（三）), and is recorded even when the earlier verdict has since removed the
    provider — what the earlier derived is then rescinded, from the correction's day. A first verdict
    of a year is refused on a day the provider was out of the pool."""
    _require_admitted(provider, what)
    on = ctx.effective(c, provider.joined_pool)
    if not any(int(f.data["year"]) == year for f in provider.live_facts(kind)):
        _in_pool_on(provider, on)
    return on


def _require_admitted(provider: Provider, what: str) -> None:
    if provider.admitted_on is None:
        raise DomainError(f"provider {provider.provider_id} is {provider.status}, not in the pool: cannot {what}")


def _in_pool_on(provider: Provider, on: date) -> None:
    why = provider.why_out_of_pool_on(on)
    if why is not None:
        raise DomainError(f"effective_on {on}: provider {provider.provider_id} {why}", field="effective_on")


def _plausible_year(year: int, on: date) -> None:
    """A yearly score or evaluation (天津 第十一条 "每年组织…评价评级", 省指南 四（三）) taking effect
    ``on`` is of that year or of the year just ended: not of a year that has not begun, nor of
    one long past (which would be entered with the date it was made)."""
    if not on.year - 1 <= year <= on.year:
        raise DomainError(
            f"year {year} is not plausible for an evaluation taking effect on {on} (effective_on): "
            f"it is of {on.year - 1} or {on.year}"
        )


# --- findings and rectification ----------------------------------------------------


def record_finding(c: m.RecordFinding, ctx: Context) -> None:
    provider = _provider(ctx, c.provider_id)
    pack = ctx.pack(provider.jurisdiction)
    article = pack.findings.get(c.article)
    if article is None:
        raise DomainError(f"article: {pack.short} has no finding article {c.article!r}; known: {', '.join(pack.findings)}", field="article")
    on = _member_on(ctx, c, provider, f"apply {article.citation.label}")
    _require_in_force(pack, on)
    pack = pack.as_of(on)  # the periods in force on the day the order took effect
    deadline = None
    params: dict = {}
    if article.sanction in WITH_DEADLINE:
        # 限期整改: the period is the regulator's to set (唐山/柳州 第十二条 only cap it: 一般不超过30日)
        if c.deadline_days is None:
            raise DomainError(
                f"deadline_days: {article.citation.label} orders rectification within a period (限期整改) that the "
                "regulator sets; the finding must give it",
                field="deadline_days",
            )
        deadline, params = _rectification_period(pack, article.citation.as_dict(), on, c.deadline_days, c.exceptional_reason)
    provider.record_finding(article=c.article, summary=c.summary, evidence=list(c.evidence), effective_on=on)
    finding_ref = f"{provider.id}/{provider.version}"
    provider.impose(
        sanction=article.sanction,
        rule_id=f"{provider.jurisdiction}.finding.{c.article}",
        key=f"finding@{finding_ref}",
        citation=article.citation.as_dict(),
        pack_version=pack.version,
        params=params,
        evidence=[finding_ref],
        condition_on=on,
        deadline=deadline,
        consequences=list(article.consequences),
        derived=False,
        effective_on=on,
    )
    ctx.reconcile(provider, on)


def _rectification_period(pack: RulePack, citation: dict, start: date, days: int, exceptional_reason: str | None) -> tuple[date, dict]:
    """The deadline of a period of ``days`` to rectify running from ``start``, the day the order took
    effect, however late it is recorded, and the parameters it is recorded with; beyond the pack's cap
    (唐山/柳州 第十二条 "整改期限一般不超过30日") only with an exceptional reason."""
    limit = pack.max_rectification_days
    if limit is not None and days > limit and not exceptional_reason:
        raise DomainError(
            f"deadline_days: {citation['short']} {citation['article'].split('（')[0]}: 整改期限一般不超过{limit}日 — "
            f"{days} days needs an exceptional_reason",
            field="deadline_days",
        )
    period = pack.params.period(start, days)
    params = {"deadline_days": days, **period.params()}
    if exceptional_reason:
        params["exceptional_reason"] = exceptional_reason
    return period.due, params


def set_rectification_period(c: m.SetRectificationPeriod, ctx: Context) -> None:
    """The regulator's period for a warning or order the ledger derived while the bureau had set no
    period for such orders (新乡 第十五条（四）, 柳州 第十二条（四）（六）; :func:`ledger.rules.engine.impose`).
    It runs from the day the order took effect, capped as a finding's is, and is set once: not for an
    order that has a period (a finding's, or the bureau's), nor one already refused; nor may it end
    before the day the regulator sets it, which is not before the order took effect."""
    provider = _order(ctx, c.provider_id, c.sanction_ref)
    order = provider.sanctions[c.sanction_ref]
    if order["deadline"] is not None:
        raise DomainError(
            f"sanction_ref: {c.sanction_ref} already has its period, due {order['deadline']}; "
            "a period is set once, for a warning or order derived without one",
            field="sanction_ref",
        )
    if order["refused_on"] is not None:
        raise DomainError(f"sanction_ref: the provider refused to rectify {c.sanction_ref} on {order['refused_on']}", field="sanction_ref")
    on = _order_day(ctx, c, provider)
    _in_pool_on(provider, on)
    start = order["effective_on"]
    deadline, params = _rectification_period(
        ctx.pack(provider.jurisdiction, start), order["citation"], start, c.deadline_days, c.exceptional_reason
    )
    if deadline < on:
        raise DomainError(
            f"deadline_days: {c.deadline_days} days from {start}, when {c.sanction_ref} took effect, end on {deadline}, "
            f"before the period is set (effective_on {on})",
            field="deadline_days",
        )
    provider.set_rectification_period(sanction_ref=c.sanction_ref, deadline=deadline, params=params, effective_on=on)


def _order_day(ctx: Context, c: m.CompleteRectification | m.SetRectificationPeriod | m.RecordRectificationRefusal, provider: Provider) -> date:
    """The day a completion, a refusal or a period set took effect: not before the order it concerns."""
    return ctx.effective(c, _took_effect(provider, c.sanction_ref))


def _took_effect(provider: Provider, ref: str) -> tuple[str, date | None]:
    """(what, day) of a sanction or fact on the provider's record, as a lower bound for what follows it."""
    item = provider.sanctions.get(ref) or provider.facts.get(ref)
    return f"{ref} took effect", item["effective_on"] if item else None


def _order(ctx: Context, provider_id: str, sanction_ref: str) -> Provider:
    provider = _provider(ctx, provider_id)
    provider.check_open_order(sanction_ref)
    return provider


def complete_rectification(c: m.CompleteRectification, ctx: Context) -> None:
    """A completion takes its own date; entered after the order was recorded overdue but dated by its
    deadline, it contradicts the overdue, and what was derived from that lateness is rescinded
    (:meth:`Provider._not_counted <ledger.aggregates.provider.Provider._not_counted>`)."""
    provider = _order(ctx, c.provider_id, c.sanction_ref)
    on = _order_day(ctx, c, provider)
    provider.complete_rectification(sanction_ref=c.sanction_ref, effective_on=on)
    order = provider.sanctions[c.sanction_ref]
    if order["overdue_on"] is not None and order["deadline"] is not None and on <= order["deadline"]:
        ctx.reconcile(provider, on)


def record_rectification_refusal(c: m.RecordRectificationRefusal, ctx: Context) -> None:
    provider = _order(ctx, c.provider_id, c.sanction_ref)
    if provider.sanctions[c.sanction_ref]["refused_on"] is not None:
        raise DomainError(f"refusal of {c.sanction_ref} already recorded")
    on = _order_day(ctx, c, provider)
    # refused after its deadline: the order was overdue first, from the day after the deadline, whether
    # or not the scheduler ran before the refusal was entered (新乡 第十六条（四） before （二）); refused by
    # then, the refusal decides and a lateness recorded first counts toward nothing (Provider._not_counted)
    _record_overdue(ctx, provider, [o for o in provider.rectifications_due(on) if o["ref"] == c.sanction_ref])
    provider.refuse_rectification(sanction_ref=c.sanction_ref, effective_on=on)
    ctx.reconcile(provider, on)


def withdraw_from_pool(c: m.WithdrawFromPool, ctx: Context) -> None:
    """天津 第十二条（八） 主动退出资源池的 (and every pack's own exit): judged on the withdrawal's day — a member
    of the pool that day may leave, whatever was entered since. What took effect after it left (a removal
    or an order entered first but dated later) is moot, as a finding dated after an exit is refused and a
    condition met after it derives nothing: rescinded from its own day."""
    provider = _provider(ctx, c.provider_id)
    if provider.exit_day is not None:
        raise DomainError(f"provider {c.provider_id} already left the pool on {provider.exit_day}")
    on = _member_on(ctx, c, provider, "withdraw")
    pack = ctx.pack(provider.jurisdiction)
    citation = pack.voluntary_exit.as_dict() if pack.voluntary_exit else None
    provider.exit_pool(reason=c.reason or "voluntary exit", citation=citation, effective_on=on)
    for later in [s for s in provider.active_sanctions() if s["effective_on"] >= on]:
        provider.rescind(
            sanction_ref=later["ref"], reason=f"provider {c.provider_id} had left the pool on {on}, before it took effect",
            appeal_ref=None, effective_on=later["effective_on"],
        )  # fmt: skip


def withhold_fees(c: m.WithholdFees, ctx: Context) -> None:
    """The regulator's decision to withhold or deduct an amount of fees, under the one article of its
    pack that names fees (:class:`~ledger.rules.base.FeeArticle`): 新乡 第十六条 "取消其服务商资格，视情况
    不予支付或扣除部分服务费用" after a disqualification under 第十六条 (nothing is withheld
    automatically); 唐山 第十四条 "服务商被清退或未通过验收的，不予支付服务费用" after a clearance under
    第十三条 (a failed acceptance withholds a project's fees when it is recorded: :func:`record_acceptance`).
    Tianjin, the province and Liuzhou name no withholding: refused there. ``article`` is the fee
    article itself or the item the provider was removed under; the withholding takes effect inside
    the pack's window, not before that removal took effect."""
    provider = _provider(ctx, c.provider_id)
    pack = ctx.pack(provider.jurisdiction)
    fees = pack.fees
    if fees is None:
        raise DomainError(f"{pack.short} names no withholding of fees: none of its articles lets fees go unpaid or be deducted")
    if c.article != fees.citation.article and not fees.follows(c.article):
        raise DomainError(f"{pack.short} {c.article}: fees are withheld under {fees.citation.label} ({fees.citation.text}), not under {c.article!r}")
    cited = fees.citation if c.article == fees.citation.article else _article_citation(pack, c.article)
    removals = [s for s in provider.active_removals() if fees.follows(s["citation"]["article"]) and c.article in (fees.citation.article, s["citation"]["article"])]
    if not removals:
        under = c.article if c.article != fees.citation.article else "/".join(fees.after_removal_under)
        at_acceptance = " (a failed acceptance withholds them when it is recorded)" if fees.failed_acceptance else ""
        raise DomainError(f"{pack.short} {c.article}: provider {c.provider_id} was not removed under {under}; {fees.citation.label} withholds fees only then{at_acceptance}")
    if c.project_id is not None:
        _project(ctx, c.project_id).require_provider(c.provider_id)
    on = ctx.effective(c, provider.begins, (f"the removal it follows ({removals[0]['ref']}) took effect", removals[0]["effective_on"]))
    _require_in_force(pack, on)
    provider.withhold_fees(project_id=c.project_id, amount=str(c.amount), citation=cited.as_dict(), reason=c.reason, effective_on=on)


def _article_citation(pack: RulePack, article: str) -> Citation:
    """The citation of one of the pack's articles: a finding's or a counted rule's."""
    for cited in [f.citation for f in pack.findings.values()] + [r.citation for r in pack.rules]:
        if cited.article == article:
            return cited
    raise DomainError(f"{pack.short} has no article {article!r}")


def _require_in_force(pack: RulePack, on: date) -> None:
    """Refuse what applies one of the pack's articles on a day it is not in force."""
    if not pack.in_force(on):
        window = (
            "its date of effect has not been declared"
            if pack.valid_from is None
            else f"it is in force from {pack.valid_from} until {pack.valid_until or 'further notice'}"
        )
        raise DomainError(f"{pack.validity.label}: the rulebook is not in force on {on} ({window})", field="effective_on")


# --- projects --------------------------------------------------------------------


def register_project(c: m.RegisterProject, ctx: Context) -> None:
    if ctx.uow.find_new(Project, c.project_id) is not None:
        raise DomainError(f"project {c.project_id} is already registered")
    provider_ids = ([c.integrated_provider_id] if c.integrated_provider_id else []) + list(c.product_provider_ids)
    if not provider_ids:
        raise DomainError("a project needs an integrated provider or a product provider")
    providers = [_provider(ctx, provider_id) for provider_id in provider_ids]
    for provider in providers:
        if provider.jurisdiction != c.jurisdiction:
            raise DomainError(f"provider {provider.provider_id} is in {provider.jurisdiction}'s pool, not {c.jurisdiction}'s")
        _require_admitted(provider, f"serve project {c.project_id}")
    on = ctx.effective(c, *(p.joined_pool for p in providers))
    for provider in providers:
        _in_pool_on(provider, on)
    ctx.uow.add(
        Project(
            project_id=c.project_id,
            jurisdiction=c.jurisdiction,
            enterprise_id=c.enterprise_id,
            enterprise_name=c.enterprise_name,
            enterprise_kind=c.enterprise_kind,
            integrated_provider_id=c.integrated_provider_id,
            product_provider_ids=list(c.product_provider_ids),
            effective_on=on,
        )
    )


def _project(ctx: Context, project_id: str) -> Project:
    return ctx.uow.get(Project, project_id)


def _note(ctx: Context, provider_id: str, kind: str, source_ref: str, enterprise_id: str | None, on: date, **data) -> None:
    """Record a fact about a provider that came from a project or a complaint, then derive."""
    provider = _provider(ctx, provider_id)
    provider.note_fact(kind=kind, source_ref=source_ref, enterprise_id=enterprise_id, data=data, effective_on=on)
    ctx.reconcile(provider, on)


def _last_ref(aggregate) -> str:
    return event_ref(aggregate.id, aggregate.version)


def record_diagnosis(c: m.RecordDiagnosis, ctx: Context) -> None:
    project = _project(ctx, c.project_id)
    if project.stage != "registered":
        raise DomainError(f"project {c.project_id} is {project.stage}; diagnosis comes first")
    on = ctx.effective(c, project.begins)
    project.diagnose(level_before=c.level_before, report=c.report, problems=list(c.problems), scenarios=list(c.scenarios), effective_on=on)


def submit_filing(c: m.SubmitFiling, ctx: Context) -> None:
    project = _project(ctx, c.project_id)
    if project.filing in ("submitted", "approved"):
        raise DomainError(f"project {c.project_id}'s filing is already {project.filing}")
    plan = {"content": c.content, "cost": str(c.cost), "expected_effect": c.expected_effect, "schedule": c.schedule}
    project.submit_filing(plan=plan, effective_on=ctx.effective(c, project.begins))


def decide_filing(c: m.DecideFiling, ctx: Context) -> None:
    project = _project(ctx, c.project_id)
    if project.filing != "submitted":
        raise DomainError(f"project {c.project_id} has no filing awaiting a decision")
    on = ctx.effective(c, project.begins)
    project.decide_filing(approved=c.approved, reasons=c.reasons, effective_on=on)
    started = project.implementation_started_on
    if c.approved and started is not None and on <= started:
        # 新乡 第十五条（四） 未经报备即开展改造实施: the start, entered first, was noted as before the approval;
        # approved by the day work started, it was not — the warning goes from its own day (as if never)
        lead = project.provider_ids[0]
        provider = _provider(ctx, lead)
        noted = [f for f in provider.live_facts(IMPLEMENTED_BEFORE_FILING) if f.data.get("project_id") == project.project_id and f.effective_on == started]
        for fact in noted:
            provider.note_fact(kind=FILING_APPROVED_BY_START, source_ref=_last_ref(project), enterprise_id=project.enterprise_id,
                               data={"project_id": project.project_id, "contradicts": fact.ref, "started_on": started}, effective_on=on)  # fmt: skip
        if noted:
            ctx.reconcile(provider, started)


def record_major_change(c: m.RecordMajorChange, ctx: Context) -> None:
    project = _project(ctx, c.project_id)
    if project.acceptance is not None:
        raise DomainError(f"project {c.project_id} has already been through acceptance")
    project.record_major_change(
        description=c.description,
        investment_increase=str(c.investment_increase) if c.investment_increase is not None else None,
        scenarios_removed=c.scenarios_removed,
        effective_on=ctx.effective(c, project.begins),
    )


def start_implementation(c: m.StartImplementation, ctx: Context) -> None:
    """新乡 第十五条（四）: 未经报备即开展改造实施 is itself a fact the rules count — where the pack has a
    filing review to pass (``RulePack.filing_review``: 新乡 第十二条（二）（三）; 唐山, 柳州 name none), judged
    against the day the filing was approved, not the state when the start is entered (an approval
    entered later but dated by the start contradicts the fact: :func:`decide_filing`)."""
    project = _project(ctx, c.project_id)
    if project.implementation_started_on is not None and project.filing != "approved":
        raise DomainError(f"project {c.project_id} is already being implemented")
    on = ctx.effective(c, project.begins)
    before_approval = ctx.pack(project.jurisdiction).filing_review is not None and not project.approved_by(on)
    project.start_implementation(before_approval=before_approval, effective_on=on)
    if before_approval:
        for provider_id in project.provider_ids[:1]:  # the leading provider carries out the work
            _note(ctx, provider_id, IMPLEMENTED_BEFORE_FILING, _last_ref(project), project.enterprise_id, on,
                  project_id=project.project_id, filing=project.filing, approved_on=project.approved_on)  # fmt: skip


def record_acceptance(c: m.RecordAcceptance, ctx: Context) -> None:
    project = _project(ctx, c.project_id)
    if project.implementation_started_on is None:
        raise DomainError(f"project {c.project_id} was never implemented")
    if project.acceptance == "passed":
        raise DomainError(f"project {c.project_id} has already passed acceptance")
    on = ctx.effective(c, project.begins, ("its implementation started", project.implementation_started_on))
    project.decide_acceptance(passed=c.passed, level_after=c.level_after, effective_on=on)
    source = _last_ref(project)
    pack = ctx.pack(project.jurisdiction, on)
    lead = project.provider_ids[0]
    if not c.passed:
        _note(ctx, lead, ACCEPTANCE_FAILED, source, project.enterprise_id, on, project_id=project.project_id)
        _unpaid_after_failed_acceptance(project, pack, on)
    else:
        for provider_id, rating in project.ratings.items():
            if rating["rating"] == "不满意":  # rated before the acceptance: now it is 通过验收，但…不满意
                _note(ctx, provider_id, ACCEPTANCE_PASSED, source, project.enterprise_id, on, project_id=project.project_id)
        withheld = project.paid("fee_withheld") > 0 or bool(project.fees_not_payable)
        if pack.fees is not None and pack.fees.failed_acceptance and withheld and not project.withholding_reviewed:
            _review_withholding(ctx, project, pack.fees.citation, lead, on)
    target = getattr(pack.params, "target_level", None)
    if pack.target_level_citation is not None and target is not None and c.level_after is not None and c.level_after < target:
        _note(ctx, lead, BELOW_TARGET_LEVEL, source, project.enterprise_id, on, project_id=project.project_id, level_after=c.level_after, target_level=target)


def _unpaid_after_failed_acceptance(project: Project, pack: RulePack, on: date) -> None:
    """唐山 第十四条 "未通过验收的，不予支付服务费用，试点企业有权追回该项目预付款项", for a project that failed
    acceptance on ``on`` while the pack was in force: what is unpaid of its planned cost is withheld (no
    planned cost: the fees are named, not figured — 唐山 names no filing step), and the prepayment is
    recoverable. Recorded once: by the failed acceptance, or by the declaration of the pack's date of
    effect that covers it (:func:`_rejudge`)."""
    if pack.fees is None or not pack.fees.failed_acceptance or not pack.in_force(on):
        return
    lead = project.provider_ids[0]
    citation = pack.fees.citation.as_dict()
    settled = project.paid("fee_paid") + project.paid("prepayment") + project.paid("fee_withheld")
    unpaid = max((project.planned_cost or Decimal(0)) - settled, Decimal(0))
    if unpaid > 0:
        project.record_payment(kind="fee_withheld", amount=str(unpaid), provider_id=lead, citation=citation, effective_on=on)
    elif project.planned_cost is None and not any(f["grounds"] == "未通过验收" for f in project.fees_not_payable):
        project.record_fees_not_payable(grounds="未通过验收", fees=ALL_FEES, amount=None, provider_id=lead, citation=citation, effective_on=on)
    recoverable = project.paid("prepayment") - project.paid("prepayment_recovered")
    if recoverable > 0:
        project.record_prepayment_recoverable(amount=str(recoverable), provider_id=lead, citation=citation, effective_on=on)


def _review_withholding(ctx: Context, project: Project, citation: Citation, lead: str, on: date) -> None:
    """唐山 第十四条 "服务商被清退或未通过验收的，不予支付服务费用": a project that passes a later
    acceptance is no longer 未通过验收, so what was withheld for that is lifted — unless the
    provider has been cleared meanwhile (被清退), which withholds the fees on its own."""
    provider = _provider(ctx, lead)
    withheld = str(project.paid("fee_withheld")) if project.paid("fee_withheld") > 0 else ALL_FEES
    cleared = [s for s in provider.active_removals() if s["effective_on"] <= on]  # cleared by the day of the pass, not later
    if cleared:
        reason = f"provider {lead} is {cleared[-1]['sanction']} since {cleared[-1]['effective_on']} (服务商被清退): the fees stay withheld"
        project.review_withholding(lifted=False, amount=withheld, prepayment_recoverable=project.prepayment_recoverable,
                                   provider_id=lead, reason=reason, citation=citation.as_dict(), effective_on=on)  # fmt: skip
        return
    reason = f"the project passed acceptance on {on}: 未通过验收 no longer holds"
    project.review_withholding(lifted=True, amount=withheld, prepayment_recoverable=project.prepayment_recoverable,
                               provider_id=lead, reason=reason, citation=citation.as_dict(), effective_on=on)  # fmt: skip


def rate_satisfaction(c: m.RateSatisfaction, ctx: Context) -> None:
    project = _project(ctx, c.project_id)
    project.require_provider(c.provider_id)
    if c.provider_id in project.ratings:
        raise DomainError(f"{project.enterprise_id} has already rated {c.provider_id} on project {c.project_id}")
    on = ctx.effective(c, project.begins)
    project.rate_satisfaction(provider_id=c.provider_id, rating=c.rating, effective_on=on)
    if c.rating == "不满意":
        _note(
            ctx, c.provider_id, UNSATISFIED_RATING, _last_ref(project), project.enterprise_id, on,
            project_id=project.project_id, accepted=project.acceptance == "passed", accepted_on=project.passed_on,
        )  # fmt: skip  # 新乡 第十五条（四）: counted from the later of the rating and the pass (xinxiang.unsatisfied_after_acceptance)


def record_payment(c: m.RecordPayment, ctx: Context) -> None:
    project = _project(ctx, c.project_id)
    if c.provider_id is not None:
        project.require_provider(c.provider_id)
    project.record_payment(kind=c.kind, amount=str(c.amount), provider_id=c.provider_id, citation=None, effective_on=ctx.effective(c, project.begins))


# --- complaints ----------------------------------------------------------------------


def file_complaint(c: m.FileComplaint, ctx: Context) -> None:
    if ctx.uow.find_new(Complaint, c.complaint_id) is not None:
        raise DomainError(f"complaint {c.complaint_id} is already filed")
    provider = _provider(ctx, c.provider_id)
    pack = ctx.pack(provider.jurisdiction)
    if pack.real_name_reports is not None and c.nature == "report":
        # 新乡 第十八条 is about reports (举报) on the truth of the provider's information; an
        # enterprise's complaint (投诉) about its project needs none of this
        missing = [
            what
            for what, ok in (("real name", c.real_name and c.complainant_name), ("contact details", c.contact), ("evidence", c.evidence))
            if not ok
        ]
        if missing:
            raise DomainError(f"{pack.real_name_reports.label}: a report needs {', '.join(missing)}")
    ctx.uow.add(
        Complaint(
            complaint_id=c.complaint_id,
            provider_id=c.provider_id,
            jurisdiction=provider.jurisdiction,
            nature=c.nature,
            complainant_kind=c.complainant_kind,
            complainant_name=c.complainant_name,
            contact=c.contact,
            real_name=c.real_name,
            subject=c.subject,
            evidence=list(c.evidence),
            enterprise_id=c.enterprise_id,
            effective_on=ctx.effective(c, provider.begins),
        )
    )


def _complaint(ctx: Context, complaint_id: str) -> Complaint:
    complaint = ctx.uow.get(Complaint, complaint_id)
    if complaint.verdict is not None:
        raise DomainError(f"complaint {complaint_id} was already verified ({complaint.verdict})")
    return complaint


def request_answer(c: m.RequestAnswer, ctx: Context) -> None:
    complaint = _complaint(ctx, c.complaint_id)
    on = ctx.effective(c, complaint.begins)
    # 新乡 第十八条 "被举报服务商未按要求回复": the requirement, its time included, is the regulator's; no text
    # names a period, so the request gives it: a day, or days counted as a period (民法典 第二百零一条、第二百零三条)
    if (c.deadline is None) == (c.answer_days is None):
        raise DomainError("deadline: the request sets when the answer is due: give deadline or answer_days (one of them)", field="deadline")
    due = complaint.answer_deadline
    if due is not None and on > due and complaint.answered_on is None and complaint.nature == "report":
        # a request may move a deadline still running (dated by it: entered after the scheduler ran, it
        # contradicts the lateness as a timely answer does), not undo one that passed unanswered
        raise DomainError(f"complaint {c.complaint_id}'s answer was due {due}, which passed on {due + timedelta(days=1)} unanswered: a new request cannot undo that", field="effective_on")
    deadline = c.deadline or ctx.pack(complaint.jurisdiction, on).params.period(on, c.answer_days or 0).due
    if deadline < on:
        raise DomainError(f"deadline {deadline} is before the request ({on})", field="deadline")
    complaint.request_answer(deadline=deadline, effective_on=on)


def record_answer(c: m.RecordAnswer, ctx: Context) -> None:
    complaint = ctx.uow.get(Complaint, c.complaint_id)
    if complaint.answered_on is not None:
        raise DomainError(f"complaint {c.complaint_id} was already answered")
    on = ctx.effective(c, complaint.begins, ("the answer was requested", complaint.answer_requested_on))
    verified_on = complaint.verified_on
    if complaint.verdict is not None and (verified_on is None or on > verified_on):
        # an answer dated before the verdict is recorded whenever it is entered (the order of entry decides
        # nothing); one dated after it answers a verification already concluded
        raise DomainError(f"complaint {c.complaint_id} was already verified ({complaint.verdict}) on {verified_on}: an answer dated {on} comes after the verdict", field="effective_on")
    if complaint.answer_deadline is not None and on > complaint.answer_deadline and not complaint.answer_overdue:
        # 新乡 第十八条 未按要求回复: an answer after the deadline is not the answer required,
        # whether or not the scheduler ran in between
        _answer_overdue(ctx, complaint)
    complaint.answer(summary=c.summary, effective_on=on)
    if complaint.answer_overdue and complaint.answer_deadline is not None and on <= complaint.answer_deadline:
        # recorded unanswered (the scheduler ran first), but the answer is dated by its deadline: the
        # record contradicts the lateness, and what was derived from it no longer holds
        _note(ctx, complaint.provider_id, COMPLAINT_ANSWERED_IN_TIME, _last_ref(complaint), complaint.enterprise_id, on,
              complaint_id=complaint.complaint_id, deadline=complaint.answer_deadline)  # fmt: skip


def _answer_overdue(ctx: Context, complaint: Complaint) -> None:
    deadline = complaint.answer_deadline
    assert deadline is not None
    on = deadline + timedelta(days=1)
    complaint.mark_answer_overdue(deadline=deadline, effective_on=on)
    _note(ctx, complaint.provider_id, COMPLAINT_UNANSWERED, _last_ref(complaint), complaint.enterprise_id, on,
          complaint_id=complaint.complaint_id, deadline=deadline, nature=complaint.nature)  # fmt: skip


def verify_complaint(c: m.VerifyComplaint, ctx: Context) -> None:
    """新乡 第十八条 "及时向被举报服务商核实，被举报服务商未按要求回复…": a verdict dated after the answer's
    deadline, with no answer given, comes after the lateness (recorded here, from the day after the
    deadline, if the scheduler has not); a verdict dated by the deadline concluded the verification
    before the answer was due: nothing was left to answer, and an unanswered recorded by the scheduler
    first counts toward nothing (what it derived is rescinded from its own day)."""
    complaint = _complaint(ctx, c.complaint_id)
    on = ctx.effective(c, complaint.begins)
    due = complaint.answer_deadline
    if answer_deadline_passed(complaint, on):
        _answer_overdue(ctx, complaint)
    complaint.verify(verdict=c.verdict, findings=c.findings, effective_on=on)
    if due is not None and on <= due and complaint.answer_overdue and (complaint.answered_on is None or complaint.answered_on > due):
        _note(ctx, complaint.provider_id, COMPLAINT_ANSWERED_IN_TIME, _last_ref(complaint), complaint.enterprise_id, on,
              complaint_id=complaint.complaint_id, deadline=due, verified_on=on)  # fmt: skip
    if c.verdict == "true":
        _note(
            ctx, complaint.provider_id, COMPLAINT_VERIFIED, _last_ref(complaint), complaint.enterprise_id, on,
            complaint_id=complaint.complaint_id, complainant_kind=complaint.complainant_kind, nature=complaint.nature,
        )  # fmt: skip


# --- appeals -----------------------------------------------------------------------------


def resolve_appeal_targets(provider: Provider, refs: list[str], may_void: tuple[str, ...]) -> list[str]:
    """Map the refs an appeal names (a provider's fact or sanction, or the project or
    complaint event a fact came from) to the provider's own refs, checking the ground allows each."""
    targets = []
    for ref in refs:
        if ref in provider.sanctions:
            kind = provider.sanctions[ref]["sanction"]
        elif ref in provider.facts:
            kind = provider.facts[ref]["kind"]
        else:
            fact = provider.find_fact_by_source(ref)
            if fact is None:
                raise DomainError(f"{ref} is not evidence or a sanction in provider {provider.provider_id}'s record")
            ref, kind = fact["ref"], fact["kind"]
        if "*" not in may_void and kind not in may_void:
            raise DomainError(f"{ref} is a {kind}; this ground of appeal concerns {', '.join(may_void)}")
        if ref in provider.voided:
            raise DomainError(f"{ref} was already voided by appeal {provider.voided[ref]}")
        targets.append(ref)
    return targets


def file_appeal(c: m.FileAppeal, ctx: Context) -> None:
    if ctx.uow.find(Appeal, c.appeal_id) is not None:
        raise DomainError(f"appeal {c.appeal_id} is already filed")
    provider = _provider(ctx, c.provider_id)
    pack = ctx.pack(provider.jurisdiction)
    if not pack.appeal_grounds:
        raise DomainError(f"{pack.short}: the rulebook ({pack.document}) provides no grounds of appeal")
    ground = pack.appeal_grounds.get(c.ground)
    if ground is None:
        raise DomainError(f"{pack.short} allows appeals on {', '.join(pack.appeal_grounds)}, not {c.ground!r}")
    if pack.appeal_statement is not None:
        stated = {"matter": c.matter, "reasons": c.reasons, "purpose": c.purpose, "supporting_evidence": "".join(c.supporting_evidence)}
        missing = [name for name, text in stated.items() if not text.strip()]
        if missing:
            raise DomainError(f"{pack.appeal_statement.label}: {pack.appeal_statement.text} — missing {', '.join(missing)}")
    targets = resolve_appeal_targets(provider, list(c.evidence_refs), ground.may_void)
    on = ctx.effective(c, provider.begins, *(_took_effect(provider, ref) for ref in targets))
    ctx.uow.add(
        Appeal(
            appeal_id=c.appeal_id,
            provider_id=c.provider_id,
            jurisdiction=provider.jurisdiction,
            ground=c.ground,
            citation=ground.citation.as_dict(),
            evidence_refs=list(c.evidence_refs),
            matter=c.matter,
            reasons=c.reasons,
            purpose=c.purpose,
            supporting_evidence=list(c.supporting_evidence),
            effective_on=on,
        )
    )


def decide_appeal(c: m.DecideAppeal, ctx: Context) -> None:
    appeal = ctx.uow.get(Appeal, c.appeal_id)
    if appeal.status != "filed":
        raise DomainError(f"appeal {c.appeal_id} was already {appeal.status}")
    on = ctx.effective(c, appeal.begins)
    appeal.decide(upheld=c.upheld, reasons=c.reasons, effective_on=on)
    if not c.upheld:
        return
    provider = _provider(ctx, appeal.provider_id)
    ground = ctx.pack(provider.jurisdiction).appeal_grounds[appeal.ground]
    targets = resolve_appeal_targets(provider, appeal.evidence_refs, ground.may_void)
    appeal_ref = _last_ref(appeal)
    provider.void_evidence(refs=targets, appeal_ref=appeal_ref, effective_on=on)
    # what no longer holds is rescinded on the day the appeal was decided
    ctx.reconcile(provider, on, appeal_ref=appeal_ref)


# --- rulebooks and deadlines -----------------------------------------------------------------


def _rulebook(ctx: Context, jurisdiction: str, on: date) -> Rulebook:
    rulebook = ctx.uow.find(Rulebook, jurisdiction)
    if rulebook is None:
        rulebook = Rulebook(jurisdiction=jurisdiction, effective_on=on)
        ctx.uow.add(rulebook)
    return rulebook


def declare_rulebook_validity(c: m.DeclareRulebookValidity, ctx: Context) -> None:
    if c.valid_from and c.valid_until and c.valid_until < c.valid_from:
        raise DomainError(f"valid_until {c.valid_until} is before valid_from {c.valid_from}", field="valid_until")
    on = ctx.effective(c)
    _rulebook(ctx, c.jurisdiction, on).declare_validity(valid_from=c.valid_from, valid_until=c.valid_until, reference=c.reference, effective_on=on)
    _rejudge(ctx, c.jurisdiction, on)


def _rejudge(ctx: Context, jurisdiction: str, on: date) -> None:
    """The regulator declared the pack's validity, or changed its parameters, after facts were
    recorded: each provider of the jurisdiction is judged again in the same command. What the facts
    decide now is derived, dated from the facts (a 唐山 blacklisting for two 不满意 of 3-01 recorded
    before the bureau declared 第十八条 "自印发之日起实施" is derived from 3-01), and a sanction derived
    on a day the pack turns out not to have been in force (柳州 第十七条 "有效期至试点工作结束之日",
    declared after) is rescinded from its own day (:func:`ledger.rules.engine.reconcile`)."""
    for provider in ctx.uow.providers_of(jurisdiction):
        ctx.reconcile(provider, on)
    pack = ctx.pack(jurisdiction)
    if pack.fees is not None and pack.fees.failed_acceptance:
        for project in ctx.uow.projects_of(jurisdiction):
            answered = project.paid("fee_withheld") > 0 or project.fees_not_payable or project.prepayment_recoverable
            if project.acceptance == "failed" and project.failed_on is not None and not answered:
                # 唐山 第十四条: a failed acceptance recorded before the date of effect was declared
                _unpaid_after_failed_acceptance(project, pack, project.failed_on)


def set_rulebook_parameters(c: m.SetRulebookParameters, ctx: Context) -> None:
    from pydantic import ValidationError

    current = ctx.pack(c.jurisdiction).params
    try:
        type(current).model_validate({**current.model_dump(), **c.params})
    except ValidationError as error:  # one line naming the parameter, not pydantic's dump
        first = error.errors()[0]
        name = ".".join(str(part) for part in first["loc"])
        field = f"params.{name}" if name else "params"
        if first["type"] == "extra_forbidden":
            message = f"{c.jurisdiction} has no such parameter; its parameters are {', '.join(type(current).model_fields)}"
        else:
            message = f"{first['msg']} (got {first['input']!r})"
        raise DomainError(f"{field}: {message}", field=field) from None
    on = ctx.effective(c)
    _rulebook(ctx, c.jurisdiction, on).set_parameters(params=dict(c.params), reference=c.reference, effective_on=on)
    _rejudge(ctx, c.jurisdiction, on)


def record_passed_deadlines(c: m.RecordPassedDeadlines, ctx: Context) -> None:
    """Records the provider's rectification deadlines, and the answer deadlines of the named
    complaints against it, that have passed by ``as_of``. One provider per command, so the
    scheduler's sweep (:func:`ledger.deadlines.sweep`) never conflicts with every other write.

    A deadline D has passed on D + 1; the overdue fact takes effect that day. A
    rectification completed after its deadline was still overdue on D + 1.
    """
    as_of = c.as_of or ctx.today
    if as_of > ctx.today:
        raise DomainError(f"as_of {as_of} is in the future (today is {ctx.today}): a deadline cannot have passed yet")
    provider = ctx.uow.get(Provider, c.provider_id)
    for complaint_id in c.complaint_ids:
        complaint = ctx.uow.get(Complaint, complaint_id)
        if complaint.provider_id != c.provider_id:
            raise DomainError(f"complaint {complaint_id} is against {complaint.provider_id}, not {c.provider_id}")
        if answer_deadline_passed(complaint, as_of):
            _answer_overdue(ctx, complaint)
    # not an order of a provider out of the pool since before its deadline passed
    _record_overdue(ctx, provider, provider.rectifications_due(as_of))


def _record_overdue(ctx: Context, provider: Provider, due: list[dict]) -> None:
    """Record each of ``due`` overdue from the day after its deadline, then derive."""
    for order in due:
        provider.record_overdue(sanction_ref=order["ref"], deadline=order["deadline"], effective_on=order["deadline"] + timedelta(days=1))
    if due:
        ctx.reconcile(provider)


def answer_deadline_passed(complaint: Complaint, as_of: date) -> bool:
    """The complaint's answer deadline passed before ``as_of`` without an answer, and not recorded yet —
    unless a verdict dated by the deadline concluded the verification first. (A verdict dated after it
    records the lateness itself, :func:`verify_complaint`; one entered before that did not, and is
    found here.)"""
    deadline = complaint.answer_deadline
    verified_on = complaint.verified_on
    concluded = complaint.verdict is not None and (verified_on is None or verified_on <= deadline) if deadline else False
    return bool(deadline and deadline < as_of and complaint.answered_on is None and not complaint.answer_overdue and not concluded)


#: command type -> its handler; bootstrap injects it into the service layer
HANDLERS: dict[type[m.Command], Handler] = {
    m.SubmitApplication: submit_application,
    m.OpenPublicNotice: open_public_notice,
    m.RaiseObjection: raise_objection,
    m.ResolveObjection: resolve_objection,
    m.ClosePublicNotice: close_public_notice,
    m.AdmitProvider: admit_provider,
    m.RefuseAdmission: refuse_admission,
    m.LapseApplication: lapse_application,
    m.RecordProfileChange: record_profile_change,
    m.RecordScore: record_score,
    m.RecordEvaluation: record_evaluation,
    m.RecordStarRating: record_star_rating,
    m.RecordFinding: record_finding,
    m.CompleteRectification: complete_rectification,
    m.SetRectificationPeriod: set_rectification_period,
    m.RecordRectificationRefusal: record_rectification_refusal,
    m.WithdrawFromPool: withdraw_from_pool,
    m.WithholdFees: withhold_fees,
    m.RegisterProject: register_project,
    m.RecordDiagnosis: record_diagnosis,
    m.SubmitFiling: submit_filing,
    m.DecideFiling: decide_filing,
    m.RecordMajorChange: record_major_change,
    m.StartImplementation: start_implementation,
    m.RecordAcceptance: record_acceptance,
    m.RateSatisfaction: rate_satisfaction,
    m.RecordPayment: record_payment,
    m.FileComplaint: file_complaint,
    m.RequestAnswer: request_answer,
    m.RecordAnswer: record_answer,
    m.VerifyComplaint: verify_complaint,
    m.FileAppeal: file_appeal,
    m.DecideAppeal: decide_appeal,
    m.DeclareRulebookValidity: declare_rulebook_validity,
    m.SetRulebookParameters: set_rulebook_parameters,
    m.RecordPassedDeadlines: record_passed_deadlines,
}
