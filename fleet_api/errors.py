"""Errors raised by the fleet API; each HTTP-facing one knows its status code.

FleetError
 ├── ConfigError (ValueError)              a bad setting; the CLI prints one line, exits 2
 ├── DatabaseError (RuntimeError)          the database cannot be used as it is
 │    └── SchemaOutOfDate                  not migrated to this code's head revision
 ├── BrokerUnavailable (RuntimeError)      503: a message to exhibits could not be published
 ├── NotAuthenticated (PermissionError)    401: no bearer token, or an unknown or revoked one
 ├── Forbidden (PermissionError)           403: the token's role may not do this
 ├── NotFound (LookupError)                404: the resource in the URL does not exist
 │    ├── UnknownExhibit
 │    ├── UnknownSchool
 │    ├── UnknownVisit
 │    ├── UnknownProgramme
 │    ├── UnknownPlace
 │    ├── UnknownToken
 │    └── UnknownRecord                    no unplaced record of the exhibit has this seq
 ├── Conflict                              409: the request contradicts stored state
 │    ├── ExhibitExists
 │    ├── ProgrammeExists                  another programme has this name
 │    ├── ExhibitBooked                    already in a visit overlapping the new one
 │    ├── ExhibitCheckedOut                checked out to another visit, not checked in
 │    ├── ExhibitInRunningVisit            another visit of the exhibit is running now
 │    ├── NotACandidate                    the record's bounds do not meet that visit
 │    └── VisitCancelled                   the visit is cancelled: nothing to send
 └── InvalidRequest (ValueError)           422: well-formed, but cannot be accepted
      ├── UnknownReference                 the body names a school/exhibit that does not exist
      ├── InvalidPlace                     a school's municipality or region is not a place in force
      └── InvalidConfig                    an exhibit configuration the agent would refuse

Ingestion never raises for bad input: a bad message becomes a quarantine row (see
:mod:`fleet_api.inbound`), so these errors are about the API, the config and the database.
"""

from __future__ import annotations

from datetime import datetime


class FleetError(Exception):
    """Root of every error raised by ``fleet_api``."""

    status_code = 500
    code = "internal_error"


class ConfigError(FleetError, ValueError):
    """A setting with a bad value; the message names the setting and the fix."""

    code = "config_error"


class DatabaseError(FleetError, RuntimeError):
    """The database is unreachable or not in a state this code can use."""

    status_code = 503
    code = "database_unavailable"


class SchemaOutOfDate(DatabaseError):
    """The database schema is not at the revision this code needs."""

    code = "schema_out_of_date"


class BrokerUnavailable(FleetError, RuntimeError):
    """A retained message to exhibits could not be published, or not confirmed in time."""

    status_code = 503
    code = "broker_unavailable"


class NotAuthenticated(FleetError, PermissionError):
    """The request carries no valid bearer token (missing, unknown or revoked)."""

    status_code = 401
    code = "not_authenticated"

    def __init__(self, detail: str, *, invalid_token: bool = False) -> None:
        super().__init__(detail)
        # RFC 6750 section 3: say which scheme to use, and whether the token given was bad.
        challenge = 'Bearer error="invalid_token"' if invalid_token else "Bearer"
        self.headers = {"WWW-Authenticate": challenge}


class Forbidden(FleetError, PermissionError):
    """The token is valid but its role may not do this."""

    status_code = 403
    code = "forbidden"


class NotFound(FleetError, LookupError):
    """The resource named in the URL does not exist."""

    status_code = 404
    code = "not_found"


class UnknownExhibit(NotFound):
    """No exhibit is registered with this id."""

    code = "unknown_exhibit"


class UnknownSchool(NotFound):
    """No school has this id."""

    code = "unknown_school"


class UnknownVisit(NotFound):
    """No visit has this id."""

    code = "unknown_visit"


class UnknownProgramme(NotFound):
    """No programme has this id."""

    code = "unknown_programme"


class UnknownPlace(NotFound):
    """No place has this code."""

    code = "unknown_place"


class UnknownToken(NotFound):
    """No API token has this id."""

    code = "unknown_token"


class UnknownRecord(NotFound):
    """No unplaced record of the exhibit has this seq."""

    code = "unknown_record"


class Conflict(FleetError):
    """The request contradicts what is already stored."""

    status_code = 409
    code = "conflict"


class ExhibitExists(Conflict):
    """An exhibit with this id is already registered."""

    code = "exhibit_exists"


class ProgrammeExists(Conflict):
    """Programme names are unique: reports group by them."""

    code = "programme_exists"


class ExhibitBooked(Conflict):
    """An exhibit cannot be in two visits at overlapping times.

    It names the clash (``exhibit_id``, ``visit_id``, its UTC ``starts_at``/``ends_at``)
    so a page can say it in its language and time zone.
    """

    code = "exhibit_booked"

    def __init__(
        self,
        message: str,
        *,
        exhibit_id: str | None = None,
        visit_id: int | None = None,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
    ) -> None:
        super().__init__(message)
        self.exhibit_id, self.visit_id = exhibit_id, visit_id
        self.starts_at, self.ends_at = starts_at, ends_at


class ExhibitCheckedOut(Conflict):
    """An exhibit is checked out to another visit that has not been checked in."""

    code = "exhibit_checked_out"

    def __init__(
        self, message: str, *, exhibit_id: str | None = None, visit_id: int | None = None
    ) -> None:
        super().__init__(message)
        self.exhibit_id, self.visit_id = exhibit_id, visit_id


class ExhibitInRunningVisit(Conflict):
    """Checking out would tag an exhibit with a visit while another visit of it runs.

    Refused, not deferred: the running visit's interactions would carry the wrong tag.
    """

    code = "exhibit_in_running_visit"

    def __init__(
        self, message: str, *, exhibit_id: str | None = None, visit_id: int | None = None
    ) -> None:
        super().__init__(message)
        self.exhibit_id, self.visit_id = exhibit_id, visit_id


class NotACandidate(Conflict):
    """An unplaced record cannot be assigned to a visit its bounds do not meet."""

    code = "not_a_candidate"


class VisitCancelled(Conflict):
    """The visit is cancelled: its exhibits are not checked out to it."""

    code = "visit_cancelled"


class InvalidRequest(FleetError, ValueError):
    """The request is well-formed but cannot be accepted."""

    status_code = 422
    code = "invalid_request"


class UnknownReference(InvalidRequest):
    """The request body refers to a school or exhibit that does not exist."""

    code = "unknown_reference"


class InvalidPlace(InvalidRequest):
    """A school's municipality is not a known place in force, or its region is not the
    municipality's region."""

    code = "invalid_place"


class InvalidConfig(InvalidRequest):
    """An exhibit configuration that breaks the agent's rules (``broker.exhibit_config``);
    the message is the agent's own one line, naming the setting and the fix."""

    code = "invalid_config"
