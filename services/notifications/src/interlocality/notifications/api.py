"""HTTP API of notifications: a student's feed and live stream, preferences and unsubscribe
through signed links, and webhook endpoints."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.sse import EventSourceResponse, ServerSentEvent
from pydantic import BaseModel, Field
from sqlmodel import Session, col, func, or_, select

from interlocality.common.access import (
    OPERATOR,
    PUBLIC,
    STUDENT,
    Caller,
    Role,
    allow,
    student_owning,
    the_student,
)
from interlocality.common.pagination import OffsetPage
from interlocality.common.service import Provided, ServiceRuntime, error_answers, problem
from interlocality.contracts.students import NotificationPreferences
from interlocality.notifications import pages
from interlocality.notifications.links import ExpiredLink, InvalidLink, LinkSigner, Purpose
from interlocality.notifications.pages import LinkProblem
from interlocality.notifications.service import (
    NotificationService,
    UnknownStudent,
    UnknownWebhook,
)
from interlocality.notifications.store import (
    SHOWN,
    AgendaRecord,
    FeedEvent,
    NotificationRecord,
    Recipient,
    WebhookEndpoint,
    notifications_of,
    preferences_of,
)
from interlocality.notifications.streams import FeedHub
from interlocality.notifications.webhooks import WebhookUrlRefused

__all__ = ["NotificationPublic", "feed_reader", "router"]

FEED_READ_LIMIT = 5_000  # feed events read at once; a stream further behind reads again
NO_STUDENT = "Notifications knows no student of this id."
NO_WEBHOOK = "No webhook endpoint has this id."
# A link that cannot be followed: a page in the browser's language, or JSON for programs.
LINK_REFUSED = error_answers(
    {
        400: "The link is not genuine, is for another purpose, or has expired.",
        404: "The student the link names is no longer known here.",
    }
)


class NotificationPublic(BaseModel):
    """An in-app notification."""

    notification_id: str
    student_id: str
    vacancy_id: str
    company_id: str
    title: str
    score: float
    content: dict[str, Any]
    available: bool
    created_at: datetime


class NotificationPage(OffsetPage[NotificationPublic]):
    """One page of a student's feed, newest first."""


def notification_public(record: NotificationRecord) -> NotificationPublic:
    """A stored notification as the feed and the live stream show it."""
    return NotificationPublic(
        notification_id=record.id,
        student_id=record.student_id,
        vacancy_id=record.vacancy_id,
        company_id=record.company_id,
        title=record.title,
        score=record.score,
        content=record.content,
        available=record.available,
        created_at=record.created_at,
    )


class PreferencesView(BaseModel):
    """A student's notification preferences and consent, as notifications applies them."""

    student_id: str
    subscribed: bool
    preferences: NotificationPreferences


@dataclass(frozen=True)
class LinkedStudent:
    """The student a signed link names: their name and preferences."""

    name: str
    view: PreferencesView


class WebhookRegistration(BaseModel):
    """A URL to receive signed deliveries."""

    url: Annotated[str, Field(description="https URL (http only in the embedded default).")]
    student_id: Annotated[
        str | None,
        Field(
            description="The student whose notifications it receives; none: every student "
            "who chose the webhook channel (the operator's tool)."
        ),
    ] = None
    description: Annotated[str, Field(max_length=200)] = ""


class WebhookPublic(BaseModel):
    """A webhook endpoint and how it fares."""

    webhook_id: str
    url: str
    student_id: str | None
    description: str
    paused: bool
    paused_reason: str | None
    failures_in_row: int
    last_error: str | None
    last_success_at: datetime | None
    created_at: datetime


class WebhookCreated(WebhookPublic):
    """A new endpoint, with the secret its deliveries are signed with (shown only now)."""

    secret: str


def _webhook_fields(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "webhook_id": endpoint.id,
        **endpoint.model_dump(include=set(WebhookPublic.model_fields) - {"webhook_id"}),
    }


def webhook_public(endpoint: WebhookEndpoint) -> WebhookPublic:
    """A webhook endpoint as the API shows it (never with its secret)."""
    return WebhookPublic(**_webhook_fields(endpoint))


