"""Re-running a cell that shows a client leaves one embedded simulator and no stale sessions."""

from __future__ import annotations

import json

from .kernel import LISTENING, errors, run_cells, stream_text

RERUN = 'client = Client(endpoint="simulator")\nclient.read(["Tank_001.Level"])\nclient'

STATE = """
print(json.dumps({
    "extra_listening": listening() - baseline,
    "closed": [Out[n].async_object.closed for n in sorted(Out) if type(Out[n]).__name__ == "Client"],
}))
"""


def test_rerunning_a_cell_that_displays_the_client_leaves_one_simulator() -> None:
    outputs = run_cells(
        [
            LISTENING + "\nbaseline = listening()\nfrom mxgateway_sync import Client",
            RERUN,
            RERUN,
            RERUN,
            "import gc\ngc.collect()\n" + STATE,
            # A client kept elsewhere (a list) is not the history's: it stays open.
            "kept = [Client(endpoint='simulator')]\nkept[0].read(['Tank_001.Level'])\nkept[0]",
            "client = None",  # dropped: after this cell only the history holds it
            STATE,
            "kept[0].close()\n" + STATE,
        ]
    )
    assert errors(outputs) == []
    html = [o["data"]["text/html"] for o in outputs[1] if "text/html" in o.get("data", {})]
    assert html, "the client displays as HTML"
    after_reruns = json.loads(stream_text(outputs[4]))
    assert after_reruns == {"extra_listening": 1, "closed": [True, True, False]}
    with_kept = json.loads(stream_text(outputs[7]))
    # The re-run cell's client went once its variable did; the listed one stays.
    assert with_kept == {"extra_listening": 1, "closed": [True, True, True, False]}
    assert json.loads(stream_text(outputs[8]))["extra_listening"] == 0
