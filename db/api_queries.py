"""Query functions of the REST API and webhook delivery.

Like the other query modules (`db.camera_queries`, `db.window_queries` ...), each takes a
Session and leaves the transaction to the caller, so e.g. webhook deliveries are inserted in the
same transaction as the incident change that caused them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, defer

from db.api_models import ApiToken, WebhookAttempt, WebhookDelivery, WebhookSubscription
from db.clock import now_utc
from db.models import Camera, DispatchProgress, FrameScore, Incident, Window
from db.stage2 import counts as stage2_counts

# --- tokens --------------------------------------------------------------------------------------


class TokenExists(ValueError):
    pass


def add_token(
    session: Session,
    name: str,
    token_hash: str,
    scopes: list[str],
    expires_at: datetime | None = None,
) -> ApiToken:
    if session.scalar(select(ApiToken).where(ApiToken.name == name)) is not None:
        raise TokenExists(f"a token named {name!r} already exists")
    token = ApiToken(name=name, token_hash=token_hash, scopes=scopes, expires_at=expires_at)
    session.add(token)
    session.flush()
    return token


def token_by_hash(session: Session, token_hash: str) -> ApiToken | None:
    """The token with this hash, unless it has expired."""
    return session.scalar(
        select(ApiToken).where(
            ApiToken.token_hash == token_hash,
            ApiToken.expires_at.is_(None) | (ApiToken.expires_at > func.now()),
        )
    )


def touch_token(session: Session, token_id: int, every: timedelta = timedelta(minutes=1)) -> None:
    """Record use at most once a minute, so reads do not turn into a write per request."""
    now = now_utc()
    session.execute(
        update(ApiToken)
        .where(
            ApiToken.id == token_id,
            (ApiToken.last_used_at.is_(None)) | (ApiToken.last_used_at < now - every),
        )
        .values(last_used_at=now)
    )


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.name)))


def revoke_token(session: Session, name: str) -> bool:
    token = session.scalar(select(ApiToken).where(ApiToken.name == name))
    if token is None:
        return False
    session.delete(token)
    return True


# --- incidents -----------------------------------------------------------------------------------

SORTS = {
    "started_at": Incident.started_at,
    "peak_score": Incident.peak_score,
    "ended_at": Incident.ended_at,
    "id": Incident.id,
}


@dataclass(frozen=True, slots=True)
class IncidentSearch:
    camera: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    min_score: float | None = None
    status: str | None = None
    text: str | None = None
    sort: str = "-started_at"
    limit: int = 50
    offset: int = 0


def search_incidents(
    session: Session, search: IncidentSearch
) -> tuple[list[tuple[Incident, str, bool]], int]:
    """A page of (incident, camera name, has key frame) overlapping [since, until], and the total.
    Key-frame bytes are not loaded: a page of 1000 incidents must not pull 1000 JPEGs."""
    where = []
    if search.camera:
        where.append(Camera.name == search.camera)
    if search.since:
        where.append(func.coalesce(Incident.ended_at, func.now()) >= search.since)
    if search.until:
        where.append(Incident.started_at <= search.until)
    if search.min_score is not None:
        where.append(Incident.peak_score >= search.min_score)
    if search.status:
        where.append(Incident.status == search.status)
    if search.text:  # a literal, case-insensitive substring (no LIKE wildcards)
        needle = search.text.lower()
        cameras = select(Camera.id).where(func.strpos(func.lower(Camera.name), needle) > 0)
        where.append(
            or_(
                Incident.camera_id.in_(cameras.scalar_subquery()),
                func.strpos(func.lower(Incident.rule), needle) > 0,
                func.strpos(func.lower(Incident.scorer), needle) > 0,
            )
        )
    base = select(Incident, Camera.name, Incident.key_frame.is_not(None)).join(
        Camera, Camera.id == Incident.camera_id
    )
    column = SORTS[search.sort.lstrip("-")]
    order = column.desc() if search.sort.startswith("-") else column.asc()
    if search.sort == "-ended_at":  # the only nullable sort key: open incidents last.
        order = order.nulls_last()  # Not on the others: it would stop index scans (100k: 5x)
    query = (
        base.where(*where)
        .options(defer(Incident.key_frame))
        .order_by(order, Incident.id.desc())
        .limit(search.limit)
        .offset(search.offset)
    )
    total = session.scalar(
        select(func.count())
        .select_from(Incident)
        .join(Camera, Camera.id == Incident.camera_id)
        .where(*where)
    )
    return [(i, name, bool(has)) for i, name, has in session.execute(query)], int(total or 0)


def incident_detail(session: Session, incident_id: int) -> tuple[Incident, str, bool] | None:
    row = session.execute(
        select(Incident, Camera.name, Incident.key_frame.is_not(None))
        .join(Camera, Camera.id == Incident.camera_id)
        .where(Incident.id == incident_id)
        .options(defer(Incident.key_frame))
    ).first()
    return (row[0], row[1], bool(row[2])) if row else None


def incident_key_frame(session: Session, incident_id: int) -> bytes | None:
    return session.scalar(select(Incident.key_frame).where(Incident.id == incident_id))


_CURVE_SQL = text(
    """
    WITH ordered AS (
        SELECT captured_at, score, kafka_offset,
               row_number() OVER w AS rn, count(*) OVER () AS n, ntile(:buckets) OVER w AS bucket
        FROM frame_scores
        WHERE camera_id = :camera AND captured_at >= :start
          AND (CAST(:end AS timestamptz) IS NULL OR captured_at <= :end)
        WINDOW w AS (ORDER BY captured_at, kafka_offset)
    ), marked AS (
        SELECT *, row_number() OVER (PARTITION BY bucket ORDER BY rn) AS nth FROM ordered
    )
    SELECT captured_at, score, kafka_offset FROM marked
    WHERE n <= :limit OR nth = 1 OR rn = n
    ORDER BY rn
    """
)


def score_curve(
    session: Session,
    camera_id: int,
    start: datetime,
    end: datetime | None,
    limit: int = 5000,
) -> list[tuple[datetime, float | None, int]]:
    """(captured_at, score, offset) of the camera's frames in [start, end] (end None = now),
    thinned in SQL to at most `limit` evenly spaced points, the last one always kept: a
    day-long incident does not ship a million rows to the API to keep 5,000."""
    params = {"camera": camera_id, "start": start, "end": end, "limit": limit}
    rows = session.execute(_CURVE_SQL, {**params, "buckets": max(limit - 1, 1)})
    return [(t, s, o) for t, s, o in rows]


# --- cameras -------------------------------------------------------------------------------------


def update_camera(session: Session, camera: Camera, changes: dict) -> Camera:
    """Apply only the fields the client sent (None = back to the default)."""
    for key in ("fps", "threshold", "enabled", "verify_tls"):
        if key in changes:
            setattr(camera, key, changes[key])
    session.flush()
    return camera


# --- webhook subscriptions -----------------------------------------------------------------------


def add_subscription(session: Session, **fields) -> WebhookSubscription:
    subscription = WebhookSubscription(**fields)
    session.add(subscription)
    session.flush()
    return subscription


def list_subscriptions(session: Session) -> list[WebhookSubscription]:
    return list(session.scalars(select(WebhookSubscription).order_by(WebhookSubscription.id)))


def matching_subscriptions(
    session: Session, kind: str, camera: str, score: float, zones: list[str] | None = None
) -> list[WebhookSubscription]:
    """Enabled subscriptions whose filters let this event through (filtered in Python: there are
    few subscriptions, and JSON list filters read more clearly here than in SQL). A zone filter
    passes incidents that touched at least one of its zones."""
    rows = session.scalars(select(WebhookSubscription).where(WebhookSubscription.enabled))
    return [
        s
        for s in rows
        if kind in (s.events or [])
        and (s.cameras is None or camera in s.cameras)
        and (s.min_score is None or score >= s.min_score)
        and (s.zones is None or bool(set(s.zones) & set(zones or ())))
    ]


# --- webhook deliveries --------------------------------------------------------------------------


def insert_delivery(
    session: Session,
    subscription_id: int,
    event_id: str,
    event_type: str,
    incident_id: int | None,
    payload: str,
) -> int | None:
    """The new delivery's id, or None when this event was already queued for the subscription."""
    stmt = (
        insert(WebhookDelivery)
        .values(
            subscription_id=subscription_id,
            event_id=event_id,
            event_type=event_type,
            incident_id=incident_id,
            payload=payload,
            status="pending",
            attempts=0,
            next_attempt_at=now_utc(),
        )
        .on_conflict_do_nothing(constraint="uq_delivery_event")
        .returning(WebhookDelivery.id)
    )
    return session.execute(stmt).scalar()


