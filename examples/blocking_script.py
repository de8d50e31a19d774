"""A blocking script: read tags, write one with confirmation, watch a few changes, browse the Galaxy.

Runs against the embedded simulator by default; pass a gateway to use a plant::

    python examples/blocking_script.py                      # the simulator
    python examples/blocking_script.py gw.plant:5001        # MXGATEWAY_API_KEY for the key
"""

from __future__ import annotations

import sys

from mxgateway_sync import Client, DataType


def main(endpoint: str = "simulator") -> int:
    """Run the walk-through against ``endpoint``; returns the exit code."""
    with Client(endpoint=endpoint, client_session_name="example-script") as client:
        for result in client.read(["Tank_001.Level", "Tank_001.Volume", "Tank_001.Name"]):
            print(result)  # Tank_001.Level = 60.0 (good, 08:05:56Z)
        outcome = client.write_and_confirm("Tank_001.Volume", 1250)
        print("write confirmed:", outcome.ok)
        with client.subscribe(["Tank_001.Level", "Tank_001.Volume"]) as changes:
            for count, change in enumerate(changes, start=1):
                print(change)  # the current values first, then changes
                if count == 2:
                    break
        floats = [
            attribute.tag
            for obj in client.galaxy().discover_hierarchy(tag_name_glob="Pump_*")
            for attribute in obj.attributes
            if attribute.data_type is DataType.FLOAT
        ]
        print("float attributes of the pumps:", ", ".join(floats))
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:2]))
