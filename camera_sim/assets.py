"""The two photos the simulator cuts its people and its bus from.

They ship inside ultralytics' wheel (``ultralytics/assets/bus.jpg`` and
``zidane.jpg``). The test environment has ultralytics installed; the server's own
install does not (no PyTorch at run time), so ``make run`` fetches the pinned wheel
once from the package registry with pip and keeps just the two photos in
``data/sim-assets`` (``python -m camera_sim.assets``).
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PHOTOS = ("bus.jpg", "zidane.jpg")
_CONSTRAINTS = Path(__file__).resolve().parent.parent / "constraints.txt"


def assets_dir() -> Path:
    """Where fetched photos are kept: $CAMERA_SIM_ASSETS, else data/sim-assets."""
    return Path(os.environ.get("CAMERA_SIM_ASSETS", "data/sim-assets"))


def photo(name: str) -> Path:
    """The photo *name*: from an installed ultralytics, else from :func:`assets_dir`."""
    spec = importlib.util.find_spec("ultralytics")
    if spec is not None and spec.submodule_search_locations:
        installed = Path(next(iter(spec.submodule_search_locations))) / "assets" / name
        if installed.is_file():
            return installed
    fetched = assets_dir() / name
    if not fetched.is_file():
        raise FileNotFoundError(
            f"the simulator's photo {name} is not in {fetched.parent.resolve()}: run "
            "'python -m camera_sim.assets' (make run does) or install ultralytics")
    return fetched


def pinned_version() -> str | None:
    """ultralytics' version in constraints.txt, when the checkout has it."""
    if not _CONSTRAINTS.is_file():
        return None
    found = re.search(r"^ultralytics==(\S+)$", _CONSTRAINTS.read_text(encoding="utf-8"),
                      re.MULTILINE)
    return found.group(1) if found else None


def fetch(dest: Path) -> list[Path]:
    """Download ultralytics' wheel (no dependencies, nothing installed) and keep only
    its two photos in *dest*. Does nothing when they are there already."""
    wanted = [dest / name for name in PHOTOS]
    if all(p.is_file() for p in wanted):
        return wanted
    version = pinned_version()
    spec = f"ultralytics=={version}" if version else "ultralytics"
    with tempfile.TemporaryDirectory() as tmp:
        # A fixed command: this interpreter's pip and a package name from constraints.txt.
        argv = [sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                "--disable-pip-version-check", "--only-binary", ":all:", "-d", tmp, spec]
        subprocess.run(argv, check=True, timeout=600)  # noqa: S603
        wheel = next(Path(tmp).glob("ultralytics-*.whl"))
        dest.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(wheel) as archive:
            for name, target in zip(PHOTOS, wanted, strict=True):
                target.write_bytes(archive.read(f"ultralytics/assets/{name}"))
    return wanted


if __name__ == "__main__":
    for path in fetch(assets_dir()):
        print(path)
