"""A session's event pipeline: the pump, its ordering, fan-out, reader queues, state and event streams."""