def feed_reader(
    runtime: ServiceRuntime,
) -> Callable[[Mapping[str, int]], dict[str, list[tuple[int, ServerSentEvent]]]]:
    """Reads the feed events of many students after an event id each (their number in the
    student's feed), as stream events, in one query per table; of each student the first
    ones, however many a read leaves for the next."""

    def read(after: Mapping[str, int]) -> dict[str, list[tuple[int, ServerSentEvent]]]:
        found: dict[str, list[tuple[int, ServerSentEvent]]] = {}
        if not after:
            return found
        with runtime.reading() as session:
            events = session.exec(
                select(FeedEvent)
                .where(
                    or_(
                        *(
                            (col(FeedEvent.student_id) == student_id)
                            & (col(FeedEvent.sequence) > last)
                            for student_id, last in after.items()
                        )
                    )
                )
                .order_by(col(FeedEvent.sequence), col(FeedEvent.student_id))
                .limit(FEED_READ_LIMIT)
            ).all()
            notification_ids = [e.notification_id for e in events if e.kind != "agenda"]
            agenda_ids = [e.notification_id for e in events if e.kind == "agenda"]
            records = {
                r.id: r
                for r in session.exec(
                    select(NotificationRecord).where(
                        col(NotificationRecord.id).in_(notification_ids)
                    )
                ).all()
            }
            agendas = {
                a.id: a
                for a in session.exec(
                    select(AgendaRecord).where(col(AgendaRecord.id).in_(agenda_ids))
                ).all()
            }
            for event in events:
                body: dict[str, Any]
                if event.kind == "agenda":
                    body = {"agenda_id": event.notification_id}
                    agenda = agendas.get(event.notification_id)
                    if agenda is not None:
                        body |= {
                            "event_name": agenda.event_name,
                            "venue": agenda.venue,
                            "slots": agenda.slots,
                            "icalendar": agenda.icalendar,
                        }
                else:
                    body = {"notification_id": event.notification_id, "available": False}
                    record = records.get(event.notification_id)
                    if record is not None:
                        body = notification_public(record).model_dump(mode="json")
                found.setdefault(event.student_id, []).append(
                    (
                        event.sequence,
                        ServerSentEvent(id=str(event.sequence), event=event.kind, data=body),
                    )
                )
        return found

    return read


router = APIRouter(prefix="/v1", tags=["notifications"])

Runtime = Annotated[ServiceRuntime, Depends(Provided(ServiceRuntime))]
Service = Annotated[NotificationService, Depends(Provided(NotificationService))]
Signer = Annotated[LinkSigner, Depends(Provided(LinkSigner))]
Hub = Annotated[FeedHub[ServerSentEvent], Depends(Provided(FeedHub))]
WEBHOOK_OWNER = student_owning(
    NotificationService, NotificationService.student_of_webhook, "webhook_id"
)


# -- feed and stream ----------------------------------------------------------------------


def known_student(session: Session, student_id: str) -> None:
    """404 unless notifications knows ``student_id``."""
    if session.get(Recipient, student_id) is None and not notifications_of(session, student_id, 1):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no student {student_id!r} here")


@router.get(
    "/students/{student_id}/notifications",
    dependencies=[allow(OPERATOR, the_student(), audit="read")],
    summary="A student's in-app feed",
    responses=error_answers({404: NO_STUDENT}),
)
def student_notifications(
    student_id: str,
    runtime: Runtime,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> NotificationPage:
    with runtime.reading() as session:
        known_student(session, student_id)
        records = notifications_of(session, student_id, limit, offset)
        total = session.exec(
            select(func.count())
            .select_from(NotificationRecord)
            .where(NotificationRecord.student_id == student_id, SHOWN)
        ).one()
    return NotificationPage(
        items=[notification_public(r) for r in records],
        total=total,
        limit=limit,
        offset=offset,
    )


def stream_start(
    student_id: str,
    runtime: Runtime,
    last_event_id: Annotated[
        str | None,
        Header(description="The id of the last event received: resume after it."),
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, description="Start after this event id (0: everything).")
    ] = None,
) -> int:
    """The event id (number in the student's feed) a stream starts after."""
    with runtime.reading() as session:
        known_student(session, student_id)
        if last_event_id:
            if not last_event_id.isdigit():
                raise HTTPException(
                    status.HTTP_422_UNPROCESSABLE_CONTENT,
                    [
                        problem(
                            ("header", "last-event-id"),
                            f"{last_event_id!r} is not an event id (a whole number)",
                            "int_parsing",
                        )
                    ],
                )
            return int(last_event_id)
        if after is not None:
            return after
        last = session.exec(
            select(FeedEvent.sequence)
            .where(FeedEvent.student_id == student_id)
            .order_by(col(FeedEvent.sequence).desc())
            .limit(1)
        ).first()
    return last or 0


@router.get(
    "/students/{student_id}/stream",
    dependencies=[allow(OPERATOR, the_student(), audit="read")],
    summary="A student's feed, live (Server-Sent Events)",
    response_class=EventSourceResponse,
    description="Events `notification`, `updated`, `unavailable` and `agenda`, each with "
    "its number in the student's feed as id; reconnecting with `Last-Event-ID` resumes "
    "after it. Without it, the stream starts with what comes next (`?after=0` replays the "
    "whole feed).",
    responses=error_answers({404: NO_STUDENT}),
)
async def student_stream(
    student_id: str, hub: Hub, start: Annotated[int, Depends(stream_start)]
) -> AsyncIterator[ServerSentEvent]:
    yield ServerSentEvent(comment="connected", retry=2000)
    async for item in hub.follow(student_id, start):
        if item is None:
            yield ServerSentEvent(comment="keep-alive")
        else:
            yield item[1]


