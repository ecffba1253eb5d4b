"""Sending one notification: a signed webhook POST, or an e-mail over SMTP.

Each returns an :class:`Outcome`: delivered, worth retrying (with the receiver's
``Retry-After`` if it gave one), or refused for good. Only a 2xx answer delivers a
webhook; an SMTP server that refuses the recipient for good (5xx) fails the e-mail, one
that is away or answers 4xx is retried.
"""

from __future__ import annotations

import email.policy
import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import httpx

from fleet_api import __version__
from fleet_api.notifications.events import headline
from fleet_api.notifications.settings import NotificationSettings, WebhookTarget
from fleet_api.notifications.signing import HEADER, signature

MAIL_DOMAIN = "exhibit-fleet"
"""The right-hand side of Message-IDs: ``<event id@exhibit-fleet>``."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one attempt came to."""

    delivered: bool
    error: str = ""
    permanent: bool = False
    retry_after_s: float | None = None


def tls_context(ca_file: Path | None) -> ssl.SSLContext:
    """Certificate-checking TLS: the system's CAs, or only ``ca_file``."""
    return ssl.create_default_context(cafile=None if ca_file is None else str(ca_file))


async def post_webhook(
    client: httpx.AsyncClient,
    target: WebhookTarget,
    *,
    body: str,
    event_id: str,
    alert_id: str,
    attempt: int,
    now: float,
) -> Outcome:
    """POST ``body`` to the webhook, signed; delivered on a 2xx answer."""
    payload = body.encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": f"exhibit-fleet/{__version__}",
        "X-Fleet-Event-Id": event_id,
        "X-Fleet-Alert-Id": alert_id,
        "X-Fleet-Delivery-Attempt": str(attempt),
        HEADER: signature(target.secret.get_secret_value(), payload, int(now)),
    }
    try:
        response = await client.post(target.url, content=payload, headers=headers)
    except httpx.HTTPError as exc:
        return Outcome(False, f"{target.name}: {type(exc).__name__}: {exc}")
    if 200 <= response.status_code < 300:
        return Outcome(True)
    return Outcome(
        False,
        f"{target.name}: HTTP {response.status_code}",
        retry_after_s=_retry_after(response.headers.get("retry-after")),
    )


def send_email(settings: NotificationSettings, to: str, *, body: dict[str, Any]) -> Outcome:
    """Send one alert change to ``to`` (blocking: run it in a thread)."""
    message = compose(settings, to, body=body)
    host, port = settings.smtp_host or "localhost", settings.smtp_port
    timeout = settings.notify_timeout_s
    try:
        smtp: smtplib.SMTP
        if settings.smtp_security == "tls":
            context = tls_context(settings.notify_ca_file)
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        with smtp:
            if settings.smtp_security == "starttls":
                smtp.starttls(context=tls_context(settings.notify_ca_file))
            if settings.smtp_username and settings.smtp_password:
                smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
            smtp.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:
        codes = [code for code, _ in exc.recipients.values()]
        permanent = all(code >= 500 for code in codes)
        return Outcome(False, f"{to}: refused {codes}", permanent=permanent)
    except smtplib.SMTPResponseException as exc:
        permanent = exc.smtp_code >= 500 and not isinstance(exc, smtplib.SMTPAuthenticationError)
        return Outcome(False, f"{to}: SMTP {exc.smtp_code} {exc.smtp_error!r}", permanent=permanent)
    except (smtplib.SMTPException, OSError) as exc:
        return Outcome(False, f"{to}: {type(exc).__name__}: {exc}")
    return Outcome(True)


def compose(settings: NotificationSettings, to: str, *, body: dict[str, Any]) -> EmailMessage:
    """The e-mail of one alert change; its Message-ID comes from the event id, so a mail
    client shows a repeat as the same message and threads the resolve under its raise."""
    # Fold only past SMTP's line limit: Python folds a 79-character subject before its
    # first word, which some clients then show with a leading space.
    message = EmailMessage(policy=email.policy.default.clone(max_line_length=998))
    message["From"] = settings.smtp_from or f"exhibit-fleet@{MAIL_DOMAIN}"
    message["To"] = to
    message["Subject"] = f"[exhibit fleet] {headline(body)}"
    message["Message-ID"] = f"<{body['event_id']}@{MAIL_DOMAIN}>"
    if body["status"] == "resolved":
        raised = f"<{str(body['event_id']).rsplit('-', 1)[0]}-raised@{MAIL_DOMAIN}>"
        message["In-Reply-To"] = raised
        message["References"] = raised
    message["Date"] = format_datetime(_utc(body["at"]))
    message["X-Fleet-Alert-Id"] = str(body["alert_id"])
    message["X-Fleet-Event-Id"] = str(body["event_id"])
    lines = [
        headline(body),
        "",
        str(body["message"]),
        "",
        f"Exhibit: {body['exhibit_name'] or '-'} ({body['exhibit_id'] or 'the fleet'})",
        f"Alert: {body['code']} ({body['severity']}), id {body['alert_id']}",
    ]
    if body["visit_id"] is not None:
        lines.append(f"Visit: {body['visit_id']}")
    lines.append(f"Since: {body['started_at']} (UTC)")
    if body["resolved_at"]:
        lines.append(f"Resolved: {body['resolved_at']} (UTC)")
    if body["url"]:
        lines += ["", str(body["url"])]
    lines += ["", f"-- exhibit fleet {__version__}, event {body['event_id']}"]
    message.set_content("\n".join(lines) + "\n")
    return message


def _utc(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None  # an HTTP date: the usual backoff will do
