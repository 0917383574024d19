"""`python -m examples.serving auth ...`: new API keys, password hashes, a development .env."""

from __future__ import annotations

import argparse
import secrets
import stat
import sys
from pathlib import Path

from examples.serving.production.auth.credentials import new_api_key, sha256_hex
from examples.serving.production.auth.passwords import hash_password


def write_dev_env(env_path: Path, key_path: Path) -> str | None:
    """Create a local .env with a fresh API key's hash and a JWT secret, unless it exists.

    Returns the new key (also saved, readable by its owner only, in `key_path`), or None.
    """
    if env_path.exists():
        return None
    key = new_api_key()
    env_path.write_text(
        "# Made by `make serve` on first run, for this machine only (git ignores it).\n"
        f"SERVING_API_KEY_HASHES=dev:{sha256_hex(key)}\n"
        f"SERVING_JWT_SECRET={secrets.token_urlsafe(48)}\n"
    )
    env_path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    key_path.write_text(key + "\n")
    key_path.chmod(stat.S_IRUSR | stat.S_IWUSR)
    return key


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m examples.serving auth")
    commands = parser.add_subparsers(dest="command", required=True)
    new_key = commands.add_parser("new-key", help="print a new API key and its environment line")
    new_key.add_argument("name")
    password = commands.add_parser("hash-password", help="hash a password read from stdin")
    password.add_argument("name")
    password.add_argument("scopes", help="scopes joined by +, for example predict")
    dev = commands.add_parser("dev-env", help="create .env with a development key if missing")
    dev.add_argument("--env", default=".env")
    dev.add_argument("--key-file", default="var/dev-api-key")
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = _parser().parse_args(argv)
    if arguments.command == "new-key":
        key = new_api_key()
        print(f"API key for {arguments.name} (give it to the client; it is not stored anywhere):")
        print(f"  {key}")
        print("Add to the service's environment (append to SERVING_API_KEY_HASHES with a comma):")
        print(f"  SERVING_API_KEY_HASHES={arguments.name}:{sha256_hex(key)}")
    elif arguments.command == "hash-password":
        secret = sys.stdin.readline().rstrip("\n")
        print(f"SERVING_USERS={arguments.name}:{arguments.scopes}:{hash_password(secret)}")
    else:
        key = write_dev_env(Path(arguments.env), Path(arguments.key_file))
        if key is None:
            print(
                f"Using the existing {arguments.env}; the development key is in {arguments.key_file}."
            )
        else:
            print(
                f"Created {arguments.env} with a development API key (saved in {arguments.key_file}):"
            )
            print(f"  {key}")
            print(f'  curl -H "X-API-Key: $(cat {arguments.key_file})" ...')
    return 0