# -- preferences through signed links -----------------------------------------------------


def refused(request: Request, kind: LinkProblem, purpose: Purpose, detail: str) -> Response:
    """A link that cannot be followed: a page in the browser's language, or JSON.

    400 for a link that is not genuine, for another purpose or expired: the link is a bad
    part of the request (403 says an access policy refused the caller, and a link's
    routes have none); 404 for a student no longer known here.
    """
    code = status.HTTP_404_NOT_FOUND if kind == "unknown" else status.HTTP_400_BAD_REQUEST
    if not pages.wants_page(request.headers.get("accept")):
        return JSONResponse({"detail": detail}, status_code=code)
    locale = pages.accepted_locale(request.headers.get("accept-language"))
    return HTMLResponse(pages.link_problem_page(locale, kind, purpose), status_code=code)


def linked(
    request: Request, token: str, purpose: Purpose, runtime: ServiceRuntime, signer: LinkSigner
) -> Response | LinkedStudent:
    """The student a link names, or the answer to a link that cannot be followed."""
    try:
        student_id = signer.student_of(token, purpose)
    except ExpiredLink as exc:
        return refused(request, "expired", purpose, str(exc))
    except InvalidLink as exc:
        return refused(request, "invalid", purpose, str(exc))
    with runtime.reading() as session:
        recipient = session.get(Recipient, student_id)
        if recipient is None:
            return refused(request, "unknown", purpose, "this student is not known here")
        return LinkedStudent(
            name=recipient.name,
            view=PreferencesView(
                student_id=student_id,
                subscribed=recipient.consent,
                preferences=preferences_of(recipient),
            ),
        )


def change(
    service: NotificationService,
    student_id: str,
    preferences: NotificationPreferences | None,
    subscribed: bool,
) -> PreferencesView:
    """Change a student's preferences and consent; 404 for a student no longer known."""
    try:
        applied = service.change_preferences(student_id, preferences, subscribed)
    except UnknownStudent as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    return PreferencesView(student_id=student_id, subscribed=subscribed, preferences=applied)


@router.get(
    "/preferences",
    dependencies=[PUBLIC],
    summary="A student's notification preferences (signed link, no login)",
    response_model=PreferencesView,
    responses={200: {"content": {"text/html": {}}}, **LINK_REFUSED},
)
def preferences_page(
    request: Request,
    token: Annotated[str, Query(min_length=1)],
    runtime: Runtime,
    signer: Signer,
) -> Any:
    found = linked(request, token, "preferences", runtime, signer)
    if isinstance(found, Response):
        return found
    if not pages.wants_page(request.headers.get("accept")):
        return found.view
    preferences = found.view.preferences
    return HTMLResponse(
        pages.preferences_page(
            preferences.locale,
            name=found.name,
            token=token,
            form=pages.PreferencesForm.of(preferences),
            subscribed=found.view.subscribed,
        )
    )


@router.put(
    "/preferences",
    dependencies=[PUBLIC],
    summary="Change notification preferences (signed link)",
    response_model=PreferencesView,
    responses={
        **LINK_REFUSED,
        **error_answers(
            {
                400: "The link is not genuine, is for another purpose, or has expired; or "
                "the request body is not UTF-8 text."
            }
        ),
    },
)
def put_preferences(
    request: Request,
    preferences: NotificationPreferences,
    token: Annotated[str, Query(min_length=1)],
    runtime: Runtime,
    signer: Signer,
    service: Service,
) -> Any:
    found = linked(request, token, "preferences", runtime, signer)
    if isinstance(found, Response):
        return found
    return change(service, found.view.student_id, preferences, True)


@router.post(
    "/preferences",
    dependencies=[PUBLIC],
    summary="Change notification preferences from the page's form (signed link)",
    response_class=HTMLResponse,
    responses=LINK_REFUSED,
)
async def post_preferences(
    request: Request,
    token: Annotated[str, Query()],
    runtime: Runtime,
    signer: Signer,
    service: Service,
) -> Response:
    found = linked(request, token, "preferences", runtime, signer)
    if isinstance(found, Response):
        return found
    form = pages.PreferencesForm.parse(await request.body())
    preferences, errors = form.read()
    if preferences is None:
        return HTMLResponse(
            pages.preferences_page(
                found.view.preferences.locale,
                name=found.name,
                token=token,
                form=form,
                subscribed=found.view.subscribed,
                errors=errors,
            ),
            status_code=status.HTTP_422_UNPROCESSABLE_CONTENT,
        )
    saved = change(service, found.view.student_id, preferences, True)
    return HTMLResponse(
        pages.preferences_page(
            saved.preferences.locale,
            name=found.name,
            token=token,
            form=pages.PreferencesForm.of(saved.preferences),
            subscribed=saved.subscribed,
            saved=True,
        )
    )


