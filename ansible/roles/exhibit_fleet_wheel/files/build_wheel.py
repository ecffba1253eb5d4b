#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Build the exhibit-fleet wheel reproducibly from a clean copy of the sources.

Copies only the named sources to a temporary directory (nothing stale from build/,
*.egg-info or caches can slip in), runs ``pip wheel --no-deps`` there with a fixed
SOURCE_DATE_EPOCH, and keeps the wheel in the dist directory only if its bytes differ
from the one already there. Prints ``{"path": ..., "changed": ...}`` as JSON.
"""

from __future__ import annotations

import argparse
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> int:
    """Build, compare, keep; print the JSON result."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, required=True)
    parser.add_argument("--dist", type=Path, required=True)
    parser.add_argument("--epoch", default="315532800")
    parser.add_argument("paths", nargs="+")
    args, pip_args = parser.parse_known_args()
    with tempfile.TemporaryDirectory(prefix="exhibit-fleet-wheel-") as scratch:
        tree = Path(scratch) / "src"
        tree.mkdir()
        for name in args.paths:
            source = args.source / name
            if source.is_dir():
                ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
                shutil.copytree(source, tree / name, ignore=ignore)
            else:
                shutil.copy2(source, tree / name)
        built_dir = Path(scratch) / "dist"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--quiet",
                "--wheel-dir",
                str(built_dir),
                *pip_args,
                str(tree),
            ],
            check=True,
            env={
                **os.environ,
                "SOURCE_DATE_EPOCH": args.epoch,
                "PIP_DISABLE_PIP_VERSION_CHECK": "1",
            },
            stdout=sys.stderr,
        )
        wheels = sorted(built_dir.glob("exhibit_fleet-*.whl"))
        if len(wheels) != 1:
            print(f"pip wheel made {wheels}, expected one exhibit_fleet wheel", file=sys.stderr)
            return 1
        built = wheels[0]
        target = args.dist / built.name
        changed = not target.exists() or not filecmp.cmp(built, target, shallow=False)
        if changed:
            args.dist.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".partial")
            shutil.copyfile(built, partial)
            partial.chmod(0o644)
            partial.replace(target)
    print(json.dumps({"path": str(target), "changed": changed}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
