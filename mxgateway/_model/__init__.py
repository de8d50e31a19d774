"""The typed model: values, data types, statuses, events, results, their display, argument checks."""
