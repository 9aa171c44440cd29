"""The settings table drives the environment, the CLI help and the docs; they must agree."""

from __future__ import annotations

import os
from dataclasses import fields
from pathlib import Path

import pytest

from launchsequence.cli import _parser
from launchsequence.config import SETTINGS, Settings, load_settings, reference_markdown

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_a_field_with_the_same_default():
    table = {s.name: s.default for s in SETTINGS}
    dataclass_defaults = {f.name: f.default for f in fields(Settings)}
    assert table == dataclass_defaults


def test_configuration_reference_is_generated_from_the_table():
    assert (ROOT / "docs" / "configuration.md").read_text() == reference_markdown()


def test_cli_help_lists_every_variable():
    text = _parser().format_help()
    for setting in SETTINGS:
        assert setting.env in text


def test_environment_then_options():
    settings = load_settings({"port": 9000}, environ={"LAUNCHSEQ_PORT": "7000",
                                                     "LAUNCHSEQ_HOST": "0.0.0.0"})  # fmt: skip
    assert settings.port == 9000 and settings.host == "0.0.0.0"


def test_bad_number_names_the_variable():
    with pytest.raises(ValueError, match="LAUNCHSEQ_PORT"):
        load_settings(environ={"LAUNCHSEQ_PORT": "eighty"})


def test_database_urls():
    assert (
        Settings(data_dir="/srv/ls").resolved_database_url == "sqlite:////srv/ls/launchsequence.db"
    )
    pg = Settings(database_url="postgres://u@h/db").resolved_database_url
    assert pg == "postgresql+psycopg://u@h/db"


def test_worker_count_is_a_number_or_auto():
    default = load_settings(environ={})
    assert default.workers == "auto"  # one per CPU (tests/unit/test_cpus.py)
    auto = load_settings(environ={"LAUNCHSEQ_WORKERS": "auto"}).worker_count()
    assert default.worker_count() == auto and 1 <= auto <= len(os.sched_getaffinity(0))
    assert load_settings({"workers": "3"}, environ={"LAUNCHSEQ_WORKERS": "2"}).worker_count() == 3
    assert load_settings(environ={"LAUNCHSEQ_WORKERS": "1"}).worker_plan() == (
        1,
        "set by --workers or LAUNCHSEQ_WORKERS",
    )
    for wrong in ("0", "-1", "257", "many", ""):
        with pytest.raises(ValueError, match="LAUNCHSEQ_WORKERS"):
            load_settings(environ={"LAUNCHSEQ_WORKERS": wrong}).worker_count()
