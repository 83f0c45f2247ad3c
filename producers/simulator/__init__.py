"""Realistic cross-border marketplace traffic with injected hard cases, and its ground truth.

See ``hardcases`` for the cases and their shares, ``simulation`` for the time model.
"""

from producers.simulator.hardcases import DELIVERY_CASES, JOURNEY_CASES, HardCase
from producers.simulator.simulation import (
    ShipmentTruth,
    SimEvent,
    Simulation,
    SimulationConfig,
    SimulationError,
    simulate,
)

__all__ = [
    "DELIVERY_CASES",
    "JOURNEY_CASES",
    "HardCase",
    "ShipmentTruth",
    "SimEvent",
    "Simulation",
    "SimulationConfig",
    "SimulationError",
    "simulate",
]
