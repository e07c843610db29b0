"""Commands as REST resources: one POST per command model of ``ledger/commands/models.py``.

The route table below says, for each command, its resource path, who may give it
and whose scope it must fall in. The body is the command model without the
fields the path or the token supply (the path's ids; ``recorded_by`` is always the
token's subject). ``Idempotency-Key`` (or ``command_id`` in the body) names the
command: a retry with the same key is answered from the ledger and writes nothing.
"""
from __future__ import annotations

import inspect
import json
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Path, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field, create_model

from api.auth import Principal, Role
from api.deps import AppDep, PrincipalDep, ViewsDep, may_act_in, roles
from api.errors import Forbidden, Refused
from api.models import CommandAccepted, Problem
from ledger.aggregates import Provider
from ledger.aggregates.complaint import Appeal, Complaint
from ledger.aggregates.project import Project
from ledger.commands import models as c
from ledger.commands.importing import repeated_keys
from ledger.commands.models import Id

router = APIRouter(prefix="/v1", tags=["commands"])

REG = frozenset({Role.regulator})

#: path parameter -> the aggregate whose jurisdiction scopes the command
SCOPES: dict[str, type] = {"provider_id": Provider, "project_id": Project, "complaint_id": Complaint, "appeal_id": Appeal}


@dataclass(frozen=True)
class Action:
    path: str
    command: type[c.Command]
    summary: str
    roles: frozenset[Role] = REG
    tag: str = "providers"

    @property
    def path_params(self) -> list[str]:
        return [part[1:-1] for part in self.path.split("/") if part.startswith("{")]


ACTIONS: tuple[Action, ...] = (
    Action("/providers", c.SubmitApplication, "Record an application to the pool"),
    Action("/providers/{provider_id}/public-notice", c.OpenPublicNotice, "Open the public notice (公示) of an applicant"),
    Action("/providers/{provider_id}/public-notice/closure", c.ClosePublicNotice, "Close the public notice"),
    Action("/providers/{provider_id}/objections", c.RaiseObjection, "Record an objection raised during the notice"),
    Action("/providers/{provider_id}/objections/{objection_id}/resolution", c.ResolveObjection, "Resolve an objection"),
    Action("/providers/{provider_id}/admission", c.AdmitProvider, "Admit an applicant to the pool"),
    Action("/providers/{provider_id}/refusal", c.RefuseAdmission, "Refuse an application"),
    Action("/providers/{provider_id}/lapse", c.LapseApplication, "Record that an application lapsed"),
    Action("/providers/{provider_id}/profile-changes", c.RecordProfileChange, "Record a change of the provider's profile"),
    Action("/providers/{provider_id}/scores", c.RecordScore, "Record a yearly score (天津 第十一条)", tag="findings"),
    Action("/providers/{provider_id}/evaluations", c.RecordEvaluation, "Record a periodic evaluation (省指南 四（三）)", tag="findings"),
    Action("/providers/{provider_id}/star-ratings", c.RecordStarRating, "Record a star rating (新乡 第十四条)", tag="findings"),
    Action("/providers/{provider_id}/findings", c.RecordFinding, "Record a finding of fact citing an article", tag="findings"),
    Action("/providers/{provider_id}/rectifications/completion", c.CompleteRectification, "Record that an order was rectified", tag="findings"),
    Action("/providers/{provider_id}/rectifications/period", c.SetRectificationPeriod, "Set the period to rectify a warning or order derived without one", tag="findings"),
    Action("/providers/{provider_id}/rectifications/refusal", c.RecordRectificationRefusal, "Record a refusal to rectify", tag="findings"),
    Action("/providers/{provider_id}/withdrawal", c.WithdrawFromPool, "Record a withdrawal from the pool"),
    Action("/providers/{provider_id}/withheld-fees", c.WithholdFees, "Record fees withheld", tag="findings"),
    Action("/projects", c.RegisterProject, "Register a project", tag="projects"),
    Action("/projects/{project_id}/diagnosis", c.RecordDiagnosis, "Record the diagnosis", tag="projects"),
    Action("/projects/{project_id}/filing", c.SubmitFiling, "Record the filing (备案)", tag="projects"),
    Action("/projects/{project_id}/filing/decision", c.DecideFiling, "Decide the filing", tag="projects"),
    Action("/projects/{project_id}/major-changes", c.RecordMajorChange, "Record a major change", tag="projects"),
    Action("/projects/{project_id}/implementation", c.StartImplementation, "Record the start of implementation", tag="projects"),
    Action("/projects/{project_id}/acceptance", c.RecordAcceptance, "Record the acceptance (验收)", tag="projects"),
    Action("/projects/{project_id}/payments", c.RecordPayment, "Record a payment", tag="projects"),
    Action("/projects/{project_id}/ratings", c.RateSatisfaction, "Rate a provider of the enterprise's own project", frozenset({Role.enterprise}), "projects"),
    Action("/complaints", c.FileComplaint, "File a complaint", frozenset({Role.enterprise, Role.regulator}), "complaints"),
    Action("/complaints/{complaint_id}/answer-request", c.RequestAnswer, "Ask the provider to answer", tag="complaints"),
    Action("/complaints/{complaint_id}/answer", c.RecordAnswer, "Record the provider's answer", tag="complaints"),
    Action("/complaints/{complaint_id}/verification", c.VerifyComplaint, "Record the verdict on a complaint", tag="complaints"),
    Action("/appeals", c.FileAppeal, "File the provider's own appeal", frozenset({Role.provider}), "appeals"),
    Action("/appeals/{appeal_id}/decision", c.DecideAppeal, "Decide an appeal", tag="appeals"),
    Action("/rulebooks/{jurisdiction}/validity", c.DeclareRulebookValidity, "Declare a rulebook's validity", tag="rulebooks"),
    Action("/rulebooks/{jurisdiction}/parameters", c.SetRulebookParameters, "Set a rulebook's parameters", tag="rulebooks"),
)

