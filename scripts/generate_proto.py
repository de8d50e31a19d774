#!/usr/bin/env python3
"""Generate the protobuf and gRPC bindings in ``mxgateway/generated/`` from ``proto/``.

Runs ``grpc_tools.protoc`` with the mypy-protobuf plugins, then rewrites the
top-level imports protoc emits (``import mxaccess_gateway_pb2``) into package
imports (``from mxgateway.generated import mxaccess_gateway_pb2``).

``--check`` regenerates into a temporary folder and exits 1, naming every file
that differs from the committed output.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "proto"
OUTPUT_DIR = ROOT / "mxgateway" / "generated"
PACKAGE = "mxgateway.generated"
HEADER_INIT = (
    '"""Generated protobuf and gRPC bindings. Never edit by hand: run scripts/generate_proto.py."""\n'
)


def _proto_files() -> list[Path]:
    return sorted(PROTO_DIR.glob("*.proto"))


def _module_names() -> list[str]:
    return [p.stem + "_pb2" for p in _proto_files()]


def _rewrite_imports(text: str, modules: list[str]) -> str:
    for module in modules:
        # "import x_pb2 as alias" and "import x_pb2" (mypy-protobuf stubs).
        text = re.sub(
            rf"^import {module}( as \w+)?$",
            rf"from {PACKAGE} import {module}\1",
            text,
            flags=re.MULTILINE,
        )
    return text


def generate(out_dir: Path) -> None:
    """Write the bindings for every file in proto/ into ``out_dir``."""
    import grpc_tools

    out_dir.mkdir(parents=True, exist_ok=True)
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    with tempfile.TemporaryDirectory() as raw:
        args = [
            f"--proto_path={PROTO_DIR}",
            f"--proto_path={well_known}",
            f"--python_out={raw}",
            f"--grpc_python_out={raw}",
            f"--mypy_out={raw}",
            f"--mypy_grpc_out={raw}",
            *[str(p) for p in _proto_files()],
        ]
        # protoc finds the mypy-protobuf plugins (console scripts) on PATH, next to
        # this interpreter; it runs in a child so that its exit cannot end ours.
        bin_dir = str(Path(sys.executable).parent)
        env = dict(os.environ, PATH=bin_dir + os.pathsep + os.environ.get("PATH", ""))
        result = subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", *args],
            env=env,
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            sys.stderr.write(result.stdout + result.stderr)
            raise SystemExit(f"protoc failed with exit code {result.returncode}")
        modules = _module_names()
        for path in sorted(Path(raw).iterdir()):
            text = _rewrite_imports(path.read_text(encoding="utf-8"), modules)
            (out_dir / path.name).write_text(text, encoding="utf-8")
    (out_dir / "__init__.py").write_text(HEADER_INIT, encoding="utf-8")


def _differences(expected: Path, actual: Path) -> list[str]:
    names = {p.name for p in expected.iterdir() if p.is_file()}
    names |= {p.name for p in actual.iterdir() if p.is_file() and p.suffix in {".py", ".pyi"}}
    diffs = []
    for name in sorted(names):
        a, b = expected / name, actual / name
        if not a.exists():
            diffs.append(f"{name}: committed but no longer generated")
        elif not b.exists():
            diffs.append(f"{name}: missing from mxgateway/generated/")
        elif not filecmp.cmp(a, b, shallow=False):
            diffs.append(f"{name}: differs")
    return diffs


def main(argv: list[str] | None = None) -> int:
    """Generate, or with ``--check`` verify, the committed bindings."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="verify the committed output instead of writing it"
    )
    args = parser.parse_args(argv)
    if not args.check:
        if OUTPUT_DIR.exists():
            shutil.rmtree(OUTPUT_DIR)
        generate(OUTPUT_DIR)
        print(f"wrote {OUTPUT_DIR.relative_to(ROOT)}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "generated"
        generate(fresh)
        diffs = (
            _differences(fresh, OUTPUT_DIR) if OUTPUT_DIR.exists() else ["mxgateway/generated/ is missing"]
        )
    if diffs:
        print("generated code is out of date (run scripts/generate_proto.py):", file=sys.stderr)
        for line in diffs:
            print(f"  {line}", file=sys.stderr)
        return 1
    print("mxgateway/generated/ is up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
