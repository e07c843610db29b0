"""Derivation: what a provider's record makes the pack's counted rules decide.

``reconcile`` is called after every fact recorded about a provider. It is a
pure decision over the provider aggregate (no I/O); its only effects are the
events it triggers on the aggregate:

1. rescind every sanction that no longer holds: the sanction itself, or the
   finding a regulator's sanction applies, was voided by an upheld appeal, or
   the live evidence a derived sanction cites no longer fires its rule with the
   parameters it was derived with (repeated, since one rescission can undo
   another: a voided 不满意 rating rescinds the warning derived from it, which
   rescinds the disqualification that counted the warning);
2. reinstate a provider that was out of the pool only by sanctions now rescinded —
   unless other live evidence still fires a removal rule, which is then recorded
   in place of the rescinded removal, with no reinstatement in between;
3. impose, earliest condition first, each decision that holds and is not yet
   recorded — only for conditions that became true on a day the provider was in
   the pool (whatever was recorded since: a removal entered first but dated later
   does not keep out what the facts had decided before it) and inside the pack's
   validity window, counting only what took effect from the pack's date of effect
   and from the provider's admission on.

Dates come from the facts, never from the day they are recorded: a derived
sanction takes effect on the day its condition became true, and its deadline
runs from that day; a rescission and a reinstatement take effect on the date of
the fact that caused them (``on``: the appeal's decision), so a history as of
any later day shows them even when the appeal is entered long after.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import date

from ledger.aggregates.provider import Provider, ProviderView
from ledger.rules.base import Decision, Item, Rule, RulePack, View, is_removal, ref_key

MAX_ROUNDS = 100


def reconcile(provider: Provider, pack: RulePack, on: date, appeal_ref: str | None = None) -> list[str]:
    """Bring the provider's derived sanctions in line with its live evidence.

    ``on`` is the effective date of the fact just recorded (an appeal's decision):
    rescissions and a reinstatement take effect that day. Returns the refs of the
    sanctions it rescinded.
    """
    rescinded = _rescind_stale(provider, pack, on, appeal_ref)
    if rescinded:
        removed_by = [provider.sanctions[r] for r in rescinded if is_removal(provider.sanctions[r]["sanction"])]
        if removed_by and not provider.active_removals() and provider.exit_day is None:
            replacement = [
                d for d in pending_decisions(provider, pack) if is_removal(d.rule.sanction) and pack.in_force(d.condition_on)
            ]
            if replacement:
                # other live evidence still removes the provider: record that removal instead of
                # a reinstatement that would never have taken effect
                impose(provider, pack, replacement[0])
                return rescinded
            provider.reinstate(
                reason="the removal no longer holds after the appeal" if appeal_ref else "the removal no longer holds",
                rescinded=[s["ref"] for s in removed_by],
                # back in the pool when the last of them ended (each rescission's day)
                effective_on=max(provider.status_since, *(s["rescinded_on"] for s in removed_by)),
            )
    _impose_new(provider, pack)
    return rescinded


class SinceView:
    """A provider's record as a pack counts it: nothing effective before the pack came into
    force (or before the provider joined the pool). Earlier facts stay on record, but the pack's
    rules do not reach back to them (a count first met before the date of effect must not keep
    the rule from ever firing). With ``until``, nothing effective after that day either (the
    record as it stood on a day: :func:`_judged_day_by_day`)."""

    def __init__(self, view: View, since: date | None, until: date | None = None) -> None:
        self._view = view
        self._since = since
        self._until = until

    def _after(self, items: list[Item]) -> list[Item]:
        since, until = self._since, self._until
        if since is None and until is None:
            return items
        return [i for i in items if (since is None or i.effective_on >= since) and (until is None or i.effective_on <= until)]

    def facts(self, kind: str) -> list[Item]:
        return self._after(self._view.facts(kind))

    def sanctions(self, kind: str) -> list[Item]:
        return self._after(self._view.sanctions(kind))


def pending_decisions(provider: Provider, pack: RulePack) -> list[Decision]:
    """Decisions that hold now and are not yet recorded (whatever the pool status and
    validity), counting only what took effect from the pack's ``valid_from`` on and from the
    provider's admission on: a provider is sanctioned as one of the pool, for what happened since it
    joined it (nothing removes it from the pool before it was in it)."""
    since = max((d for d in (pack.valid_from, provider.admitted_on) if d is not None), default=None)
    record = ProviderView(provider)
    active = provider.active_sanctions()
    recorded_keys = {s["key"] for s in active}
    recorded_rules = {s["rule_id"] for s in active}
    found: list[Decision] = []
    view = SinceView(record, since)
    for rule in pack.rules:
        excused = provider.excused.get(rule.id, ())
        param = getattr(rule, "param", "")
        if param and pack.changes_param(param):
            decisions = _judged_day_by_day(rule, record, since, pack, excused)
        else:
            decisions = rule.decisions(view, pack.params, excused)
        for decision in decisions:
            one_shot = decision.key == rule.id
            if decision.key in recorded_keys or (one_shot and rule.id in recorded_rules):
                continue
            found.append(decision)
    return sorted(found, key=lambda d: (d.condition_on, d.rule.id, [ref_key(r) for r in d.evidence]))


def _judged_day_by_day(rule: Rule, record: View, since: date | None, pack: RulePack, excused: Iterable[str]) -> list[Decision]:
    """A counted rule whose threshold the regulator changed: the whole record counts, and each day an
    item of the rule took effect is judged with the threshold in force that day (a change applies
    from its day on and never reaches back: 立法法 第一百零四条 不溯及既往). The rule fires on the first
    such day its count meets that day's threshold, citing what it counted up to that day."""
    items = rule._live(SinceView(record, since), excused)
    for day in sorted({item.effective_on for item in items}):
        decisions = rule.decisions(SinceView(record, since, day), pack.as_of(day).params, excused)
        if decisions:
            first = decisions[0]
            if first.condition_on == day:
                return [first]
            # met with that day's threshold by items of earlier days, on which it was not: that day's
            # item completes the count, and is counted with them
            counted = [i.ref for i in items if i.effective_on == day]
            return [replace(first, condition_on=day, evidence=(*first.evidence, *(r for r in counted if r not in first.evidence)))]
    return []


def _rescind_stale(provider: Provider, pack: RulePack, on: date, appeal_ref: str | None) -> list[str]:
    rescinded: list[str] = []
    for _ in range(MAX_ROUNDS):
        view = ProviderView(provider)
        stale = None
        for sanction in provider.active_sanctions():
            if sanction["ref"] in provider.voided:
                stale = (sanction, "the sanction was voided by an upheld appeal")
                break
            if not pack.in_force(sanction["effective_on"]):  # derived, or a finding applying an article (both need the text in force)
                stale = (sanction, f"{pack.validity.label} was not in force on {sanction['effective_on']}, as its regulator declared")
                break
            if not sanction["derived"]:
                if any(ref in provider.voided for ref in sanction["evidence"]):
                    stale = (sanction, "the finding it applies was voided by an upheld appeal")
                    break
                continue
            rule = _rule(pack, sanction["rule_id"])
            if rule is not None and not _still_holds(rule, view, pack, sanction):
                why = [w for w in (provider.why_not_counted(ref) for ref in sanction["evidence"]) if w]
                stale = (sanction, f"{rule.citation.label} no longer holds on the live evidence" + (f": {'; '.join(why)}" if why else ""))
                break
        if stale is None:
            return rescinded
        sanction, reason = stale
        # a sanction cannot be rescinded before it took effect (an appeal decided on a day
        # before a sanction derived from later facts); one derived on a day the pack was not in
        # force never took effect: it is rescinded from its own day
        effective_on = max(on, sanction["effective_on"]) if pack.in_force(sanction["effective_on"]) else sanction["effective_on"]
        provider.rescind(sanction_ref=sanction["ref"], reason=reason, appeal_ref=appeal_ref, effective_on=effective_on)
        rescinded.append(sanction["ref"])
    raise RuntimeError("rescission did not settle")


def _impose_new(provider: Provider, pack: RulePack) -> None:
    for _ in range(MAX_ROUNDS):
        moved = sorted((_when_in_pool(provider, d) for d in pending_decisions(provider, pack)), key=lambda d: d.condition_on)
        # only what became true on a day the provider was in the pool, whatever was recorded since
        # (a removal entered first but dated later does not keep out what the facts decided before it)
        decisions = [d for d in moved if pack.in_force(d.condition_on) and provider.in_pool_on(d.condition_on)]
        if not decisions:
            return
        impose(provider, pack, decisions[0])
    raise RuntimeError("derivation did not settle")


def _when_in_pool(provider: Provider, decision: Decision) -> Decision:
    """A decision whose condition became true while a removal kept the provider out of the pool
    (a removal later rescinded, not from its own day) takes effect the day it came back, not
    earlier: nothing removes a provider, or orders it to rectify, on a day it was not in the pool.
    The pack's window is checked on that day."""
    removal = provider.out_of_pool_on(decision.condition_on)
    while removal is not None and removal["rescinded_on"] is not None:
        decision = replace(decision, condition_on=removal["rescinded_on"])
        removal = provider.out_of_pool_on(decision.condition_on)
    return decision


def impose(provider: Provider, pack: RulePack, decision: Decision) -> None:
    """Record a derived sanction, effective the day its condition became true. A warning or order
    to rectify (限期整改) gets the period the bureau set for such orders (its parameter
    ``rule.deadline_param``, as in force that day), running from that day (民法典 第二百零一条、
    第二百零三条, :mod:`ledger.rules.calendar`); while the bureau has set none, it is recorded without
    a deadline, and the regulator sets its period (:class:`~ledger.commands.models.SetRectificationPeriod`)."""
    rule = decision.rule
    params = dict(decision.params)
    deadline = None
    if rule.deadline_param:
        in_force = pack.as_of(decision.condition_on).params  # the period of the day the order took effect
        days = getattr(in_force, rule.deadline_param)
        if days is not None:
            params[rule.deadline_param] = days
            period = in_force.period(decision.condition_on, days)
            params.update(period.params())
            deadline = period.due
    provider.impose(
        sanction=rule.sanction,
        rule_id=rule.id,
        key=decision.key,
        citation=rule.citation.as_dict(),
        pack_version=pack.version,
        params=params,
        evidence=list(decision.evidence),
        condition_on=decision.condition_on,
        deadline=deadline,
        consequences=list(rule.consequences),
        derived=True,
        effective_on=decision.condition_on,
    )


def _still_holds(rule: Rule, view: View, pack: RulePack, sanction: dict) -> bool:
    """Whether the live part of a derived sanction's evidence still fires its rule, with the parameters
    it was derived with. For a threshold the regulator changed, derived day by day
    (:func:`_judged_day_by_day`), the item that completed the count (the last it cites) must still be
    live too: without it, what is left are earlier items, judged on their own days by their own
    threshold."""
    if not rule.still_holds(view, _params_of(pack, sanction), sanction["evidence"]):
        return False
    param = getattr(rule, "param", "")
    if not (param and pack.changes_param(param)) or not sanction["evidence"]:
        return True
    return sanction["evidence"][-1] in {item.ref for item in rule._live(view)}


def _params_of(pack: RulePack, sanction: dict):
    """The parameters in force on the day the sanction took effect, as the regulator's changes now
    stand: a change dated after that day applies to new decisions and does not undo it; one dated on
    or before it — entered after the sanction was derived — judges it as it would have been judged
    had it been entered first (raised from 1-01, a threshold the 3-01 facts no longer meet rescinds it).
    Parameters the pack does not change are those the sanction was derived with."""
    fields = type(pack.params).model_fields
    recorded = pack.params.model_copy(update={k: v for k, v in sanction["params"].items() if k in fields})
    if not pack.param_changes:
        return recorded
    day = sanction.get("condition_on") or sanction["effective_on"]
    in_force = pack.as_of(day).params
    return recorded.model_copy(update={k: getattr(in_force, k) for k in fields if pack.changes_param(k)})


def _rule(pack: RulePack, rule_id: str):
    try:
        return pack.rule(rule_id)
    except KeyError:
        return None
