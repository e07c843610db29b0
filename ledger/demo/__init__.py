"""A deterministic two-year demo data set (2024-01 .. 2025-12), fed through the command layer.

``demo_plan(seed)`` generates, with a seeded ``random.Random``, what five bureaus'
pools of digital-transformation service providers would record over two years:
applications and admissions, pilot-enterprise projects from diagnosis to
payment, yearly grades, complaints, findings, rectification, appeals and exits.
Every command in the plan succeeds when the plan is run, in order, on an empty
ledger (``run_demo``): the generator keeps a shadow of each provider's standing
and only plans what the rulebooks allow at that date. The outcome contains every
kind of removal the five rulebooks know, and reinstatements after upheld appeals.

    from ledger.bootstrap import bootstrap
    from ledger.clock import ManualClock
    from ledger.demo import DEMO_START, demo_plan, registry_summary, run_demo
    from ledger.settings import Settings

    with bootstrap(Settings(database_url="sqlite:///demo.db"), clock=ManualClock(DEMO_START)) as app:
        summary = run_demo(app.ledger, demo_plan(seed=2024), progress=lambda done, total: ...)
        print(summary.commands, summary.events, summary.seconds, registry_summary(app.ledger))

Names of companies, enterprises and people, addresses, document references and
findings are invented; the rulebook references carry "（演示数据）".
"""
from __future__ import annotations

from ledger.demo.builder import demo_plan, plan_fingerprint
from ledger.demo.plan import DEMO_END, DEMO_START, DeadlineSweep, Deferred, DemoError, PlanEntry, locate
from ledger.demo.run import DemoSummary, registry_summary, run_demo

__all__ = [
    "DEMO_END", "DEMO_START", "DeadlineSweep", "Deferred", "DemoError", "DemoSummary", "PlanEntry",
    "demo_plan", "locate", "plan_fingerprint", "registry_summary", "run_demo",
]  # fmt: skip
