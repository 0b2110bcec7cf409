from pathlib import Path

import pytest

from camera_center.settings import SettingsError, load_settings


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cc.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_example_config_documents_the_defaults(tmp_path: Path) -> None:
    example = load_settings(Path("config/camera-center.yaml"))
    defaults = load_settings(None)
    assert example.model_dump() == defaults.model_dump()


def test_unknown_yaml_key_is_an_error_naming_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  prot: 8080\n")
    with pytest.raises(SettingsError, match=r"server\.prot: unknown key"):
        load_settings(path)


def test_wrong_type_names_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  port: eighty\n")
    with pytest.raises(SettingsError, match=r"server\.port"):
        load_settings(path)


def test_unknown_environment_variable_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAMERA_CENTER_SERVER__PROT", "9000")
    with pytest.raises(SettingsError, match="CAMERA_CENTER_SERVER__PROT"):
        load_settings()


def test_environment_overrides_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, "server:\n  port: 8080\n  host: 0.0.0.0\n")
    monkeypatch.setenv("CAMERA_CENTER_SERVER__PORT", "9090")
    settings = load_settings(path)
    assert settings.server.port == 9090
    assert settings.server.host == "0.0.0.0"


def test_default_database_is_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(None, data_dir=str(tmp_path / "d"))
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'd' / 'camera-center.db'}"
    assert settings.secrets_path == tmp_path / "d" / "secrets.json"


def test_named_config_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "missing.yaml")


def test_unknown_time_zone_is_refused() -> None:
    with pytest.raises(SettingsError, match="timezone"):
        load_settings(None, timezone="Mars/Olympus")
