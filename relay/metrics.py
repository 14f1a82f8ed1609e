"""Prometheus metrics, one registry per app (tests run several apps in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from relay.settle import Effects

_ERROR_STATUSES = frozenset({"malformed", "failed"})


class RelayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.callbacks = Counter(
            "relay_callbacks_received",
            "Callback requests stored, by what became of them",
            ["status"],
            registry=self.registry,
        )
        self.duplicates = Counter(
            "relay_callback_duplicates", "Copies of a result already stored", registry=self.registry
        )
        self.parse_errors = Counter(
            "relay_callback_parse_errors",
            "Callbacks kept with a parse or processing error",
            registry=self.registry,
        )
        self.anomalies = Counter(
            "relay_anomalies", "Payments flagged instead of settled", ["kind"], registry=self.registry
        )
        self.registrations = Counter(
            "relay_registrations", "Payments registered by tills", registry=self.registry
        )
        self.settle_latency = Histogram(
            "relay_settle_latency_seconds",
            "From a payment's registration to its result being applied",
            buckets=(0.5, 1, 2, 5, 10, 20, 30, 45, 60, 120, 300, 600),
            registry=self.registry,
        )
        self.intake_latency = Histogram(
            "relay_callback_intake_seconds",
            "From a callback's arrival to its durable commit",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
            registry=self.registry,
        )
        self.pending = Gauge(
            "relay_pending_payments", "Payments still waiting for a result", registry=self.registry
        )

    def observe(self, effects: Effects) -> None:
        for event in effects.events:
            name = event["event"]
            if name == "callback":
                status = event["status"]
                self.callbacks.labels(status=status).inc()
                if status == "duplicate":
                    self.duplicates.inc()
                elif status in _ERROR_STATUSES:
                    self.parse_errors.inc()
                elif status in ("wrong_till", "unknown_token", "forbidden_source"):
                    self.anomalies.labels(kind=status).inc()
            elif name == "anomaly":
                self.anomalies.labels(kind=event["anomaly"]).inc()
            elif name == "registered":
                self.registrations.inc()
        for latency_s in effects.settle_latencies_s:
            self.settle_latency.observe(latency_s)
