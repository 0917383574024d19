"""Secrets from files: SERVING_<NAME>_FILE instead of SERVING_<NAME>, for the four secret settings."""

import pytest

from examples.serving import Settings
from examples.serving.production import auth
from examples.serving.settings import SECRET_FIELDS, SettingsError


@pytest.mark.parametrize("field", sorted(SECRET_FIELDS))
def test_each_secret_can_come_from_a_file(tmp_path, field):
    secret = tmp_path / field
    secret.write_text("x" * 40 + "\n")  # the trailing newline an editor adds is dropped
    settings = Settings.from_env({f"SERVING_{field.upper()}_FILE": str(secret)})
    assert getattr(settings, field) == "x" * 40
    assert "x" * 40 not in repr(settings)


def test_a_users_file_holds_one_user_per_line(tmp_path):
    lines = [f"{name}:predict:{auth.hash_password(name)}" for name in ("alice", "bob")]
    (tmp_path / "users").write_text("\n".join(lines) + "\n")
    settings = Settings.from_env({"SERVING_USERS_FILE": str(tmp_path / "users")})
    users = auth.parse_users(settings.users)
    assert [user.name for user in users] == ["alice", "bob"]
    assert auth.verify_password("bob", users[1].password_hash)


def test_a_variable_and_its_file_together_are_refused(tmp_path):
    (tmp_path / "secret").write_text("y" * 40)
    environ = {"SERVING_JWT_SECRET": "z" * 40, "SERVING_JWT_SECRET_FILE": str(tmp_path / "secret")}
    with pytest.raises(SettingsError, match="not both"):
        Settings.from_env(environ)


def test_a_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(SettingsError, match="cannot be read"):
        Settings.from_env({"SERVING_JWT_SECRET_FILE": str(tmp_path / "absent")})


def test_only_secrets_are_read_from_files(tmp_path):
    (tmp_path / "level").write_text("DEBUG")
    # Not silently ignored either: a _FILE name for a setting that is not a secret is refused.
    with pytest.raises(SettingsError, match="SERVING_LOG_LEVEL_FILE is not a setting"):
        Settings.from_env({"SERVING_LOG_LEVEL_FILE": str(tmp_path / "level")})
