"""The generator: the builder's passes in order, and the plan they make."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from ledger.demo.incidents import Incidents
from ledger.demo.plan import DeadlineSweep, Deferred, PlanEntry


class _Builder(Incidents):
    """Plans the demo in passes, keeping a shadow of each provider's standing.

    Most providers stay in good standing: each negative fact about them (a warning,
    an order, a 不满意 rating, a verified complaint) is planned only while it keeps
    them below every threshold of their rulebook, and every warning or order is
    rectified before its deadline. A few first-round providers get a scripted
    outcome (``ROLES``): the facts that remove them, on fixed days or from their
    ratings, and what follows (appeals, fees withheld). Commands that need the
    provider in the pool are planned only on days the shadow says it is.
    """



def demo_plan(seed: int = 2024, providers: int = 220) -> list[PlanEntry]:
    """The demo's commands in chronological order, each with the instant it is recorded at.

    ``providers`` is the number of providers admitted to the five pools (a few more
    applicants are refused or lapse); from ``FULL_OUTCOMES`` (150) on, the plan holds
    every scripted outcome, and generating it checks so; smaller plans hold fewer. The
    same seed gives the same plan, command ids included (``demo{seed}-NNNNN``), so run
    it on an empty ledger.

    An entry is ``(instant, command)`` where command is a :class:`~ledger.commands.models.Command`
    or a :class:`Deferred`: a callable ``(ledger) -> Command`` for the commands that name
    events (appeals, rectifications, findings citing evidence). Their refs
    (``aggregate-uuid/version``) depend on the events recorded before them, so they are
    looked up from the ledger when the entry is executed; ``run_demo`` does this.

    Some facts are recorded after they took effect (``effective_on`` earlier than the
    recording day): acceptances, ratings and verified complaints entered late, and
    profile changes reported late. Ineligible applicants are simply not generated: the
    plan contains only commands that succeed.
    """
    builder = _Builder(seed, providers)
    builder.rulebooks()
    builder.providers()
    builder.roles()
    builder.projects_all()
    builder.ratings()
    builder.payments()
    builder.grades()
    builder.scripted()
    builder.routine()
    builder.deadlines()
    return builder.plan()


def plan_fingerprint(plan: Sequence[PlanEntry]) -> str:
    """A SHA-256 over the plan's instants and commands (lazy ones by what they would build)."""
    digest = hashlib.sha256()
    for when, entry in plan:
        if isinstance(entry, Deferred):
            body = json.dumps([entry.command.__name__, entry.fields, entry.refs], default=str, ensure_ascii=False)
        elif isinstance(entry, DeadlineSweep):
            body = json.dumps(["RecordPassedDeadlines", entry.command_id])
        else:
            body = entry.model_dump_json()
        digest.update(f"{when.isoformat()}|{body}\n".encode())
    return digest.hexdigest()
