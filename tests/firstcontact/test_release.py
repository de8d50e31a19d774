"""A dropped or re-bound Client(endpoint="simulator") stops its simulator; exit is silent.

Each check runs in a fresh interpreter, as a script or notebook would, because
exit-time behaviour only shows when the interpreter really exits.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

REBIND = textwrap.dedent(
    """
    import gc, socket, time
    from mxgateway_sync import Client

    def accepts(endpoint):
        host, port = endpoint.rsplit(":", 1)
        with socket.socket() as sock:
            sock.settimeout(1)
            return sock.connect_ex((host, int(port))) == 0

    client = Client(endpoint="simulator")
    client.read(["Tank_001.Level"])
    first = client.galaxy().options.endpoint
    assert accepts(first)
    client = Client(endpoint="simulator")       # re-bound, as a re-run notebook cell does
    client.read(["Tank_001.Level"])
    second = client.galaxy().options.endpoint
    gc.collect()
    deadline = time.monotonic() + 10
    for _ in range(200):  # bounded in count and time
        if not accepts(first) or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    print("first released:", not accepts(first))
    print("second serving:", accepts(second))
    """
)

LEFT_OPEN = textwrap.dedent(
    """
    from mxgateway_sync import Client
    a = Client(endpoint="simulator")
    a.read(["Tank_001.Level"])
    b = Client(endpoint="simulator")
    subscription = b.subscribe(["Tank_001.Level"]).__enter__()
    next(iter(subscription))
    galaxy = b.galaxy()
    galaxy.discover_hierarchy(tag_name_glob="Tank_*")
    events = a.events()
    print("leaving everything open")
    """
)


CHAINED = textwrap.dedent(
    """
    import gc
    from mxgateway_sync import Client

    # The temporary Client is dropped at once; what it handed out keeps it alive.
    with Client(endpoint="simulator").subscribe(["Tank_001.Level"]) as changes:
        gc.collect()
        print(next(iter(changes)).tag)
    galaxy = Client(endpoint="simulator").galaxy()
    gc.collect()
    nodes = galaxy.browse()
    gc.collect()
    print(len(nodes[0].expand()) > 0)
    print([o.tag_name for o in Client(endpoint="simulator").galaxy().iter_hierarchy(tag_name_glob="Tank_*")])
    """
)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=90)


def test_rebinding_a_simulator_client_releases_the_old_simulator() -> None:
    done = _run(REBIND)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["first released: True", "second serving: True"]
    assert done.stderr == ""


def test_objects_handed_out_keep_a_dropped_client_alive() -> None:
    done = _run(CHAINED)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["Tank_001.Level", "True", "['Tank_001', 'Tank_002']"]
    assert done.stderr == ""


def test_exit_with_clients_streams_and_simulators_left_open_is_silent() -> None:
    done = _run(LEFT_OPEN)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "leaving everything open\n"
    assert done.stderr == ""  # no "Event loop is closed", no "never awaited"


def test_exit_after_a_rebind_is_silent() -> None:
    done = _run(REBIND.replace('print("second serving:", accepts(second))', "client = None"))
    assert done.returncode == 0, done.stderr
    assert "Event loop is closed" not in done.stderr
    assert "never awaited" not in done.stderr
    assert done.stderr == ""
