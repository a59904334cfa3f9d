"""Local token counts with tiktoken, offline.

tiktoken downloads its encodings on first use and fails offline; litellm ships cl100k_base, o200k_base and
p50k_base under ``litellm_core_utils/tokenizers`` named by tiktoken's cache keys, so we point
``TIKTOKEN_CACHE_DIR`` there (found without importing litellm). Counts for non-OpenAI models are estimates:
no exact local tokenizer exists for Claude 3+, Gemini or most local models.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from functools import lru_cache
from typing import TYPE_CHECKING

from ..catalog.litellm_map import litellm_package_dir

if TYPE_CHECKING:
    import tiktoken

# Rough per-message framing overhead of chat formats (role markers, separators).
MESSAGE_OVERHEAD = 4
REPLY_PRIMING = 3
_BLOCK = 4096  # long texts are counted in blocks so an edit at the end recounts one block, not the whole text
_lock = threading.Lock()


def _ensure_cache_dir() -> None:
    if os.environ.get("TIKTOKEN_CACHE_DIR"):
        return
    pkg = litellm_package_dir()
    if pkg is not None:
        os.environ["TIKTOKEN_CACHE_DIR"] = str(pkg / "litellm_core_utils" / "tokenizers")


def encoding_for(provider: str, model_name: str) -> str:
    """The tiktoken encoding we count with for a model."""
    name = model_name.lower().rsplit("/", 1)[-1]
    if provider in {"openai", "openrouter", "azure"} or name.startswith(("gpt-", "o1", "o3", "o4", "chatgpt")):
        if name.startswith(("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt", "gpt-oss")):
            return "o200k_base"
        return "cl100k_base"
    return "cl100k_base"


def is_exact(provider: str, model_name: str) -> bool:
    """Whether the local count is the provider's own tokenizer (OpenAI models) or an estimate."""
    return provider == "openai" or model_name.lower().startswith(("gpt-", "o1", "o3", "o4"))


@lru_cache(maxsize=4)
def _encoding(name: str) -> tiktoken.Encoding:
    _ensure_cache_dir()
    import tiktoken

    with _lock:
        return tiktoken.get_encoding(name)


class TokenCounter:
    """Counts text in one encoding, with a small cache of long-text blocks for per-keystroke recounts."""

    def __init__(self, encoding: str = "cl100k_base", cache_blocks: int = 512):
        self.encoding_name = encoding
        self._blocks: OrderedDict[str, int] = OrderedDict()
        self._cache_blocks = cache_blocks

    def _count_exact(self, text: str) -> int:
        try:
            enc = _encoding(self.encoding_name)
        except Exception:  # no encoding file: fall back to the usual ~4 characters a token
            return max(1, len(text) // 4) if text else 0
        return len(enc.encode(text, disallowed_special=()))

    def count(self, text: str) -> int:
        if not text:
            return 0
        if len(text) <= _BLOCK:
            return self._count_exact(text)
        total = 0
        for start in range(0, len(text), _BLOCK):
            block = text[start : start + _BLOCK]
            cached = self._blocks.get(block)
            if cached is None:
                cached = self._count_exact(block)
                self._blocks[block] = cached
                if len(self._blocks) > self._cache_blocks:
                    self._blocks.popitem(last=False)
            else:
                self._blocks.move_to_end(block)
            total += cached
        return total


def count_many(texts: list[str], encoding: str = "cl100k_base") -> list[int]:
    """Count many texts at once (tiktoken's batch API runs in parallel threads outside the GIL)."""
    try:
        enc = _encoding(encoding)
    except Exception:
        return [max(1, len(t) // 4) if t else 0 for t in texts]
    return [len(tokens) for tokens in enc.encode_ordinary_batch(texts, num_threads=4)]


@lru_cache(maxsize=8)
def counter(encoding: str) -> TokenCounter:
    return TokenCounter(encoding)


def count(text: str, encoding: str = "cl100k_base") -> int:
    return counter(encoding).count(text)
