"""Faust app settings shared by the workers, tuned for one-worker-per-market and quick restarts."""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Collection, Mapping
from typing import Any, NoReturn

import faust
from faust.transport.drivers import aiokafka as aiokafka_driver
from faust.types import TP

from ketnoi.settings import Settings
from services.common import logfilters
from services.common.outages import (
    RETRY_SECONDS,
    ClientNoise,
    Dependency,
    install,
    kafka_dependency,
    watch_kafka,
)
from services.common.shutdown import STOP, STOP_SECONDS, STOP_SECONDS_OFFLINE
from services.common.topics import ensure_topics

log = logging.getLogger("ketnoi.faust")


def uncommitted(committed: Mapping[Any, int | None], topics: Collection[str]) -> list[Any]:
    """The partitions of ``topics`` with no committed offset (None; aiokafka also skips 0)."""
    return [tp for tp, offset in committed.items() if not offset and tp.topic in topics]


class _ConsumerThread(aiokafka_driver.AIOKafkaConsumerThread):
    """Faust's aiokafka consumer thread, whose "seek to committed" also rewinds a stream
    partition that has no committed offset, to its beginning.

    Faust undoes a fetch it discards (records that arrive while the flow is stopped, as a fetch
    in flight across a rebalance does) by seeking every partition back to its committed offset,
    and does so again when a rebalance's table recovery ends. aiokafka's ``seek_to_committed``
    leaves a partition without a committed offset where it is, past the discarded records, so
    the worker went on from there and those events never reached it: a worker that took over
    the partitions of one killed before its first commit, or three starting together on fresh
    topics, skipped the first events of a partition. "Committed" is where the next owner
    starts; with none, that is the beginning (``consumer_auto_offset_reset="earliest"``).
    """

    async def seek_to_committed(self) -> Mapping[TP, int]:
        return await self.call_thread(self._seek_to_committed_or_beginning)

    async def _seek_to_committed_or_beginning(self) -> Mapping[TP, int]:
        consumer = self._ensure_consumer()
        committed = await consumer.seek_to_committed()
        if self.app.conf.consumer_auto_offset_reset == "earliest":
            rewind = uncommitted(committed, self.app.topics.acking_topics)
            if rewind:
                names = ", ".join(f"{tp.topic}[{tp.partition}]" for tp in sorted(rewind))
                log.info("no committed offset, reading from the beginning: %s", names)
                await consumer.seek_to_beginning(*rewind)
        return committed


class _Consumer(aiokafka_driver.Consumer):
    def _new_consumer_thread(self) -> aiokafka_driver.AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class _Transport(aiokafka_driver.Transport):
    Consumer = _Consumer


class App(faust.App):
    """faust.App on the aiokafka transport with ``_ConsumerThread``'s seek."""

    def _new_transport(self) -> _Transport:
        url = self.conf.broker_consumer[0]
        if url.scheme not in ("kafka", "aiokafka"):
            raise ValueError(f"broker {url}: the workers run on Kafka (kafka://)")
        return _Transport(self.conf.broker_consumer, self)


def make_app(service: str, settings: Settings, **tuning: Any) -> faust.App:
    """One Faust app per service; its id (consumer group, changelog names) carries the prefix.
    ``tuning``: Faust settings one service wants on top of the shared ones."""
    logfilters.install()  # set-up retries of new changelog topics are not errors
    data = settings.home / "faust"  # Faust makes its folders even for the memory store:
    data.mkdir(parents=True, exist_ok=True)  # here, not in whatever folder the worker runs in
    return App(
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


def run_worker(app: faust.App, settings: Settings, service: str) -> None:
    """Run the worker until SIGTERM or Ctrl-C, which stop it within STOP_SECONDS with exit 0
    (services/common/shutdown.py); Kafka's outages are reported once per retry interval."""
    log = logging.getLogger(f"ketnoi.{service}")
    kafka = kafka_dependency(settings.kafka_bootstrap, log)

    @app.task
    async def watch_kafka_reachability() -> None:
        await watch_kafka(kafka)

    class Worker(faust.Worker):
        def _on_sigint(self) -> None:
            self._stop_requested(signal.SIGINT)
            super()._on_sigint()

        def _on_sigterm(self) -> None:
            self._stop_requested(signal.SIGTERM)
            super()._on_sigterm()

        def _stop_requested(self, signum: int) -> None:
            deadline = STOP_SECONDS_OFFLINE if kafka.down else STOP_SECONDS
            STOP.request(service, signum, log, deadline)

        def on_setup_root_logger(self, logger: logging.Logger, level: int) -> None:
            super().on_setup_root_logger(logger, level)
            install(ClientNoise(kafka), logger)

        async def on_first_start(self) -> None:
            await super().on_first_start()  # logging and signal handlers first
            await _topics_before_subscribing(settings, kafka, service)

    # No stdout redirection into the log: a traceback stays one block, not a line per fragment.
    worker = Worker(app, loglevel=settings.log_level.upper(), logfile=None,
                    redirect_stdouts=False)  # fmt: skip
    try:
        worker.execute_from_commandline()
    except SystemExit as exc:
        if exc.code and STOP.requested:
            # An error while stopping on request (Kafka away during the final commit) loses
            # nothing: what was not committed is redelivered. The stop itself succeeded.
            log.info("%s: stopped on request (exit %s while stopping)", service, exc.code)
            raise SystemExit(0) from None
        raise


async def _topics_before_subscribing(settings: Settings, kafka: Dependency, service: str) -> None:
    """Create the topics before the consumer subscribes: a topic created a moment later is
    missing from the group's assignment until Faust refreshes its metadata (up to 5 minutes),
    which left a demo's recorder idle. Waits for Kafka meanwhile, one line per interval."""
    while not STOP.requested:
        try:
            await ensure_topics(settings)
        except Exception as exc:  # unreachable, or not ready yet: said, then retried
            kafka.failed(exc, f"the {service} starts once it answers")
            await STOP.sleep(RETRY_SECONDS)
        else:
            kafka.ok()
            return


def fail_stop(log: logging.Logger, service: str, exc: BaseException) -> NoReturn:
    """Exit at once, without committing the offset of the event being processed.

    Faust's agent supervisor restarts a crashed agent *and moves past the event that crashed
    it*, which would lose an accepted event. Bad input never gets here (it goes to the dead-letter
    topic); an unexpected error (a bug) stops the worker so that it is redelivered after a
    restart. Outputs have deterministic ids, so a redelivery changes nothing twice. A requested
    stop is not an error: it goes through ``STOP.abandon`` instead, with exit code 0.
    """
    log.critical("%s: unexpected error, stopping without commit: %r", service, exc, exc_info=exc)
    logging.shutdown()
    os._exit(70)  # EX_SOFTWARE; the process supervisor (make demo, compose) restarts us