_NOT_IN_BODY = {"type", "recorded_by"}


def body_model(action: Action) -> type[BaseModel]:
    """The command model less what the path and the token supply; ``command_id`` optional (the header gives it)."""
    fields: dict[str, Any] = {}
    for name, info in action.command.model_fields.items():
        if name in _NOT_IN_BODY or name in action.path_params:
            continue
        if name == "command_id":
            fields[name] = (Id | None, Field(None, description="the command's id; or send the Idempotency-Key header"))
        else:
            fields[name] = (info.annotation, info)
    return create_model(
        f"{action.command.__name__}Request",
        __config__=ConfigDict(extra="forbid", title=f"{action.command.__name__}Request"),
        __doc__=action.command.__doc__ or action.summary,
        **fields,
    )


class _Pairs(dict):
    """A JSON object as parsed, with the keys it gave more than once."""

    repeated: list[str]


def _pairs(pairs: list[tuple[str, Any]]) -> _Pairs:
    found = _Pairs(pairs)
    found.repeated = repeated_keys(pairs)  # as ledger import finds them
    return found


def _repeated_key(value: Any, at: str = "") -> str | None:
    """The first key some object of the body gives twice, with its path (``params.x``)."""
    if isinstance(value, _Pairs) and value.repeated:
        return f"{at}{value.repeated[0]}"
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, inner in items:
        if (found := _repeated_key(inner, f"{at}{key}.")) is not None:
            return found
    return None


async def unique_keys(request: Request) -> None:
    """Refuse a body giving a key twice (``{"year": 2025, "year": 2026}``) rather than keep the
    last, as ``ledger import`` does; FastAPI has parsed the JSON already (a body that is not JSON
    never gets here)."""
    raw = await request.body()
    try:
        parsed = json.loads(raw, object_pairs_hook=_pairs) if raw else None
    except ValueError:  # not JSON: the body's validation says so
        return
    if (field := _repeated_key(parsed)) is not None:
        raise Refused(f"{field}: the body gives this key more than once", field=field)


def command_id_of(header: str | None, body: str | None) -> str:
    if header and body and header != body:
        raise Refused("Idempotency-Key and command_id differ; send one of them", field="command_id")
    command_id = header or body
    if not command_id:
        raise Refused("an Idempotency-Key header (or command_id) is required to make a retry safe", field="Idempotency-Key")
    return command_id


def jurisdiction_of(app: Any, command: c.Command, action: Action) -> str:
    """Where the command acts: named by it, or the jurisdiction of the aggregate its path names."""
    named = getattr(command, "jurisdiction", None)
    if named is not None:
        return named
    for param, cls in SCOPES.items():
        business_id = getattr(command, param, None)
        if business_id is not None:
            return str(app.ledger.jurisdiction_of(cls, business_id))  # NotFound -> 404
    raise Forbidden(f"{action.command.__name__} names no jurisdiction")


def authorize(principal: Principal, app: Any, command: c.Command, action: Action) -> None:
    if principal.role is Role.public:
        from api.auth import TokenError

        raise TokenError(f"a bearer token is required ({' or '.join(sorted(action.roles))})")
    if principal.role not in action.roles:
        raise Forbidden(f"a {principal.role} may not {action.summary[0].lower()}{action.summary[1:]}")
    if principal.role is Role.regulator:
        may_act_in(principal, jurisdiction_of(app, command, action))
    elif principal.role is Role.provider:  # FileAppeal
        if getattr(command, "provider_id", None) != principal.provider_id:
            raise Forbidden(f"provider {principal.provider_id} may only file its own appeals")
    elif principal.role is Role.enterprise:
        if isinstance(command, c.RateSatisfaction):
            project = app.ledger.load(Project, command.project_id)
            if project.enterprise_id != principal.enterprise_id:
                raise Forbidden(f"enterprise {principal.enterprise_id} may only rate its own projects")
        elif isinstance(command, c.FileComplaint) and (command.complainant_kind != "enterprise" or command.enterprise_id != principal.enterprise_id):
            raise Forbidden(f"enterprise {principal.enterprise_id} files complaints as itself (complainant_kind enterprise, enterprise_id {principal.enterprise_id})")


