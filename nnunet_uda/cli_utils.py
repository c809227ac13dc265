"""Helpers shared by the ``nnuda-*`` entry points: clean errors and safe outputs."""

from __future__ import annotations

import os
import shutil
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from nnunet_uda.errors import InputError


def run_cli(prog: str, main: Callable[[], object]) -> None:
    """Run ``main``; an :class:`InputError` becomes one line on stderr and exit code 2."""
    try:
        main()
    except InputError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        sys.exit(130)


def require_dir(path: Path, what: str) -> Path:
    """Return ``path`` if it is an existing folder, else raise a clear :class:`InputError`."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{what} not found: {path}")
    if not path.is_dir():
        raise InputError(f"{what} is not a folder: {path}")
    return path


def check_not_inside(output: Path, inputs: list[Path]) -> None:
    """Refuse an output that is, or lies inside, an input folder (we never write there)."""
    out = Path(output).resolve()
    for inp in inputs:
        inp = Path(inp).resolve()
        if out == inp or inp in out.parents:
            raise InputError(f"output {output} lies inside the input folder {inp}; choose another output")


@contextmanager
def atomic_output_dir(output: Path, overwrite: bool) -> Iterator[Path]:
    """Build a folder in a temporary sibling and move it into place only on success.

    An existing, non-empty ``output`` is refused unless ``overwrite``; it is replaced
    only after the new folder is complete, so an interrupted run loses nothing.

    Yields:
        The temporary folder to write into.
    """
    output = Path(output)
    if output.exists() and not output.is_dir():
        raise InputError(f"output exists and is not a folder: {output}")
    if output.is_dir() and any(output.iterdir()) and not overwrite:
        raise InputError(f"output exists: {output} (pass --overwrite to replace it)")
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.parent / f".{output.name}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if output.exists():
        old = output.parent / f".{output.name}.old-{uuid.uuid4().hex[:8]}"
        os.replace(output, old)
    os.replace(tmp, output)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
