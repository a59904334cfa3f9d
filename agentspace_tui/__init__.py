"""agentspace-tui: a terminal chat client for LLMs that shows what you send, what it costs and what you spent."""

__version__ = "0.1.0"