def _path_kind(name: str) -> Any:
    return c.Jurisdiction if name == "jurisdiction" else Id


#: the header that asks a command's answer to wait until the read models show its effect (read your writes)
WAIT_HEADER = "Wait-For-Read-Models"
#: the longest a request may ask to wait, in seconds
LONGEST_WAIT = 30.0


def _endpoint(action: Action, body_type: type[BaseModel]) -> Any:
    def endpoint(
        response: Response, app: AppDep, views: ViewsDep, principal: PrincipalDep, body: Any, idempotency_key: Any = None, wait: float | None = None,
        unique: None = None, **path: str,
    ) -> CommandAccepted:  # fmt: skip
        data = body.model_dump(exclude_unset=True)
        data.update(path, recorded_by=principal.sub, command_id=command_id_of(idempotency_key, data.get("command_id")))
        command = action.command.model_validate(data)  # the model's own validators too -> 422 naming the field
        authorize(principal, app, command, action)
        if wait is not None and app.projections is None:
            raise Refused("this server keeps no read models of its own: it cannot wait for them", field=WAIT_HEADER)
        result = app.ledger.execute(command)
        response.status_code = status.HTTP_200_OK if result.duplicate else status.HTTP_201_CREATED
        return CommandAccepted(
            command_id=result.command_id, duplicate=result.duplicate, positions=list(result.positions), events=result.events,
            read_models_caught_up=None if wait is None else views.caught_up(max(result.positions, default=0), wait),
        )  # fmt: skip

    path_type: dict[str, Any] = {name: Annotated[_path_kind(name), Path(description=f"the {name.replace('_', ' ')}")] for name in action.path_params}
    parameters = [
        inspect.Parameter("response", inspect.Parameter.KEYWORD_ONLY, annotation=Response),
        inspect.Parameter("app", inspect.Parameter.KEYWORD_ONLY, annotation=AppDep),
        inspect.Parameter("views", inspect.Parameter.KEYWORD_ONLY, annotation=ViewsDep),
        # the role is checked before the body is read: a role that may not gets 401/403, not a 422
        inspect.Parameter("principal", inspect.Parameter.KEYWORD_ONLY, annotation=Annotated[Principal, roles(*sorted(action.roles))]),
        *(inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, annotation=t) for n, t in path_type.items()),
        inspect.Parameter("body", inspect.Parameter.KEYWORD_ONLY, annotation=body_type),
        # after the role's check: a body giving a key twice is refused (422 naming it), not read last-wins
        inspect.Parameter("unique", inspect.Parameter.KEYWORD_ONLY, default=None, annotation=Annotated[None, Depends(unique_keys)]),
        inspect.Parameter(
            "idempotency_key",
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[Id | None, Header(alias="Idempotency-Key", description="names the command; a retry with the same key writes nothing")],
        ),
        inspect.Parameter(
            "wait",
            inspect.Parameter.KEYWORD_ONLY,
            default=None,
            annotation=Annotated[
                float | None,
                Header(
                    alias=WAIT_HEADER, ge=0, le=LONGEST_WAIT,
                    description="seconds (at most 30) to wait before answering until the read models show this command's effect,"
                    " so that the next read sees it; the answer says whether they did (read_models_caught_up)",
                ),
            ],
        ),
    ]
    endpoint.__signature__ = inspect.Signature(parameters, return_annotation=CommandAccepted)  # type: ignore[attr-defined]
    endpoint.__name__ = action.command.__name__
    return endpoint


_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"model": Problem, "description": text}
    for code, text in (
        (200, "already recorded under this key: nothing new written"),
        (401, "no or bad bearer token"),
        (403, "the role or scope may not"),
        (404, "no such provider, project, complaint or appeal"),
        (409, "concurrent writers, or the key was used for another command"),
        (422, "bad input (names the field) or a rule refusal (names the article)"),
    )
}
_ERRORS[200] = {"model": CommandAccepted, "description": "already recorded under this key: nothing new written"}

for _action in ACTIONS:
    router.add_api_route(
        _action.path,
        _endpoint(_action, body_model(_action)),
        methods=["POST"],
        status_code=status.HTTP_201_CREATED,
        response_model=CommandAccepted,
        summary=_action.summary,
        tags=[_action.tag],
        responses=_ERRORS,
        operation_id=_action.command.__name__,
    )

