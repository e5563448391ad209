"""Settings: the layers merge in order, and every environment-only knob is read by one helper."""

from __future__ import annotations

import pytest

from vaultzoe.errors import SettingsError
from vaultzoe.settings import env_number, resolve_settings
from vaultzoe.work.github_policy import GitHubPolicy


def test_the_layers_merge_defaults_then_note_then_environment_then_flags():
    assert resolve_settings({}, {}).max_agents == 2
    assert resolve_settings({"max_agents": 3}, {}).max_agents == 3
    assert resolve_settings({"max_agents": 3}, {"VAULTZOE_MAX_AGENTS": "4"}).max_agents == 4
    assert resolve_settings({"max_agents": 3}, {"VAULTZOE_MAX_AGENTS": "4"}, {"max_agents": 5}).max_agents == 5


def test_an_environment_knob_keeps_its_defaults_type_and_is_the_default_when_blank():
    assert env_number({}, "VAULTZOE_X", 2) == 2 and env_number({"VAULTZOE_X": "  "}, "VAULTZOE_X", 2) == 2
    assert env_number({"VAULTZOE_X": " 7 "}, "VAULTZOE_X", 2) == 7
    assert isinstance(env_number({"VAULTZOE_X": "7"}, "VAULTZOE_X", 2.0), float)


@pytest.mark.parametrize("raw, default", [("soon", 1.0), ("-1", 1.0), ("2.5", 2), ("nan", 1.0)])
def test_a_bad_knob_names_the_variable_and_the_fix(raw, default):
    with pytest.raises(SettingsError, match=rf"VAULTZOE_X='{raw}': must be .* fix it in vaultzoe's environment"):
        env_number({"VAULTZOE_X": raw}, "VAULTZOE_X", default)


def test_the_github_policy_reads_its_knobs_through_the_helper():
    assert GitHubPolicy.from_environ({"VAULTZOE_GITHUB_TRIES": "2"}).tries == 2
    with pytest.raises(SettingsError, match="VAULTZOE_GITHUB_BACKOFF_S='nan'"):
        GitHubPolicy.from_environ({"VAULTZOE_GITHUB_BACKOFF_S": "nan"})
