"""Background jobs of identity: the periodic age-band check (a Worker of the server spec)."""

from __future__ import annotations

import structlog
from parta_common.workers import PeriodicWorker
from prometheus_client import CollectorRegistry, Counter

from identity.app.age_bands import AgeBandReport, AgeBands

log = structlog.get_logger("identity.jobs")


class AgeBandCheck:
    """Runs AgeBands.refresh_due soon after start and then every `interval` seconds. Running it at
    start too means a replica that was down over a birthday catches up at once; several replicas
    running it together is harmless (each change is one versioned write with its events)."""

    def __init__(
        self,
        age_bands: AgeBands,
        interval: float,
        registry: CollectorRegistry,
        *,
        service: str = "identity",
        first_delay: float = 5.0,
    ):
        self._age_bands = age_bands
        self._service = service
        self._worker = PeriodicWorker("age-band-check", self.run_once, interval, first_delay=first_delay)
        self._changes = Counter(
            "parta_identity_age_band_changes_total",
            "People moved to another age band by the periodic check",
            ["service"],
            registry=registry,
        )
        self._runs = Counter(
            "parta_identity_age_band_checks_total",
            "Runs of the age-band check",
            ["service", "outcome"],
            registry=registry,
        )

    async def start(self) -> None:
        await self._worker.start()

    async def run_once(self) -> AgeBandReport | None:
        try:
            report = await self._age_bands.refresh_due()
        except Exception as exc:  # the store may be down; the next tick tries again
            self._runs.labels(self._service, "error").inc()
            log.warning("age_band_check_failed", error=type(exc).__name__)
            return None
        self._runs.labels(self._service, "ok").inc()
        self._changes.labels(self._service).inc(report.changed)
        log.info("age_band_check_done", checked=report.checked, changed=report.changed)
        return report

    async def stop(self) -> None:
        await self._worker.stop()
