"""Faust app settings shared by the workers, tuned for one-worker-per-market and quick restarts."""

from __future__ import annotations

import logging
import os
from typing import Any, NoReturn

import faust

from ketnoi.settings import Settings


def make_app(service: str, settings: Settings, **tuning: Any) -> faust.App:
    """One Faust app per service; its id (consumer group, changelog names) carries the prefix.
    ``tuning``: Faust settings one service wants on top of the shared ones."""
    data = settings.home / "faust"  # Faust makes its folders even for the memory store:
    data.mkdir(parents=True, exist_ok=True)  # here, not in whatever folder the worker runs in
    return faust.App(
        f"{settings.topic_prefix}{service}",
        datadir=str(data / "{conf.name}-data"),
        broker=f"kafka://{settings.kafka_bootstrap}",
        store="memory://",  # tables are rebuilt from their changelog topics on start
        web_enabled=False,
        topic_partitions=settings.topic_partitions,
        topic_replication_factor=1,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        processing_guarantee="at_least_once",
        broker_session_timeout=10.0,
        broker_heartbeat_interval=3.0,
        table_standby_replicas=0,
        **tuning,
    )


def raw_topic(app: faust.App, *names: str, partitions: int | None = None) -> faust.TopicT:
    """A topic read as bytes: we validate with pydantic ourselves so bad events reach the DLQ."""
    return app.topic(
        *names,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
        partitions=partitions,
    )


def run_worker(app: faust.App, settings: Settings) -> None:
    from faust import Worker

    Worker(app, loglevel=settings.log_level.upper(), logfile=None).execute_from_commandline()


def fail_stop(log: logging.Logger, service: str, exc: BaseException) -> NoReturn:
    """Exit at once, without committing the offset of the event being processed.

    Faust's agent supervisor restarts a crashed agent *and moves past the event that crashed
    it*, which would lose an accepted event. Bad input never gets here (it goes to the dead-letter
    topic); an unexpected error (store down, a bug) stops the worker so that it is redelivered
    after a restart. Outputs have deterministic ids, so a redelivery changes nothing twice.
    """
    log.critical("%s: unexpected error, stopping without commit: %r", service, exc, exc_info=exc)
    logging.shutdown()
    os._exit(70)  # EX_SOFTWARE; the process supervisor (make demo, compose) restarts us
