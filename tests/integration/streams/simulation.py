"""Publishing a simulator run into the input topics (the producers' own code)."""

from __future__ import annotations

from datetime import UTC, datetime

from producers.config import ProducerConfig
from producers.core import EventProducer
from producers.simulator import Simulation, SimulationConfig, simulate
from schemas.kafka import KafkaConnection
from schemas.topics import TopicNames

UNTIL = datetime(2026, 11, 1, tzinfo=UTC)


def publish_simulation(
    kafka: KafkaConnection, topics: TopicNames, shipments: int, seed: int
) -> Simulation:
    """Simulate ``shipments`` with every hard case and publish all their events."""
    simulation = simulate(SimulationConfig(shipments=shipments, until=UNTIL, seed=seed))
    with EventProducer(ProducerConfig(connection=kafka, topics=topics)) as producer:
        for event in simulation.events():
            producer.send(event.kind, event.record)
    return simulation