@router.get(
    "/unsubscribe",
    dependencies=[PUBLIC],
    summary="Confirm unsubscribing (signed link); a GET changes nothing",
    response_class=HTMLResponse,
    responses=LINK_REFUSED,
)
def unsubscribe_page(
    request: Request,
    token: Annotated[str, Query(min_length=1)],
    runtime: Runtime,
    signer: Signer,
) -> Response:
    found = linked(request, token, "unsubscribe", runtime, signer)
    if isinstance(found, Response):
        return found
    return HTMLResponse(
        pages.unsubscribe_page(
            found.view.preferences.locale,
            token=token,
            preferences_token=signer.token(found.view.student_id, "preferences"),
        )
    )


@router.post(
    "/unsubscribe",
    dependencies=[PUBLIC],
    summary="Unsubscribe in one click (RFC 8058, signed link)",
    response_class=HTMLResponse,
    responses=LINK_REFUSED,
)
def unsubscribe(
    request: Request,
    token: Annotated[str, Query(min_length=1)],
    runtime: Runtime,
    signer: Signer,
    service: Service,
) -> Response:
    found = linked(request, token, "unsubscribe", runtime, signer)
    if isinstance(found, Response):
        return found
    change(service, found.view.student_id, None, False)
    return HTMLResponse(
        pages.unsubscribed_page(
            found.view.preferences.locale,
            preferences_token=signer.token(found.view.student_id, "preferences"),
        )
    )


# -- webhooks -----------------------------------------------------------------------------


@router.post(
    "/webhooks",
    dependencies=[allow(OPERATOR, STUDENT)],
    summary="Register a webhook endpoint",
    status_code=status.HTTP_201_CREATED,
    responses=error_answers({422: "A URL that may not be called, or an unknown student."}),
)
def register_webhook(
    registration: WebhookRegistration, service: Service, caller: Caller
) -> WebhookCreated:
    if not caller.has(Role.OPERATOR) and registration.student_id != caller.student_id:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "a student registers webhooks for themselves only (student_id is theirs); "
            "a region-wide webhook is an operator's",
        )
    try:
        endpoint = service.register_webhook(
            registration.url, registration.student_id, registration.description
        )
    except WebhookUrlRefused as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [problem(("body", "url"), str(exc), "url_refused", input=registration.url)],
        ) from exc
    except UnknownStudent as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                problem(
                    ("body", "student_id"),
                    str(exc),
                    "unknown_student",
                    input=registration.student_id,
                )
            ],
        ) from exc
    return WebhookCreated(**_webhook_fields(endpoint), secret=endpoint.secret)


@router.get(
    "/webhooks",
    summary="Webhook endpoints, paused ones with the reason",
    dependencies=[allow(OPERATOR, STUDENT)],
)
def list_webhooks(
    runtime: Runtime, caller: Caller, student_id: str | None = None
) -> list[WebhookPublic]:
    with runtime.reading() as session:
        query = select(WebhookEndpoint).order_by(col(WebhookEndpoint.created_at))
        if not caller.has(Role.OPERATOR):  # a student sees their own endpoints only
            query = query.where(col(WebhookEndpoint.student_id) == (caller.student_id or ""))
        elif student_id is not None:
            query = query.where(
                or_(
                    col(WebhookEndpoint.student_id) == student_id,
                    col(WebhookEndpoint.student_id).is_(None),
                )
            )
        return [webhook_public(e) for e in session.exec(query).all()]


@router.post(
    "/webhooks/{webhook_id}/resume",
    dependencies=[allow(OPERATOR, WEBHOOK_OWNER)],
    summary="Resume a paused endpoint",
    responses=error_answers({404: NO_WEBHOOK}),
)
def resume_webhook(webhook_id: str, service: Service) -> WebhookPublic:
    try:
        return webhook_public(service.resume_webhook(webhook_id))
    except UnknownWebhook as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc


@router.delete(
    "/webhooks/{webhook_id}",
    dependencies=[allow(OPERATOR, WEBHOOK_OWNER)],
    summary="Remove an endpoint",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_answers({404: NO_WEBHOOK}),
)
def delete_webhook(webhook_id: str, service: Service) -> None:
    try:
        service.remove_webhook(webhook_id)
    except UnknownWebhook as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
