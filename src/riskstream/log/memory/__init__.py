"""In-process, non-durable backend: the reference semantics, for unit tests and the test kit."""

from riskstream.log.memory.log import MemoryLog

__all__ = ["MemoryLog"]
