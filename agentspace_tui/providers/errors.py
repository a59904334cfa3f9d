"""Map provider failures to one-line messages that name the provider and the fix.

Works on exception class names along the MRO, so it needs no litellm import and also covers httpx/openai
errors that litellm lets through. Messages never include the request's API key, nor the masked fragment of
one that providers echo back (``Incorrect API key provided: sk-tes*********T123``): see :func:`redact_secrets`.
"""

from __future__ import annotations

import email.utils
import math
import re
import time
from dataclasses import dataclass
from typing import Any

from ..domain import MessageStatus
from .events import StreamError
from .tool_messages import NO_TOOLS_KIND, tools_unsupported

__all__ = [
    "ProviderContext",
    "is_retryable",
    "map_exception",
    "map_midstream",
    "parse_retry_after",
    "redact",
    "redact_secrets",
    "retry_after_seconds",
]

# shapes of common provider keys, redacted even when we did not send them ourselves
_KEYISH = re.compile(r"\b(sk-[A-Za-z0-9_\-]{6,}|AIza[0-9A-Za-z_\-]{20,}|gsk_[A-Za-z0-9]{10,}|xai-[A-Za-z0-9]{10,})")
# a key as providers echo it masked: a prefix, a run of 3+ "*" (or "..." / "…" after a known key prefix),
# the key's last characters (OpenAI: "sk-tes*********T123", "sk-proj-****...****abcd"; Google "AIza****...")
_KEY_PREFIX = r"(?:sk|pk|rk)[-_][A-Za-z0-9_\-]*+|AIza[0-9A-Za-z_\-]*+|gsk_[A-Za-z0-9_]*+|xai-[A-Za-z0-9_\-]*+"
# possessive quantifiers, and a match starts only where a run of key characters starts: linear time on any text
_KEY_FRAGMENT = re.compile(
    rf"(?<![A-Za-z0-9_\-])(?:{_KEY_PREFIX})(?:\*{{3,}}+|\.{{3}}|…)(?:[*…A-Za-z0-9_\-]|\.{{3}})*+"
    # any other masked token: 3+ key characters, 3+ "*", 2+ key characters (not Markdown: "***bold***")
    r"|(?<![A-Za-z0-9_\-])[A-Za-z0-9][A-Za-z0-9_\-]{2,}+\*{3,}+[A-Za-z0-9_\-]{2,}+(?!\*)"
)


@dataclass(frozen=True)
class ProviderContext:
    label: str  # "OpenAI"
    name: str  # "openai"
    key_env: str | None
    api_base: str | None


