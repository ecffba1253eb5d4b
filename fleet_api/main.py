"""The FastAPI application: ``create_app()`` builds it, its lifespan opens everything.

Nothing is built at import time. ``fleet-api serve`` (uvicorn's factory
``fleet_api.main:create_server_app``) calls :func:`create_app`; the lifespan then reads the settings
(through ``app.dependency_overrides`` if a test replaced them), creates the engine,
migrates or checks the schema, and starts MQTT ingestion if ``FLEET_MQTT_URL`` is set.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial

from fastapi import FastAPI
from pydantic import SecretStr
from sqlalchemy import Engine

from fleet_api import __version__, metrics
from fleet_api.db import ensure_at_head, make_engine, upgrade
from fleet_api.inbound import MessageSource
from fleet_api.ingest import Ingestor, IngestStats
from fleet_api.metrics import FleetMetrics, HttpMetrics
from fleet_api.notifications.service import AlertService
from fleet_api.problems import install as install_problems
from fleet_api.resend import ResendSender
from fleet_api.routes import (
    alerts,
    audit,
    checkout,
    commands,
    configs,
    exhibits,
    fleet,
    places,
    programmes,
    quarantine,
    readiness,
    reports,
    schools,
    service,
    tokens,
    unplaced,
    usage,
    visits,
)
from fleet_api.routes.fleet import thresholds
from fleet_api.settings import Settings, get_settings
from fleet_api.store.ingest import ingest_limits, write_batch, write_rejected
from fleet_api.store.tokens import ensure_bootstrap_token
from fleet_api.web import install as install_web

log = logging.getLogger(__name__)

SourceFactory = Callable[[Settings], MessageSource]


def _mqtt_source(settings: Settings) -> MessageSource:
    # Imported here so an API without ingestion (and every unit test) never loads paho.
    from fleet_api.mqtt_source import MqttSource

    return MqttSource(settings)


def create_app(
    settings: Settings | None = None,
    *,
    message_source: SourceFactory | None = None,
    freeze_gc: bool = False,
) -> FastAPI:
    """Build the app; ``settings`` default to the environment, read when it starts.

    ``freeze_gc``: once started, move everything built so far (routes, models, the
    engine) out of the garbage collector's sight. A server process wants this: a full
    collection over those ~150k long-lived objects otherwise lands on some request
    and adds 85-100 ms to it (docs/benchmarks.md). Tests, which build many apps in one
    process, must not: cycles of a frozen app would never be collected.
    """
    app = FastAPI(
        title="Exhibit fleet API",
        version=__version__,
        summary="Usage of the science centre's mobile exhibits, per school visit.",
        lifespan=_lifespan,
        # /docs is served from vendored Swagger UI by fleet_api.web (the default loads a CDN).
        docs_url=None,
        redoc_url=None,
    )
    if settings is not None:
        app.dependency_overrides[get_settings] = lambda: settings
    app.state.message_source = message_source or _mqtt_source
    app.state.freeze_gc = freeze_gc
    install_problems(app)
    # Outside the problem middleware, so it counts the 500s that middleware answers.
    app.state.metrics = FleetMetrics(app.state)
    app.add_middleware(HttpMetrics, metrics=app.state.metrics)
    for module in (exhibits, schools, programmes, visits, usage, service, quarantine, tokens):
        app.include_router(module.router)
    for module in (metrics, checkout, commands, fleet, reports, audit, places, unplaced):
        app.include_router(module.router)
    app.include_router(readiness.router)
    app.include_router(configs.router)
    app.include_router(alerts.router)
    install_web(app)
    return app


def app_settings(app: FastAPI) -> Settings:
    """The settings the app runs with: an override if one is set, else the environment."""
    provider = app.dependency_overrides.get(get_settings, get_settings)
    settings: Settings = provider()
    return settings


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings = app_settings(app)
    engine = make_engine(settings.database_url)
    try:
        # Migrating takes locks and may wait on another worker: keep it off the loop.
        await asyncio.to_thread(upgrade if settings.migrate_on_start else ensure_at_head, engine)
        if settings.bootstrap_admin_token is not None:
            await asyncio.to_thread(_bootstrap, engine, settings.bootstrap_admin_token)
        stats = IngestStats()
        ingestor = None
        if settings.ingest_active:
            limits = ingest_limits(settings)
            ingestor = Ingestor(
                engine=engine,
                source=app.state.message_source(settings),
                batch_max=settings.ingest_batch_max,
                batch_wait_s=settings.ingest_batch_wait_ms / 1000,
                stop_timeout_s=settings.ingest_stop_timeout_s,
                stats=stats,
                on_batch=app.state.metrics.observe_batch,
                writer=partial(
                    write_batch, history_days=settings.heartbeat_history_days, limits=limits
                ),
                rejecter=partial(write_rejected, limits=limits),
                error_retries=settings.ingest_error_retries,
                custody=settings.custody_acks,
                publish_timeout_s=settings.mqtt_publish_timeout_s,
            )
        app.state.engine = engine
        app.state.settings = settings
        app.state.ingest_stats = stats
        app.state.ingestor = ingestor
        resender = None
        if ingestor is not None:
            ingestor.start()
            log.info("ingesting from %s as %s", settings.mqtt_url, settings.mqtt_client_id)
            # Resend requests stored without the broker (fleet-api restore, resend).
            resender = ResendSender(
                engine, ingestor.source, timeout_s=settings.mqtt_publish_timeout_s
            )
            resender.start()
        # Alert changes reach a person: webhooks and e-mail (fleet_api/notifications).
        alerting = AlertService(
            engine,
            settings,
            thresholds=thresholds(settings),
            ingestor=ingestor,
            worker=settings.mqtt_client_id,
        )
        alerting.start()
        app.state.alerting = alerting
        if app.state.freeze_gc:
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            await alerting.stop()
            if resender is not None:
                await resender.stop()
            if ingestor is not None:
                await ingestor.stop()
            app.state.engine = app.state.ingestor = app.state.alerting = None
    finally:
        engine.dispose()


def create_server_app() -> FastAPI:
    """The app as ``fleet-api serve`` runs it (uvicorn's factory): settings from the
    environment, the collector frozen after start-up."""
    return create_app(freeze_gc=True)


def _bootstrap(engine: Engine, token: SecretStr) -> None:
    state = ensure_bootstrap_token(engine, token=token.get_secret_value())
    if state == "revoked":
        log.warning("FLEET_BOOTSTRAP_ADMIN_TOKEN names a revoked token; it stays revoked")
    elif state == "created":
        log.info("stored the admin token from FLEET_BOOTSTRAP_ADMIN_TOKEN")
