"""``agentspace-tui keys``: where each provider's key comes from, and storing or deleting one in the system
keyring. A key is never printed, nor written anywhere but the keyring."""

from __future__ import annotations

import argparse
import getpass
import sys

from ..formatting import table
from .app_services import open_services
from .exits import EXIT_CONFIG, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, CliError
from .output import print_json


def cmd_keys(args: argparse.Namespace) -> int:
    from ..config import keys as keystore

    services = open_services()
    if args.action == "list":
        statuses = services.provider_statuses()
        ok, reason = keystore.keyring_available()
        if args.json:
            print_json([{"provider": s.name, "source": s.key_source, "env": s.key_env} for s in statuses])
            return EXIT_OK
        rows = [[s.name, s.label, s.key_source, s.key_env or "-"] for s in statuses]
        print(table(["provider", "name", "key from", "env var"], rows))
        if not ok:
            print(f"note: {reason}; keys can only come from environment variables here", file=sys.stderr)
        return EXIT_OK
    spec = services.provider(args.provider)
    try:
        if args.action == "set":
            if spec.local and not spec.key_envs:
                raise CliError(f"{spec.label} runs locally and needs no key")
            ok, reason = keystore.keyring_available()
            if not ok:
                raise keystore.KeyStoreError(keystore.no_keyring_message(spec, reason))
            if sys.stdin is None:  # started with stdin closed
                raise CliError(f"no key: stdin is closed; pipe the {spec.label} key in or run this in a terminal",
                               EXIT_USAGE)
            if sys.stdin.isatty():
                value = getpass.getpass(f"{spec.label} API key (input hidden): ")
            else:
                value = sys.stdin.readline()
            keystore.set_key(spec, value)
            print(f"stored the {spec.label} key in the system keyring")
            env_value = keystore.resolve_key(spec, use_keyring=False)
            if env_value.kind == "env":
                print(f"note: {env_value.env} is set and takes precedence over the keyring", file=sys.stderr)
        elif args.action == "delete":
            if keystore.delete_key(spec):
                print(f"deleted the {spec.label} key from the keyring")
            else:
                print(f"no {spec.label} key in the keyring")
    except keystore.KeyStoreError as exc:
        raise CliError(str(exc), EXIT_CONFIG) from None
    except (EOFError, KeyboardInterrupt):
        print("\nagentspace-tui: cancelled; nothing stored", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_OK
