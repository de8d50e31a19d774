"""mxgateway_sync exports every public name of the core, the blocking classes in place of the async ones."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import mxgateway
import mxgateway_sync

ROOT = Path(__file__).resolve().parents[2]
ASYNC_ONLY = {"Connector", "call_metadata", "create_channel"}


def test_every_core_name_is_exported() -> None:
    expected = (set(mxgateway.__all__) - ASYNC_ONLY) | {"LoopThreadCallError"}
    assert set(mxgateway_sync.__all__) == expected
    for name in expected:
        assert hasattr(mxgateway_sync, name), name


def test_facade_classes_replace_the_async_ones_and_the_rest_is_shared() -> None:
    assert mxgateway_sync.Client is not mxgateway.Client
    assert mxgateway_sync.Client.__module__ == "mxgateway_sync._facade"
    assert mxgateway_sync.MxGatewaySessionLostError is mxgateway.MxGatewaySessionLostError
    assert mxgateway_sync.DataChange is mxgateway.DataChange


def _render_with(change: str) -> subprocess.CompletedProcess[str]:
    """Run the generator in a child process after ``change`` (Python on ``g``) edits its tables."""
    script = f"import sys; sys.path.insert(0, 'scripts'); import generate_sync as g; {change}; g.render()"
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_the_generator_refuses_a_class_that_does_not_exist(tmp_path: Path) -> None:
    completed = _render_with("g.CLASSES.append(('mxgateway._session.session', 'NoSuchClass'))")
    assert completed.returncode != 0
    assert "mxgateway._session.session.NoSuchClass, which does not exist" in completed.stderr


def test_the_generator_refuses_an_awaitable_factory_of_a_class_it_does_not_mirror() -> None:
    # Without Session mirrored, open_session's Connector[Session] has no blocking form.
    completed = _render_with("g.CLASSES.remove(('mxgateway._session.session', 'Session'))")
    assert completed.returncode != 0
    assert "GatewayClient.open_session returns Connector[Session]" in completed.stderr
    assert "cannot convert" in completed.stderr


def test_the_public_names_are_the_exported_ones() -> None:
    # Submodules (mxgateway_sync.embedded, .loop) appear once imported, as for any package.
    public = {
        name
        for name in dir(mxgateway_sync)
        if not name.startswith("_") and not isinstance(getattr(mxgateway_sync, name), types.ModuleType)
    }
    assert public | {"__version__"} == set(mxgateway_sync.__all__)


def test_importing_the_facade_loads_no_grpc_until_first_use() -> None:
    script = (
        "import sys\n"
        "from mxgateway_sync import Client\n"
        "print('grpc' in sys.modules, 'mxgateway._session.session' in sys.modules)\n"
        "client = Client(endpoint='127.0.0.1:1')\n"
        "print('grpc' in sys.modules, 'mxgateway._session.session' in sys.modules)\n"
        "client.close()\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.split() == ["False", "False", "True", "True"]
