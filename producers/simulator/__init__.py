"""Realistic cross-border marketplace traffic with injected hard cases, and its ground truth.

See ``hardcases`` for the cases and their shares, ``simulation`` for the time model.
"""

from producers.simulator.hardcases import ALERTS, DELIVERY_CASES, JOURNEY_CASES, HardCase
from producers.simulator.simulation import (
    ShipmentTruth,
    SimEvent,
    Simulation,
    SimulationConfig,
    SimulationError,
    simulate,
)
from producers.simulator.tally import Tally

__all__ = [
    "ALERTS",
    "DELIVERY_CASES",
    "JOURNEY_CASES",
    "HardCase",
    "ShipmentTruth",
    "SimEvent",
    "Simulation",
    "SimulationConfig",
    "SimulationError",
    "Tally",
    "simulate",
]
