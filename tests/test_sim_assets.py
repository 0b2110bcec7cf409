"""The simulator's photos without ultralytics installed (the server's own install):
fetched once from the pinned wheel, byte for byte the ones the tests' ultralytics has."""

import importlib.util
from pathlib import Path

import pytest

from camera_sim import assets


def test_the_photos_come_from_the_pinned_wheel_and_are_found_without_ultralytics(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMERA_SIM_ASSETS", str(tmp_path / "sim-assets"))
    installed = {name: assets.photo(name).read_bytes() for name in assets.PHOTOS}
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None
                        if name == "ultralytics" else real_find_spec(name, *a))
    with pytest.raises(FileNotFoundError, match=r"python -m camera_sim\.assets"):
        assets.photo("bus.jpg")
    assets.fetch(assets.assets_dir())
    for name, data in installed.items():
        assert assets.photo(name) == tmp_path / "sim-assets" / name
        assert assets.photo(name).read_bytes() == data
