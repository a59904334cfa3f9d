"""config.toml's spending controls ([budgets], confirm_above, prompt_cache, [failover]) are read and checked:
a bad value is one line naming the key, the value and what is allowed (exit 3), like every other setting."""

from __future__ import annotations

import pytest

from agentspace_tui.config.settings import BudgetLimit, load_settings
from tests.conftest import run_cli
from tests.test_config_validation import one_line_error, write_config

MONEY = "is not allowed: an amount in USD from 0 to 1,000,000"


def test_spending_settings_are_read(home):
    path = write_config(home, """
confirm_above = 0.5
prompt_cache = "auto"

[budgets]
daily = 5
monthly = 100.25
warn_at = 0.9

[budgets.providers.anthropic]
daily = 2

[failover]
"anthropic:claude-sonnet-4-5" = ["openai:gpt-4.1", " groq:llama-3.3-70b "]
""")
    settings = load_settings(path)
    assert settings.budgets == [
        BudgetLimit("daily", 5.0), BudgetLimit("monthly", 100.25), BudgetLimit("daily", 2.0, "anthropic")
    ]
    assert settings.budgets[2].name == "daily budget for anthropic"
    assert settings.budget_warn_at == 0.9
    assert settings.confirm_above == 0.5
    assert settings.prompt_cache == "auto"
    assert settings.failover == {"anthropic:claude-sonnet-4-5": ["openai:gpt-4.1", "groq:llama-3.3-70b"]}


def test_spending_defaults(home):
    settings = load_settings(write_config(home, ""))
    assert (settings.budgets, settings.budget_warn_at, settings.confirm_above) == ([], 0.8, None)
    assert (settings.prompt_cache, settings.failover) == ("off", {})


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("confirm_above = -1", f"confirm_above = -1 {MONEY}"),
        ('confirm_above = "half a dollar"', f'confirm_above = "half a dollar" {MONEY}'),
        ("confirm_above = nan", f"confirm_above = nan {MONEY}"),
        ('prompt_cache = "always"',
         'prompt_cache = "always" is not allowed: "auto" (cache breakpoints on Anthropic requests) or "off"'),
        ("budgets = 5", "budgets = 5 is not allowed: a [budgets] table with daily, monthly, warn_at, "
         "[budgets.providers.NAME]"),
        ("[budgets]\nweekly = 5", "budgets.weekly is not a budget setting; use daily, monthly, warn_at, providers"),
        ("[budgets]\ndaily = true", f"budgets.daily = true {MONEY}"),
        ("[budgets]\nmonthly = 1e9", f"budgets.monthly = 1000000000.0 {MONEY}"),
        ("[budgets]\nwarn_at = 80", "budgets.warn_at = 80 is not allowed: a share above 0, at most 1 (0.8 warns at "
         "80%)"),
        ("[budgets.providers.openai]\nyearly = 5",
         "budgets.providers.openai.yearly is not a budget; use daily or monthly"),
        ("[budgets.providers]\nopenai = 5",
         "budgets.providers.openai = 5 is not allowed: a table with daily and/or monthly"),
        ("[failover]\n\"openai:gpt-4o\" = \"openai:gpt-4.1\"",
         'failover."openai:gpt-4o" = "openai:gpt-4.1" is not allowed: a list of model ids to try in order, '
         'e.g. ["openai:gpt-4.1"]'),
        ("[failover]\n\"openai:gpt-4o\" = []",
         'failover."openai:gpt-4o" = [] is not allowed: a list of model ids to try in order, e.g. ["openai:gpt-4.1"]'),
        ("[failover]\n\"openai:gpt-4o\" = [\"\"]",
         'failover."openai:gpt-4o" = "" is not allowed: a model id such as "openai:gpt-4.1"'),
    ],
    ids=lambda v: v if isinstance(v, str) and "\n" not in v[:40] else None,
)
def test_bad_spending_setting_is_one_line_exit_3(home, toml, message):
    path = write_config(home, toml + "\n")
    assert one_line_error(run_cli(home, "usage"), 3) == f"{path}: {message}"


def test_a_spending_table_in_the_wrong_place_is_named(home):
    """A top-level spending key written under a provider table gets the hint that it belongs at the top."""
    path = write_config(home, '[providers.lmstudio]\napi_base = "http://localhost:1234/v1"\nconfirm_above = 1\n')
    assert one_line_error(run_cli(home, "usage"), 3).startswith(
        f"{path}: providers.lmstudio.confirm_above is not a provider setting"
    )
