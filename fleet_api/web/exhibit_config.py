"""The configuration page of an exhibit: its versions, and a form to send a new one.

Readers see the versions and what the exhibit did with each; a technician edits inputs,
outputs and behaviours in rows (:mod:`fleet_api.web.config_form`). The document is
checked with the agent's own rules (:mod:`broker.exhibit_config`) and sent through the
same :func:`fleet_api.configuring.push_config` as ``PUT /exhibits/{id}/config``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from broker.config_fields import ACTIONS, EVENTS, INPUTS, OUTPUTS
from broker.exhibit_config import problems
from fleet_api.configuring import push_config
from fleet_api.deps import PublisherDep, SessionDep, SettingsDep
from fleet_api.errors import BrokerUnavailable
from fleet_api.routes.fleet import thresholds
from fleet_api.store.configs import history
from fleet_api.store.exhibits import get_exhibit
from fleet_api.store.fleet_health import exhibit_health
from fleet_api.web import texts
from fleet_api.web.config_form import document_of, rows_of
from fleet_api.web.page import PREFIX, Page, PostedForm, TechnicianPage, ViewerPage
from fleet_api.web.route import PageRoute

router = APIRouter(prefix=PREFIX, route_class=PageRoute, include_in_schema=False)

ExhibitId = Annotated[str, Path(min_length=1, max_length=200)]
VERSIONS_SHOWN = 50
_COLUMNS = {"name", "kind", "input", "event", "output", "action"}


def _field_id(loc: tuple[str | int, ...]) -> str:
    """The form field where a problem at ``loc`` is fixed."""
    if not loc:
        return "config-form"
    head = str(loc[0])
    if head in ("inputs", "outputs", "behaviours") and len(loc) >= 3:
        leaf = str(loc[2])
        column = leaf if leaf in _COLUMNS else "pins" if leaf.endswith("pin") else "options"
        return f"{head}.{loc[1]}.{column}"
    if head == "attract":
        leaf = str(loc[-1])
        return f"attract.{leaf if leaf in ('idle_s', 'output', 'action') else 'options'}"
    if head == "quiet_hours":
        return f"quiet.{loc[-1]}" if len(loc) > 1 else "quiet.start"
    return head


def _render(
    page: Page,
    session: SessionDep,
    settings: SettingsDep,
    exhibit_id: str,
    *,
    document: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    force: bool = False,
    status_code: int = 200,
) -> Response:
    exhibit = get_exhibit(session, exhibit_id=exhibit_id)
    detail = exhibit_health(
        session, exhibit_id=exhibit_id, thresholds=thresholds(settings), now=page.now
    )
    versions = history(session.connection(), exhibit_id=exhibit_id, limit=VERSIONS_SHOWN)
    if document is None:
        document = versions[0].config if versions else {"inputs": []}
    return page.render(
        "exhibits/config.html",
        status_code=status_code,
        exhibit=exhibit,
        detail=detail,
        state_text=texts.config_state(page, detail),
        versions=versions,
        rows=rows_of(document),
        errors=errors or {},
        force=force,
        input_kinds=sorted(INPUTS),
        output_kinds=sorted(OUTPUTS),
        events=list(EVENTS),
        actions=list(ACTIONS),
        notice=page.request.query_params.get("notice"),
    )


@router.get("/exhibits/{exhibit_id}/config")
def config_page(
    page: ViewerPage, session: SessionDep, settings: SettingsDep, exhibit_id: ExhibitId
) -> Response:
    """The exhibit's configuration versions, and (technicians) the form for a new one."""
    return _render(page, session, settings, exhibit_id)


@router.post("/exhibits/{exhibit_id}/config")
def send_config(
    page: TechnicianPage,
    form: PostedForm,
    session: SessionDep,
    publisher: PublisherDep,
    settings: SettingsDep,
    exhibit_id: ExhibitId,
) -> Response:
    """Check the form's document with the agent's rules; send it, or show what is wrong."""
    get_exhibit(session, exhibit_id=exhibit_id)
    fields = {key: value for key, value in form.items() if isinstance(value, str)}
    document = document_of(fields)
    force = fields.get("force") == "true"
    found = problems(document)
    if found:
        errors: dict[str, str] = {}
        for problem in found:
            errors.setdefault(_field_id(problem.loc), f"{problem.setting}: {problem.message}")
        return _render(
            page,
            session,
            settings,
            exhibit_id,
            document=document,
            errors=errors,
            force=force,
            status_code=422,
        )
    notice = "sent"
    try:
        push_config(
            session,
            publisher,
            exhibit_id=exhibit_id,
            document=document,
            force=force,
            timeout_s=settings.mqtt_publish_timeout_s,
            actor=page.actor,
        )
    except BrokerUnavailable:
        session.rollback()
        notice = "broker"
    return page.redirect(page.url(f"/exhibits/{exhibit_id}/config?notice={notice}"))
