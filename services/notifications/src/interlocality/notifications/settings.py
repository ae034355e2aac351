"""Settings of the notifications service: the common ones and how messages are sent."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, SecretStr

from interlocality.common.settings import ServiceSettings

__all__ = ["NotificationsSettings"]


class NotificationsSettings(ServiceSettings):
    """What configures one notifications process (``INTERLOCALITY_*``); ``NOTIFICATIONS_PORT`` and
    ``NOTIFICATIONS_DATABASE_URL`` name its port and database in a region's environment."""

    service: str = "notifications"
    port: int = 8004
    time_zone: Annotated[
        str,
        Field(description="The region's IANA time zone: times in messages to companies."),
    ] = "Europe/Copenhagen"
    public_url: Annotated[
        str,
        Field(description="Base URL of this service in links sent to people; empty: host:port."),
    ] = ""
    signing_key: Annotated[
        SecretStr,
        Field(
            description="Key of the signed links in messages (unsubscribe, preferences); "
            "empty: a key generated once under var/<region>/."
        ),
    ] = SecretStr("")
    retired_signing_keys: Annotated[
        SecretStr,
        Field(
            description="Earlier signing keys, comma-separated: links they signed are still "
            "accepted (until they expire) while new links are signed with the current key, "
            "so a key can be rotated without voiding the links in people's mailboxes."
        ),
    ] = SecretStr("")
    smtp_host: Annotated[str, Field(description="SMTP relay for e-mail.")] = "127.0.0.1"
    smtp_port: Annotated[int, Field(description="SMTP port (the embedded sink: 8025).")] = 8025
    smtp_starttls: Annotated[bool, Field(description="Upgrade the connection with STARTTLS.")] = (
        False
    )
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_timeout_seconds: float = 10.0
    mail_from: Annotated[str, Field(description="From address of e-mail.")] = (
        "Interlocality <notifications@interlocality.invalid>"
    )
    mail_sink_dir: Annotated[
        str,
        Field(
            description="Maildir of the embedded SMTP sink; when set, notifications serves "
            "its mail at /v1/mailbox."
        ),
    ] = ""
    webhook_timeout_seconds: Annotated[
        float, Field(description="How long a webhook endpoint may take to answer.", gt=0)
    ] = 5.0
    delivery_max_attempts: Annotated[
        int, Field(description="Attempts of an e-mail or webhook delivery before the DLQ.", ge=1)
    ] = 6
    delivery_retry_seconds: Annotated[
        float, Field(description="First retry delay; doubled each time, with jitter.", gt=0)
    ] = 5.0
    delivery_retry_cap_seconds: Annotated[
        float, Field(description="Longest delay between two attempts.", gt=0)
    ] = 3600.0
    delivery_lease_seconds: Annotated[
        float,
        Field(
            description="How long a worker's claim on a delivery holds: another instance "
            "takes a delivery left sending over only after it ran out (the worker crashed). "
            "Longer than a round of sending takes (the SMTP and webhook timeouts).",
            gt=0,
        ),
    ] = 300.0
    webhook_pause_after: Annotated[
        int,
        Field(description="Deliveries failed in a row after which an endpoint is paused.", ge=1),
    ] = 5
    live_stream_sweep_seconds: Annotated[
        float,
        Field(
            description="How often open live streams also read their feed, for events "
            "another instance of notifications applied; 0 turns it off.",
            ge=0,
        ),
    ] = 2.0
