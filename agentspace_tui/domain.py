"""The vocabulary shared by storage, services and the CLI: the closed sets of strings stored in records, and the
shapes of the records themselves.

The TypedDicts describe what storage/records.py writes and hands out. They are plain dicts at runtime (JSON in
the files), so annotating with them changes no behaviour; ``total=False`` marks fields older records or some
roles lack. Nothing here imports anything of ours: every layer may use it.
"""

from __future__ import annotations

from typing import Any, Literal, TypedDict

Role = Literal["user", "assistant", "system"]

# A reply's status. "streaming" while its writer is alive; the others are final:
# "complete" it ended normally, "error" the provider stated an error, "interrupted" the stream broke off (or the
# writing process died), "cancelled" the user (or a stop signal) stopped it.
MessageStatus = Literal["streaming", "complete", "error", "interrupted", "cancelled"]
FINAL_STATUSES: frozenset[MessageStatus] = frozenset({"complete", "error", "interrupted", "cancelled"})

# Where a provider's API key comes from. "env" is shown with the variable's name ("env:OPENAI_API_KEY");
# "session": pasted in the app and kept in memory only; "not needed": a local provider.
KeySource = Literal["env", "keyring", "session", "none", "not needed"]

# Where a reply's token counts come from: the provider's own report, or counted locally.
UsageSource = Literal["provider", "estimated"]
# Where a price comes from: a user override, litellm's price map, or a local (free) model.
PriceSource = Literal["override", "catalog", "local"]
# Where a reply's cost comes from: the bill the provider reported in the stream, else the price it was charged at.
CostSource = Literal["provider", "override", "catalog", "local"]


class UsageRecord(TypedDict, total=False):
    """A reply's tokens as stored (``pricing.Usage.as_dict()``)."""

    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    reasoning_tokens: int


class PriceSnapshot(TypedDict):
    """The price a reply was charged at (``pricing.Price.snapshot()``), USD per million tokens."""

    input_per_mtok: float
    output_per_mtok: float
    cache_read_per_mtok: float | None
    cache_write_per_mtok: float | None
    source: PriceSource


class PriceOverride(TypedDict, total=False):
    """A row of pricing.json: a user's price for one model, USD per million tokens."""

    model: str
    input_per_mtok: float
    output_per_mtok: float
    cache_read_per_mtok: float | None
    cache_write_per_mtok: float | None


class Attachment(TypedDict, total=False):
    """A text file pinned into a session's context. The index keeps it without ``content``."""

    path: str
    name: str
    content: str
    bytes: int


# what became of a tool call the model asked for (services/tool_loop.py)
ToolCallStatus = Literal["requested", "ok", "error", "denied", "unavailable", "cancelled"]


class ToolCallRecord(TypedDict, total=False):
    """One tool call of a reply, stored on the reply in the order made; ``offset`` is how much of the reply's
    text came before it, ``round`` which request of the reply asked for it (1 = the first)."""

    id: str  # the provider's call id (the tool result answers it)
    name: str  # the function name the model used ("server__tool", see services/tools.py)
    server: str | None  # the MCP server and its own tool name; None when the name matched no enabled tool
    tool: str | None
    arguments: str  # the JSON text the model produced
    round: int
    offset: int
    status: ToolCallStatus
    result: str | None  # the text sent back to the model
    duration: float | None  # seconds the tool ran


class ToolRound(TypedDict, total=False):
    """One request of a reply that used tools: each round trip is billed; the reply's usage is their sum."""

    usage: UsageRecord | None
    usage_source: UsageSource | None
    cost: float | None


class SessionTools(TypedDict, total=False):
    """A session's own tool choices. Entries are server names ("files") or tool names ("files__read")."""

    enabled: list[str]  # turned on here although the server is off by default
    disabled: list[str]  # turned off here
    always_allow: list[str]  # tool names that run without asking, in this session


class _MessageCore(TypedDict):
    id: str
    session_id: str | None  # None only before Store stores it
    role: Role
    content: str
    created_at: float


class MessageFields(TypedDict, total=False):
    """The optional fields of a stored message: what ``Store.update_message`` may set besides role, content and
    created_at (see ``MessageUpdate``)."""

    # conversation tree (services/branches.py): the message this one answers or follows, None for a root
    parent: str | None
    hidden: bool
    chosen_at: float  # when this branch was last picked: the newest wins
    params: dict[str, Any] | None  # request parameters the reply was made with, as sent (temperature, ...)
    params_dropped: list[str] | None  # requested but not sent: the model does not take them
    tokens: dict[str, int]  # the message's own token count per tokenizer encoding (context.message_tokens)
    # replies
    model: str
    status: MessageStatus
    reasoning: str | None
    tool_calls: list[dict[str, Any]] | None  # ToolCallRecord fields (older replies: id, name, arguments only)
    rounds: list[ToolRound] | None  # a reply that called tools: each request's usage and cost
    finish_reason: str | None
    error: str | None
    error_kind: str | None  # providers/events.py StreamError.kind of an error/interrupted reply (rate_limit, ...)
    # failover (services/failover.py): the model asked for, and each model that failed before ``model`` answered
    requested_model: str | None
    failover: list[dict[str, Any]] | None  # [{"model", "error", "kind", "duration"}], in the order tried
    usage: UsageRecord | None
    usage_source: UsageSource | None
    usage_estimated: bool  # the older spelling of usage_source == "estimated"
    usage_recorded: bool  # False until the reply's usage is counted in the ledger
    cost: float | None
    cost_source: CostSource | None
    cache_savings: float | None  # USD prompt caching saved (negative: cost extra); None: price unknown
    # what the request sent, for the cache forecast: [[messages, digest], ...] of its prefixes (services/prompt_cache.py)
    cache_prefix: dict[str, Any] | None
    prices: PriceSnapshot | None
    ttft: float | None
    duration: float
    input_estimate: int
    excluded_messages: int
    # who is writing a streaming reply, to tell a live writer from a dead one
    pid: int
    host: str
    checkpoint_at: float


class MessageRecord(_MessageCore, MessageFields):
    """A stored message (storage/records.py ``new_message``), with the reply fields services/chat.py adds."""


class MessageUpdate(MessageFields, total=False):
    """Fields ``Store.update_message`` sets on a stored message (its id and session_id never change)."""

    role: Role
    content: str
    created_at: float


class SessionUpdate(TypedDict, total=False):
    """Fields ``Store.update_session`` sets (storage/records.py ``SESSION_FIELDS``)."""

    title: str | None
    model: str | None
    system_prompt: str | None
    attachments: list[Attachment]
    params: dict[str, Any] | None
    tools: SessionTools | None


class _SessionCore(TypedDict):
    id: str
    attachments: list[Attachment]
    messages: int  # how many messages it holds
    usage: dict[str, dict[str, Any]]  # per model: summed usage buckets (storage/usage.py ``summarize``)
    cost: float | None  # None when every reply had an unknown price
    unknown_cost: int  # replies whose cost is unknown
    estimated: int  # replies whose usage we counted ourselves
    cache_savings: float | None  # USD prompt caching saved (storage/usage.py); None when every price was unknown


class SessionRecord(_SessionCore, total=False):
    """A session as ``Store`` hands it out (storage/records.py ``public_session``). The optional fields are
    always written by this version, but an index written by an older one may lack them."""

    title: str | None
    model: str | None
    system_prompt: str | None
    params: dict[str, Any] | None  # model parameters (services/params.py), validated by ``ModelParams.from_stored``
    tools: SessionTools | None  # tool choices (services/tools.py); None: the servers' defaults
    created_at: float
    updated_at: float
