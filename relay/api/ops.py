"""Operations: health, readiness, Prometheus metrics and the operator's alerts."""

from __future__ import annotations

import asyncio
import hmac
from typing import Any

from litestar import Controller, Request, Response, get
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from relay.alerts import compute_alerts, pending_count
from relay.api.till import relay_of

# After storage refused a callback, /readyz fails this long (or until a callback is stored again); then it
# lets traffic in again, and the next refused write trips it anew.
STORAGE_FAILURE_HOLD_S = 60.0


def _require_admin(request: Request[Any, Any, State]) -> None:
    settings = relay_of(request).settings
    token = settings.admin_token
    if token is None:
        # Closed unless the operator opened them on purpose: alerts list orders, amounts and tills.
        if settings.admin_open:
            return
        raise PermissionDeniedException("closed: set RELAY_ADMIN_TOKEN (or RELAY_ADMIN_OPEN=true)")
    if not hmac.compare_digest(request.headers.get("authorization", ""), f"Bearer {token}"):
        raise NotAuthorizedException("send the admin token as 'Authorization: Bearer <token>'")


class OpsController(Controller):
    @get("/healthz")
    async def healthz(self) -> dict[str, str]:
        return {"status": "ok"}

    @get("/readyz")
    async def readyz(self, request: Request[Any, Any, State]) -> Response[dict[str, str]]:
        relay = relay_of(request)
        try:
            await asyncio.wait_for(relay.database.ping(), timeout=5)
        except Exception as error:
            return Response({"status": "unavailable", "database": type(error).__name__}, status_code=503)
        failure = relay.storage_failure
        if failure is not None and (relay.clock() - failure[0]).total_seconds() < STORAGE_FAILURE_HOLD_S:
            # Reads work but writes do not (read-only or full disk): callbacks are being refused.
            return Response(
                {"status": "unavailable", "database": "ok", "storage": failure[1]}, status_code=503
            )
        return Response({"status": "ready", "database": "ok"}, status_code=200)

    @get("/metrics")
    async def metrics(self, request: Request[Any, Any, State]) -> Response[bytes]:
        _require_admin(request)
        relay = relay_of(request)
        relay.metrics.pending.set(await relay.database.read(pending_count))
        return Response(generate_latest(relay.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @get("/api/v1/alerts")
    async def alerts(self, request: Request[Any, Any, State]) -> dict[str, Any]:
        _require_admin(request)
        relay = relay_of(request)
        now = relay.clock()
        settings = relay.settings
        answer = await relay.database.read(
            lambda c: compute_alerts(c, now, settings.hours, settings.pending_alert_after_s)
        )
        if relay.storage_failure is not None:
            since, reason = relay.storage_failure
            message = f"Callbacks cannot be stored ({reason}): they are refused until storage is fixed"
            answer["alerts"].insert(
                0, {"code": "storage_failing", "message": message, "since": since.isoformat()}
            )
        return answer
