"""supplyflow: exactly-once supply-chain state and alerts with Apache Flink (PyFlink)."""

__version__ = "0.1.0"