def redact(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """``text`` without the given secrets, key-shaped tokens and masked key fragments (each becomes ``***``)."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "***")
    text = _KEY_FRAGMENT.sub("***", text)
    return _KEYISH.sub("***", text)


def redact_secrets(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """Public name of :func:`redact`, for stored and exported text (error messages, session files, exports).

    Whole keys (``secrets`` and common key shapes: ``sk-…``, ``AIza…``, ``gsk_…``, ``xai-…``) and the masked
    fragments providers echo (a prefix, a run of 3+ ``*``, a suffix) become ``***``. Meant for text about a
    request (errors, logs); it is not a content filter: a reply that *discusses* a key shape is changed too."""
    return redact(text, secrets)


def _names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def _first_line(exc: BaseException) -> str:
    """The provider's own words, without litellm's chain of class-name prefixes."""
    text = str(getattr(exc, "message", "") or exc) or type(exc).__name__
    text = text.split(" Original exception:")[0].strip()
    text = re.sub(r"\s*(Received Model Group|Available Model Group|LiteLLM Retried).*$", "", text)
    text = re.sub(r"\.?\s*Handle with `litellm\.\w+`\.?", "", text)
    embedded = re.search(r'"message"\s*:\s*"([^"]+)"', text)  # a JSON error body quoted inside the message
    if embedded:
        return embedded.group(1)[:200]
    previous = None
    while previous != text:
        previous = text
        text = re.sub(r"^(litellm\.)?\w*(Error|Exception):\s*", "", text)
        text = re.sub(r"^\w+(Exception|Error) -\s*", "", text)
    text = text.splitlines()[0] if text else ""
    return text[:200]


def _chain(exc: BaseException) -> list[BaseException]:
    """The exception and what caused it (litellm wraps httpx/SDK errors, sometimes several times)."""
    out: list[BaseException] = []
    while exc is not None and exc not in out and len(out) < 8:
        out.append(exc)
        exc = exc.__cause__ or exc.__context__  # type: ignore[assignment]
    return out


def _connection_problem(exc: BaseException) -> str | None:
    """What kind of connection failure this is: "dns", "refused", "tls", or None (by the types in the chain,
    then by the words of the OS and TLS libraries)."""
    chain = _chain(exc)
    names = {cls.__name__ for e in chain for cls in type(e).__mro__}
    if names & {"SSLError", "SSLCertVerificationError", "ClientConnectorCertificateError", "ClientSSLError"}:
        return "tls"
    if names & {"gaierror", "ClientConnectorDNSError"}:
        return "dns"
    if "ConnectionRefusedError" in names:
        return "refused"
    text = " ".join(str(e) for e in chain)
    if re.search(r"CERTIFICATE_VERIFY_FAILED|certificate verify failed|WRONG_VERSION_NUMBER|wrong version number|"
                 r"TLS handshake|SSL handshake", text, re.I):
        return "tls"
    if re.search(r"Name or service not known|nodename nor servname|getaddrinfo failed|Temporary failure in name "
                 r"resolution|No address associated", text, re.I):
        return "dns"
    if re.search(r"Connection refused|Errno 111|ECONNREFUSED|Connect call failed", text, re.I):
        return "refused"
    return None


def _is_overloaded(exc: BaseException, detail: str, wire_error: dict[str, Any] | None = None) -> bool:
    if wire_error and re.search(r"overload", str(wire_error.get("type", "")) + str(wire_error.get("message", "")), re.I):
        return True
    return getattr(exc, "status_code", None) == 529 or bool(re.search(r"overloaded", detail, re.I))


def map_midstream(
    exc: BaseException,
    ctx: ProviderContext,
    secrets: tuple[str, ...] = (),
    wire_error: dict[str, Any] | None = None,
    *,
    interrupted: bool = True,
) -> StreamError:
    """A failure after output arrived (or an error the provider sent inside the stream)."""
    message = wire_error.get("message") if isinstance(wire_error, dict) else None
    detail = redact(str(message)[:200] if message else _first_line(exc), secrets)
    kept = "the partial reply was kept, retry to get a full answer" if interrupted else "retry later"
    # an error the provider stated ends the reply as "error"; a stream that just broke off is "interrupted"
    status: MessageStatus = "interrupted" if interrupted and wire_error is None else "error"
    if _is_overloaded(exc, detail, wire_error):
        return StreamError("overloaded", f"{ctx.label} is overloaded and broke off the reply; {kept}", status)
    if "timeout" in detail.lower() or "Timeout" in _names(exc):
        return StreamError("interrupted", f"{ctx.label} stopped sending (timeout); {kept}", status)
    if wire_error is not None:
        code = wire_error.get("code") or wire_error.get("type")
        what = f" ({code})" if code else ""
        return StreamError("server", f"{ctx.label} sent an error in the stream{what}: {detail}; {kept}", status)
    return StreamError("interrupted", f"{ctx.label} broke off the reply ({detail}); {kept}", status)


def _header(headers: object, name: str) -> object:
    """A header's value from httpx.Headers, a dict with any casing, or None."""
    get = getattr(headers, "get", None)
    if not callable(get):
        return None
    value = get(name)
    if value is None and isinstance(headers, dict):
        value = next((v for k, v in headers.items() if str(k).lower() == name), None)
    return value


def parse_retry_after(value: object, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``retry-after`` value: delta-seconds (``"7"``, ``"1.5"``) or an HTTP date
    (``"Wed, 21 Oct 2026 07:28:00 GMT"``, relative to ``now``, rounded up to whole seconds as dates have no
    finer resolution). Never negative; None when the value is neither."""
    if value is None:
        return None
    text = str(value).strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when is None:
            return None
        try:
            epoch = when.timestamp()  # a date without a zone (asctime form) is UTC by RFC 9110
            if when.tzinfo is None:
                epoch = email.utils.mktime_tz((*when.timetuple()[:9], 0))
        except (OverflowError, OSError, ValueError):
            return None
        seconds = math.ceil(epoch - (time.time() if now is None else now))
    if not math.isfinite(seconds):
        return None
    return max(0.0, float(seconds))


def retry_after_seconds(exc: BaseException) -> float | None:
    """The provider's retry-after, wherever litellm/httpx put the response headers: ``retry-after-ms``
    (OpenAI) first, then ``retry-after`` in either form (delta-seconds or an HTTP date)."""
    candidates = []
    for attr in ("litellm_response_headers", "headers"):
        candidates.append(getattr(exc, attr, None))
    response = getattr(exc, "response", None)
    if response is not None:
        candidates.append(getattr(response, "headers", None))
    for headers in candidates:
        if not headers:
            continue
        millis = _header(headers, "retry-after-ms")
        if millis is not None:
            try:
                value = float(str(millis).strip())
            except ValueError:
                value = math.nan
            if math.isfinite(value):
                return max(0.0, value / 1000)
        wait = parse_retry_after(_header(headers, "retry-after"))
        if wait is not None:
            return wait
    return None


def map_exception(exc: BaseException, ctx: ProviderContext, secrets: tuple[str, ...] = ()) -> StreamError:
    names = _names(exc)
    detail = redact(_first_line(exc), secrets)
    label = ctx.label
    where = f" at {ctx.api_base}" if ctx.api_base else ""
    key_hint = f"check {ctx.key_env} or run `agentspace-tui keys set {ctx.name}`" if ctx.key_env else "check the key"
    status = getattr(exc, "status_code", None)

    if "ContextWindowExceededError" in names or re.search(r"context length|prompt is too long|too many tokens", detail, re.I):
        return StreamError(
            "context_window",
            f"{label}: the conversation is longer than the model's context window; start a /new session, "
            "remove attachments or switch to a model with a larger window",
        )
    if "AuthenticationError" in names or status == 401:
        return StreamError("auth", f"{label} rejected the API key (401); {key_hint}")
    if "PermissionDeniedError" in names or status == 403:
        return StreamError("auth", f"{label} refused access (403): {detail}; {key_hint}")
    if "RateLimitError" in names or status == 429:
        wait = retry_after_seconds(exc)
        after = f"; retry after {wait:g} s" if wait is not None else "; wait a moment and retry"
        return StreamError("rate_limit", f"{label} rate limit reached (429){after}")
    if tools_unsupported(exc):  # before 404 / 400: OpenRouter says it with a 404
        model = str(getattr(exc, "model", "") or "").partition("/")[2] or str(getattr(exc, "model", "") or "")
        who = redact(f"{label} model {model}" if model else label, secrets)
        return StreamError(NO_TOOLS_KIND, f"{who} does not support tool calls; turn tools off for this session "
                           "(/tools) or switch model")
    if names & {"Timeout", "TimeoutError", "ReadTimeout"} or re.search(r"\btime(d)? ?out\b", detail, re.I):
        return StreamError("timeout", f"{label} did not answer in time{where}; retry, or raise request_timeout in config.toml")
    if "NotFoundError" in names or status == 404:
        return StreamError("not_found", f"{label}: model or endpoint not found (404): {detail}; check the model id with `agentspace-tui models`")
    problem = _connection_problem(exc)
    if problem == "tls":
        return StreamError("tls", f"{label}: the secure connection{where} failed (TLS certificate or protocol); "
                           "check the base URL (http vs https) and the certificate")
    if problem == "dns":
        return StreamError("unreachable", f"cannot reach {label}{where}: host not found; check the base URL and "
                           "your network")
    if problem == "refused":
        return StreamError("unreachable", f"cannot reach {label}{where}: connection refused; is the server "
                           "running on that port?")
    if "APIConnectionError" in names or "ConnectError" in names or "ConnectionError" in names:
        if "peer closed" in detail.lower() or "incomplete" in detail.lower():
            return StreamError("interrupted", f"{label} closed the connection mid-reply; the partial reply was kept, retry to continue", "interrupted")
        return StreamError("unreachable", f"cannot reach {label}{where}; check the network or the base URL")
    if _is_overloaded(exc, detail):
        return StreamError("overloaded", f"{label} is overloaded; retry in a minute or switch to another model")
    if "ServiceUnavailableError" in names or "InternalServerError" in names or (status and int(status) >= 500):
        return StreamError("server", f"{label} server error ({status or 'unavailable'}): {detail}; retry later")
    if "BadRequestError" in names or status == 400:
        return StreamError("bad_request", f"{label} rejected the request (400): {detail}")
    return StreamError("unknown", f"{label} request failed: {detail or type(exc).__name__}")


def is_retryable(exc: BaseException) -> bool:
    names = _names(exc)
    if "ContextWindowExceededError" in names or "AuthenticationError" in names:
        return False
    status = getattr(exc, "status_code", None)
    if _connection_problem(exc) is not None:
        return False
    return bool(
        names & {"RateLimitError", "InternalServerError", "ServiceUnavailableError"}
        or (isinstance(status, int) and (status == 429 or status >= 500))
    )
