"""Staff place a visit's unplaced records from its page, or undo that (issue 16).

The visit page says, per exhibit, how many records may belong to the visit but could not
be placed (``fleet_api.store.unplaced``). Staff who know where the exhibit was count them
in this visit with one button, or undo an earlier choice; both go through
``store.unplaced.assign``, as ``POST /unplaced/assign`` does, and into the audit trail.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from fleet_api.deps import SessionDep
from fleet_api.errors import Conflict, NotFound
from fleet_api.store.unplaced import assign, unplaced_here
from fleet_api.store.visits import get_visit
from fleet_api.web.page import PREFIX, PostedForm, StaffPage
from fleet_api.web.route import PageRoute
from fleet_api.web.visits import VisitId

router = APIRouter(prefix=PREFIX, route_class=PageRoute, include_in_schema=False)


@router.post("/visits/{visit_id}/unplaced")
def place_here(
    page: StaffPage, form: PostedForm, session: SessionDep, visit_id: VisitId
) -> Response:
    """Count an exhibit's unplaced records in this visit (``action=assign``) or undo
    staff's earlier choice for this visit (``action=undo``)."""
    get_visit(session, visit_id=visit_id)
    exhibit_id = str(form.get("exhibit_id", ""))
    action = str(form.get("action", ""))
    here = unplaced_here(session.connection(), visit_id).get(exhibit_id)
    if action not in ("assign", "undo") or here is None:
        return page.redirect(page.url(f"/visits/{visit_id}?problem=unplaced"))
    seqs = here.open_seqs if action == "assign" else here.assigned_seqs
    if seqs:
        try:
            assign(
                session.connection(),
                exhibit_id=exhibit_id,
                seqs=seqs,
                visit_id=visit_id if action == "assign" else None,
                actor=page.actor,
                now=page.now,
            )
        except (Conflict, NotFound):  # a later fact moved them meanwhile: show the page afresh
            session.rollback()
            return page.redirect(page.url(f"/visits/{visit_id}?problem=unplaced"))
        session.commit()
    notice = "unplaced_assigned" if action == "assign" else "unplaced_undone"
    return page.redirect(page.url(f"/visits/{visit_id}?notice={notice}"))