def claim_delivery(
    session: Session, delivery_id: int, lease_until: datetime
) -> tuple[WebhookDelivery, WebhookSubscription] | None:
    """Take a due pending delivery for one attempt: count the attempt and push its next attempt
    time past the lease, so a duplicate task (or the sweeper) leaves it alone while it is in
    flight but retries it if this worker dies. None when gone, finished, not due or locked."""
    delivery = session.scalar(
        select(WebhookDelivery)
        .where(
            WebhookDelivery.id == delivery_id,
            WebhookDelivery.status == "pending",
            WebhookDelivery.next_attempt_at <= func.now(),
        )
        .with_for_update(skip_locked=True)
    )
    if delivery is None:
        return None
    subscription = session.get(WebhookSubscription, delivery.subscription_id)
    delivery.attempts += 1
    delivery.next_attempt_at = lease_until
    session.flush()
    return delivery, subscription


@dataclass(frozen=True, slots=True)
class AttemptResult:
    started_at: datetime
    ok: bool
    status_code: int | None
    latency_ms: float
    error: str | None


def record_attempt(
    session: Session,
    delivery_id: int,
    attempt: int,
    result: AttemptResult,
    status: str,
    next_attempt_at: datetime | None,
) -> None:
    session.add(
        WebhookAttempt(
            delivery_id=delivery_id,
            attempt=attempt,
            started_at=result.started_at,
            ok=result.ok,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error=result.error[:2000] if result.error else None,
        )
    )
    values: dict = {
        "status": status,
        "last_status_code": result.status_code,
        "last_latency_ms": result.latency_ms,
        "last_error": result.error[:2000] if result.error else None,
    }
    if next_attempt_at is not None:
        values["next_attempt_at"] = next_attempt_at
    if status == "delivered":
        values["delivered_at"] = now_utc()
    session.execute(update(WebhookDelivery).where(WebhookDelivery.id == delivery_id).values(values))


