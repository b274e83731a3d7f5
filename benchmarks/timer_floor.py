"""`timer-floor`: benchmarks/keyed_floor.py with each record buffered in the key's state
until the next watermark, as core's keyed stages buffer an instant's events; see there."""

from __future__ import annotations

from benchmarks import keyed_floor
from supplyflow import config

NAME = "timer-floor"
OUTPUT_TOPIC = keyed_floor.OUTPUT_TOPIC


def build(t_env, settings: config.Settings, bounded: bool):
    return keyed_floor.build(t_env, settings, bounded, timers=True, name=NAME)


def group_id(settings: config.Settings) -> str:
    return keyed_floor.group_id(settings, NAME)
