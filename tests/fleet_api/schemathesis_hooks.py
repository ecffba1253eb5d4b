"""schemathesis hooks for the live run (``SCHEMATHESIS_HOOKS=tests.fleet_api.schemathesis_hooks``).

- ``schema_valid_is_accepted``: schemathesis' ``positive_data_acceptance`` counts every
  422 to schema-valid input as a failure. Ours allows exactly the refusals a schema cannot
  state: a rule across fields (``ends_at`` after ``starts_at``: an error located at the
  whole body), ``to`` after ``from``, and refusals by the data's state (an unknown place,
  a visit that is not cancelled: a domain ``code``, not ``validation_error``). A 422
  located at one field of schema-valid input is a failure: the schema did not say it.
- The run's own admin token (id 1, made by ``FLEET_BOOTSTRAP_ADMIN_TOKEN`` on an empty
  database) is never revoked (``DELETE /tokens/1`` is sent for a token that does not
  exist), or every later operation would only see 401.
"""

from __future__ import annotations

from typing import Any

import schemathesis
from schemathesis.openapi.checks import RejectedPositiveData
from schemathesis.specs.openapi.checks import positive_data_acceptance

ACROSS_PARAMETERS: dict[tuple[Any, ...], str] = {("query", "to"): "must be after from"}
"""Rules between parameters: (location, message start)."""
ADMIN_TOKEN_ID = 1


def _across_fields(error: dict[str, Any]) -> bool:
    location = tuple(error.get("loc", ()))
    if location == ("body",):
        return True
    start = ACROSS_PARAMETERS.get(location)
    return start is not None and str(error.get("msg", "")).startswith(start)


@schemathesis.check
def schema_valid_is_accepted(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """schemathesis' own ``positive_data_acceptance``, but a refusal by a rule the schema
    cannot state (across fields, the data's state) is no failure."""
    try:
        return positive_data_acceptance(ctx, response, case)
    except RejectedPositiveData:
        if response.status_code == 422 and _refused_by_rule_or_state(response.json()):
            return None
        raise


def _refused_by_rule_or_state(body: dict[str, Any]) -> bool:
    if body.get("code") != "validation_error":
        return True  # refused by the data's state: an unknown place, no destination, ...
    return all(_across_fields(e) or _beyond_doubles(e) for e in body.get("errors", []))


def _beyond_doubles(error: dict[str, Any]) -> bool:
    """Seqs go up to 2**63 - 1 (the contract's range): schemathesis' validator reads JSON
    numbers as doubles, so 2**63 + 191 is 2**63 to it, equal to the bound. The API's
    refusal of it is right; the validator cannot tell (ids stop at 2**53 - 1 for this)."""
    value = error.get("input")
    return (
        error.get("type") == "less_than_equal"
        and isinstance(value, int)
        and value > 2**53
        and float(value) == float(error.get("ctx", {}).get("le", 0))
    )


@schemathesis.hook
def before_call(ctx: schemathesis.HookContext, case: schemathesis.Case, **kwargs: Any) -> None:
    """``DELETE /tokens/1`` deletes a token that does not exist instead: not the run's own."""
    operation = case.operation
    deletes_a_token = (operation.method.upper(), operation.path) == ("DELETE", "/tokens/{token_id}")
    if deletes_a_token and str((case.path_parameters or {}).get("token_id")) == str(ADMIN_TOKEN_ID):
        case.path_parameters = {**(case.path_parameters or {}), "token_id": 2**40}
