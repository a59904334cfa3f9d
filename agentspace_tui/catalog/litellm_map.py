"""litellm's bundled model map, read as JSON so the catalog never pays for ``import litellm`` (~3 s)."""

from __future__ import annotations

import importlib.util
import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

MAP_FILE = "model_prices_and_context_window_backup.json"


def litellm_package_dir() -> Path | None:
    """Where litellm is installed, found without importing it."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or not spec.origin:
        return None
    return Path(spec.origin).parent


@lru_cache(maxsize=1)
def model_map() -> dict[str, dict[str, Any]]:
    override = os.environ.get("AGENTSPACE_MODEL_MAP")  # tests and offline mirrors may point elsewhere
    path = Path(override) if override else (litellm_package_dir() or Path()) / MAP_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, dict) and k != "sample_spec"}