def finish_delivery(session: Session, delivery_id: int, status: str, error: str) -> None:
    """Close a delivery without an attempt (e.g. its subscription was disabled)."""
    session.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id)
        .values(status=status, last_error=error)
    )


def list_deliveries(
    session: Session, subscription_id: int, status: str | None, limit: int, offset: int
) -> list[WebhookDelivery]:
    query = select(WebhookDelivery).where(WebhookDelivery.subscription_id == subscription_id)
    if status:
        query = query.where(WebhookDelivery.status == status)
    query = query.order_by(WebhookDelivery.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(query))


def delivery_attempts(session: Session, delivery_ids: list[int]) -> dict[int, list[WebhookAttempt]]:
    found: dict[int, list[WebhookAttempt]] = {i: [] for i in delivery_ids}
    if delivery_ids:
        rows = session.scalars(
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(delivery_ids))
            .order_by(WebhookAttempt.delivery_id, WebhookAttempt.attempt)
        )
        for row in rows:
            found[row.delivery_id].append(row)
    return found


def redeliver(session: Session, delivery: WebhookDelivery) -> None:
    """Send a delivered or dead event again: same event id and body, a fresh attempt budget."""
    delivery.status, delivery.attempts, delivery.next_attempt_at = "pending", 0, now_utc()
    session.flush()


def due_deliveries(session: Session, limit: int = 500) -> list[int]:
    return list(
        session.scalars(
            select(WebhookDelivery.id)
            .where(
                WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= func.now()
            )
            .order_by(WebhookDelivery.next_attempt_at)
            .limit(limit)
        )
    )


# --- metrics -------------------------------------------------------------------------------------


def count_by(session: Session, column) -> dict[str, int]:
    return {k: int(n) for k, n in session.execute(select(column, func.count()).group_by(column))}


KEPT_FPS_WINDOW = timedelta(minutes=1)
LATENCY_WINDOW = timedelta(minutes=5)


def metrics_snapshot(session: Session) -> dict:
    """Everything /metrics reports, read in one short transaction."""
    return {
        "cameras": list(session.scalars(select(Camera).order_by(Camera.name))),
        "kept_recent": kept_recent(session, KEPT_FPS_WINDOW),
        "windows": count_by(session, Window.status),
        "incidents": count_by(session, Incident.status),
        "deliveries": count_by(session, WebhookDelivery.status),
        "attempt_failures": int(
            session.scalar(
                select(func.count()).select_from(WebhookAttempt).where(WebhookAttempt.ok.is_(False))
            )
            or 0
        ),
        "window_latency": window_latency(session, LATENCY_WINDOW),
        "stage2": stage2_counts(session),
        "window_queue_seconds": session.scalar(
            select(func.avg(func.extract("epoch", Window.scored_at - Window.enqueued_at))).where(
                Window.scored_at > func.now() - LATENCY_WINDOW
            )
        ),
        "dispatch_positions": [
            tuple(row)
            for row in session.execute(
                select(
                    DispatchProgress.topic,
                    DispatchProgress.topic_id,
                    DispatchProgress.partition,
                    DispatchProgress.position,
                ).order_by(DispatchProgress.topic, DispatchProgress.partition)
            )
        ],
    }


def kept_recent(session: Session, window: timedelta) -> dict[str, int]:
    """Camera name -> frames captured in the last `window` that have a frame score (kept and
    scored). One index range scan per camera on (camera_id, captured_at)."""
    recent = (
        select(func.count())
        .select_from(FrameScore)
        .where(FrameScore.camera_id == Camera.id, FrameScore.captured_at >= func.now() - window)
        .correlate(Camera)
        .scalar_subquery()
    )
    return {name: int(n) for name, n in session.execute(select(Camera.name, recent))}


def window_latency(session: Session, window: timedelta) -> dict | None:
    """p50/p95/mean/count of capture-to-scored time (scored_at - end_at: from the window's last
    frame being captured to its scores being stored) of windows scored in the last `window`."""
    seconds = func.extract("epoch", Window.scored_at - Window.end_at)
    row = session.execute(
        select(
            func.percentile_cont(0.5).within_group(seconds),
            func.percentile_cont(0.95).within_group(seconds),
            func.avg(seconds),
            func.count(),
        ).where(Window.status == "done", Window.scored_at > func.now() - window)
    ).one()
    if not row[3]:
        return None
    return {"p50": float(row[0]), "p95": float(row[1]), "mean": float(row[2]), "count": row[3]}
