"""Scenario simulator: a seeded stream of realistic offers and demands for demos and load tests.

``scenario`` generates the events, ``sinks`` sends them (stdout, the gateway, Kafka) at a paced
rate, ``cli`` is ``ketnoi simulate``.
"""

from connectors.simulator.scenario import (
    DEFAULT_START,
    Generated,
    ScenarioConfig,
    events,
    generate,
    scenario_names,
    submission_bodies,
)

__all__ = [
    "DEFAULT_START",
    "Generated",
    "ScenarioConfig",
    "events",
    "generate",
    "scenario_names",
    "submission_bodies",
]
