"""The wheel holds the mapped packages (translation/ -> nnunet_uda.translation, ...)
and imports from a clean folder; generic top-level names are not installed."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_contents_and_import(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(ROOT)],
        check=True, capture_output=True, text=True,
    )
    wheel = next((tmp_path / "dist").glob("nnunet_uda-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names}
    assert {t for t in top if not t.endswith(".dist-info")} == {"nnunet_uda"}
    for sub in ("translation", "trainers", "synth"):
        assert f"nnunet_uda/{sub}/__init__.py" in names
    source_packages = {p.parent.relative_to(ROOT).as_posix() for p in ROOT.glob("*/**/__init__.py")}
    source_packages = {p for p in source_packages if p.split("/")[0] in ("nnunet_uda", "translation", "trainers")}
    for pkg in source_packages:
        mapped = pkg if pkg.startswith("nnunet_uda") else f"nnunet_uda/{pkg}"
        assert f"{mapped}/__init__.py" in names, f"{pkg} is missing from the wheel (pyproject's packages list)"
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = "import nnunet_uda.translation, nnunet_uda.trainers, nnunet_uda.synth, nnunet_uda.convert; print(nnunet_uda.translation.__file__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env={"PYTHONPATH": str(site)},
                         capture_output=True, text=True, check=True).stdout
    assert out.strip().startswith(str(site))
