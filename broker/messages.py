"""Versioned MQTT payloads: pydantic v2 models, frozen, strict about extra fields.

Every payload is JSON with an explicit ``schema_version``. Times are UTC-aware.
An interaction record carries what the fleet needs to place it in the right visit
even when the Pi's clock is wrong: the boot it happened in, the monotonic time within
that boot, the wall time as the Pi saw it, whether that wall clock was synced, and
the visit the exhibit was assigned to at the time (if any).

Records carry a persistent, gap-free 64-bit ``seq`` per exhibit. Ingestion is
idempotent on (exhibit_id, seq): a redelivered record changes nothing. After each commit
the fleet tells the exhibit which seqs it has stored (``Custody``); only then does the
exhibit stop sending a record, and it keeps it for a while in case the fleet asks for
it again (``Resend``, after a restore from backup).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    model_validator,
)

from broker.errors import MessageError
from broker.exhibit_config import config_hash as hash_of
from broker.exhibit_config import describe, problems
from broker.limits import (
    BOOT_ID_MAX_LENGTH,
    BOOT_ID_PATTERN,
    INPUT_NAME_PATTERN,
    MAX_AMOUNT,
    MAX_CUSTODY_RANGES,
    MAX_PAYLOAD_BYTES,
    MAX_RECORDS_PER_BATCH,
    MAX_SPAN_S,
    REFUSED,
    SCHEMA_VERSION,
    SEQ_MAX,
)
from broker.topics import EXHIBIT_ID_PATTERN, Channel

ExhibitId = Annotated[str, Field(pattern=EXHIBIT_ID_PATTERN)]
InputName = Annotated[str, Field(pattern=INPUT_NAME_PATTERN)]
Seq = Annotated[int, Field(ge=1, le=SEQ_MAX)]
VisitId = Annotated[int, Field(ge=1, le=SEQ_MAX)]
BootId = Annotated[str, Field(min_length=1, max_length=BOOT_ID_MAX_LENGTH, pattern=BOOT_ID_PATTERN)]
ShortText = Annotated[str, Field(max_length=64, pattern=r"^[^\x00-\x1f]*$")]
ConfigVersion = Annotated[int, Field(ge=1, le=SEQ_MAX)]
ConfigHash = Annotated[str, Field(pattern=r"^[0-9a-f]{16}$")]
CommandId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")]
Topic = Annotated[str, Field(min_length=1, max_length=256)]
Refused = Annotated[dict[Topic, ShortText], Field(max_length=16, description=REFUSED)]


def utc_now() -> datetime:
    """Current wall time, UTC-aware."""
    return datetime.now(UTC)


class Message(BaseModel):
    """Base of every payload: immutable, no unknown fields, no NaN or infinity."""

    model_config = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

    def to_payload(self) -> bytes:
        """Serialise to the JSON bytes sent over MQTT (absent optional values omitted)."""
        return self.model_dump_json(exclude_none=True).encode()


class CountRecord(Message):
    """Interactions counted on one input during one time bucket of one boot."""

    type: Literal["count"] = "count"
    seq: Seq
    input: InputName
    start: AwareDatetime = Field(description="wall time at bucket start, as the Pi's clock said")
    mono_start: float = Field(ge=0, description="monotonic seconds since boot at bucket start")
    seconds: float = Field(gt=0, le=MAX_SPAN_S, description="bucket length")
    count: int = Field(ge=0, le=MAX_AMOUNT)
    boot_id: BootId
    clock_synced: bool
    visit_id: VisitId | None = Field(
        default=None, description="visit the exhibit was assigned to when counting"
    )


class SessionRecord(Message):
    """One engagement session: a burst of interactions ended by an idle timeout.

    Times are those of the first and last interaction; ``dwell_s`` is measured on the
    monotonic clock, so it is right even when the wall clock is not.
    """

    type: Literal["session"] = "session"
    seq: Seq
    start: AwareDatetime = Field(description="wall time of the first interaction")
    mono_start: float = Field(ge=0)
    dwell_s: float = Field(ge=0, le=MAX_SPAN_S, description="first to last interaction")
    interactions: int = Field(ge=1, le=MAX_AMOUNT)
    boot_id: BootId
    clock_synced: bool
    visit_id: VisitId | None = None


Record = Annotated[CountRecord | SessionRecord, Field(discriminator="type")]


class CountBatch(Message):
    """Many records in one message: the unit the agent publishes and the broker acks."""

    schema_version: Literal[1] = 1
    exhibit_id: ExhibitId
    sent_at: AwareDatetime
    records: list[Record] = Field(min_length=1, max_length=MAX_RECORDS_PER_BATCH)


class Status(Message):
    """Retained online/offline status: the birth message, or the last will when offline."""

    schema_version: Literal[1] = 1
    exhibit_id: ExhibitId
    online: bool
    at: AwareDatetime | None = Field(default=None, description="absent in the last will")
    boot_id: BootId | None = None
    agent_version: ShortText | None = None
    config_hash: ShortText | None = None
    inputs: list[InputName] | None = None
    config_version: ConfigVersion | None = Field(
        default=None,
        description="the version of the fleet's configuration it runs (config_hash is its "
        "hash); absent: it runs its local configuration",
    )
    refused_subscriptions: Refused | None = None


class Heartbeat(Message):
    """Periodic health; values the Pi cannot measure are absent, never invented."""

    schema_version: Literal[1] = 1
    exhibit_id: ExhibitId
    at: AwareDatetime
    boot_id: BootId
    uptime_s: float = Field(ge=0)
    clock_synced: bool
    outbox_depth: int = Field(ge=0)
    cpu_temp_c: float | None = None
    under_voltage: bool | None = None
    throttled: bool | None = None
    disk_free_bytes: int | None = Field(default=None, ge=0)
    mem_available_bytes: int | None = Field(default=None, ge=0)
    wifi_signal_dbm: float | None = None
    retained_from_seq: Seq | None = Field(
        default=None,
        description="the oldest record the exhibit still holds, confirmed or not: a resend "
        "can start there; absent when it holds none",
    )
    retained_records: int | None = Field(
        default=None, ge=0, description="records the fleet confirmed that the exhibit keeps"
    )
    refused_subscriptions: Refused | None = None


class Assignment(Message):
    """Retained command: the visit an exhibit is checked out to, or none."""

    schema_version: Literal[1] = 1
    exhibit_id: ExhibitId
    visit_id: VisitId | None = Field(default=None, description="absent: checked in, no visit")
    issued_at: AwareDatetime


class Command(Message):
    """Retained command to one exhibit; the agent runs each ``command_id`` once.

    Its age is judged twice, so that an exhibit with an unsynced clock can judge it too:
    the fleet publishes it with an MQTT v5 Message Expiry Interval, so the broker's clock
    drops it at ``expires_at`` (and a delivery carries the time left), and an agent whose
    clock is synced also compares ``expires_at`` with its own. An exhibit that holds a
    visit assignment runs no self-test unless ``force``: a school's presses are not a
    technician's. The agent reports what became of it (``CommandDone``); the fleet then
    clears the retained message.
    """

    schema_version: Literal[1] = 1
    exhibit_id: ExhibitId
    command_id: CommandId
    action: Literal["identify", "self_test"]
    seconds: float = Field(gt=0, le=600, description="blink for / wait for presses during")
    issued_at: AwareDatetime
    expires_at: AwareDatetime | None = Field(
        default=None, description="not run after this (judged by a synced clock)"
    )
    force: StrictBool | None = Field(
        default=None, description="true: self-test even while the exhibit is in a visit"
    )


CommandOutcome = Literal["ran", "expired", "refused_in_visit", "refused_unknown_age"]
"""What an exhibit did with a command: ran it; skipped it as expired; refused a self-test
while it held a visit (no ``force``); refused a forced self-test in a visit whose age it
could not judge (no synced clock, no broker expiry)."""


class CommandDone(Message):
    """What became of a command (agent -> fleet, QoS 1): the fleet may clear it now."""

    schema_version: Literal[1] = 1
    exhibit_id: ExhibitId
    command_id: CommandId
    action: Literal["identify", "self_test"]
    outcome: CommandOutcome
    at: AwareDatetime = Field(description="when the exhibit decided, by its own clock")
    clock_synced: bool
    visit_id: VisitId | None = Field(default=None, description="the visit the exhibit held")


class SelfTestResult(Message):
    """Which inputs the technician's presses reached during a self-test window.

    ``taken``: interactions the window took out of the counts, by count name (absent from
    agents before issue 13): presses during a self-test are a technician's, reported
    here and counted by the fleet as self-test presses, never lost without a trace.
    """

    schema_version: Literal[1] = 1
    exhibit_id: ExhibitId
    command_id: str = Field(min_length=1, max_length=64)
    at: AwareDatetime
    seen: dict[InputName, bool]
    passed: bool
    taken: dict[InputName, Annotated[int, Field(ge=0, le=MAX_AMOUNT)]] | None = None


class Custody(Message):
    """What the fleet has stored of one exhibit's records; sent after each commit, QoS 1.

    Every seq below ``stored_below`` is stored, and so is every seq of ``ranges``
    (``[first, last]``, sorted, above ``stored_below``, apart from each other). A custody
    message is true when it is sent and stays true, so an exhibit takes the union of all
    it receives, in whatever order; a fleet restored from backup asks with ``Resend``
    for what it lost, never by sending less here.
    """

    schema_version: Literal[1] = 1
    exhibit_id: ExhibitId
    stored_below: Seq = Field(description="every seq below this one is stored")
    ranges: list[tuple[Seq, Seq]] = Field(default_factory=list, max_length=MAX_CUSTODY_RANGES)
    at: AwareDatetime = Field(description="when the fleet committed, by the fleet's clock")

    @model_validator(mode="after")
    def _ordered(self) -> Custody:
        floor = self.stored_below
        for first, last in self.ranges:
            if not floor < first <= last:
                raise ValueError(
                    f"ranges: [{first}, {last}] must be ordered and lie above "
                    f"stored_below ({self.stored_below}) and the range before it"
                )
            floor = last + 1
        return self


class Resend(Message):
    """Retained: send every record held from ``from_seq`` on again, once per ``command_id``.

    The fleet lacks them: it was restored from a backup, or a technician asked.
    """

    schema_version: Literal[1] = 1
    exhibit_id: ExhibitId
    command_id: CommandId
    from_seq: Seq
    issued_at: AwareDatetime


class ExhibitConfig(Message):
    """Retained: the configuration the fleet wants an exhibit to run (its newest version).

    ``config`` is checked by ``broker.exhibit_config`` (the same rules the agent applies);
    ``config_hash`` is its hash, which the agent reports once it runs it. An exhibit holding
    a visit assignment applies it only after the visit, unless ``force``.
    """

    schema_version: Literal[1] = 1
    exhibit_id: ExhibitId
    version: ConfigVersion
    config_hash: ConfigHash
    config: dict[str, Any]
    issued_at: AwareDatetime
    force: StrictBool | None = Field(
        default=None, description="true: apply even while the exhibit is in a visit"
    )

    @model_validator(mode="after")
    def _valid(self) -> ExhibitConfig:
        found = problems(self.config)
        if found:
            raise ValueError(describe(found))
        if hash_of(self.config) != self.config_hash:
            raise ValueError("config_hash is not the hash of config")
        return self


ConfigOutcome = Literal["applied", "waiting", "refused"]
"""What an exhibit did with a configuration: runs it; holds it until its visit ends;
refused it (``reason``), keeping the one it ran."""


class ConfigReport(Message):
    """What became of a configuration version (agent -> fleet, QoS 1)."""

    schema_version: Literal[1] = 1
    exhibit_id: ExhibitId
    version: ConfigVersion
    config_hash: ShortText
    outcome: ConfigOutcome
    reason: str | None = Field(
        default=None, max_length=500, pattern=r"^[^\x00-\x1f]*$", description="why it refused"
    )
    at: AwareDatetime = Field(description="when the exhibit decided, by its own clock")
    clock_synced: bool


AnyMessage = (
    CountBatch
    | Status
    | Heartbeat
    | Assignment
    | Command
    | SelfTestResult
    | Custody
    | Resend
    | CommandDone
    | ExhibitConfig
    | ConfigReport
)
ModelType = (
    type[CountBatch]
    | type[Status]
    | type[Heartbeat]
    | type[Assignment]
    | type[Command]
    | type[SelfTestResult]
    | type[Custody]
    | type[Resend]
    | type[CommandDone]
    | type[ExhibitConfig]
    | type[ConfigReport]
)

MODELS: dict[Channel, ModelType] = {
    Channel.COUNTS: CountBatch,
    Channel.STATUS: Status,
    Channel.HEARTBEAT: Heartbeat,
    Channel.ASSIGNMENT: Assignment,
    Channel.COMMAND: Command,
    Channel.SELFTEST: SelfTestResult,
    Channel.CUSTODY: Custody,
    Channel.RESEND: Resend,
    Channel.DONE: CommandDone,
    Channel.CONFIG: ExhibitConfig,
    Channel.CONFIGURED: ConfigReport,
}


def decode(channel: Channel, payload: bytes) -> AnyMessage:
    """Parse ``payload`` for ``channel``; raise MessageError with a reason code if it is bad.

    Reason codes: ``oversized``, ``malformed`` (not a JSON object), ``schema_version``
    (a version this code does not read), ``invalid`` (fails validation).
    """
    if len(payload) > MAX_PAYLOAD_BYTES:
        raise MessageError("oversized", f"{len(payload)} bytes > {MAX_PAYLOAD_BYTES}")
    try:
        raw: Any = json.loads(payload)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MessageError("malformed", f"not JSON: {exc}") from None
    if not isinstance(raw, dict):
        raise MessageError("malformed", "payload is not a JSON object")
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        raise MessageError(
            "schema_version", f"schema_version {version!r} is not supported (expected 1)"
        )
    try:
        return MODELS[channel].model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise MessageError(
            "invalid", f"{where}: {first['msg']} ({exc.error_count()} error(s))"
        ) from None
