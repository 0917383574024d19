"""API keys and bearer tokens: 401 without valid credentials, 403 with the wrong scope."""

import hashlib
import time

import jwt
import pytest

from examples.serving.production import auth
from examples.serving.production.auth import cli
from tests.serving.production.conftest import make_app

API_KEY = "test-key-0123456789"
SECRET = "s" * 40
ALICE_PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def users():
    # Hashing with scrypt is slow on purpose: do it once for the module.
    return (
        f"alice:predict:{auth.hash_password(ALICE_PASSWORD)},"
        f"viewer:read:{auth.hash_password('viewer-password')}"
    )


def make_client(mini_app, **settings):
    auth.init_app(mini_app, auth.AuthConfig.parse(**settings))
    return mini_app.test_client()


@pytest.fixture
def client(mini_app, users):
    return make_client(
        mini_app, api_key_hashes=f"ci:{auth.sha256_hex(API_KEY)}", users=users, jwt_secret=SECRET
    )


def token_for(client, username, password):
    return client.post("/v1/token", json={"username": username, "password": password})


def test_no_credentials_is_401_with_a_challenge(client):
    response = client.post("/v1/predict", json={})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert response.get_json()["error"]["code"] == "unauthorized"
    assert "X-API-Key" in response.get_json()["error"]["message"]


def test_a_fresh_clone_says_how_to_configure_a_key(mini_app):
    response = make_client(mini_app).post("/v1/predict", json={})
    assert response.status_code == 401
    assert "python -m examples.serving auth new-key" in response.get_json()["error"]["message"]


def test_a_valid_key_passes_and_a_wrong_one_does_not(client):
    assert client.post("/v1/predict", json={}, headers={"X-API-Key": API_KEY}).status_code == 200
    wrong = client.post("/v1/predict", json={}, headers={"X-API-Key": API_KEY + "x"})
    assert wrong.status_code == 401


def test_open_routes_need_nothing(client):
    assert client.get("/healthz").status_code == 200


def test_auth_can_be_switched_off(mini_app):
    client = make_client(mini_app, enabled=False)
    assert client.post("/v1/predict", json={}).status_code == 200


def test_a_token_with_the_scope_passes(client):
    response = token_for(client, "alice", ALICE_PASSWORD)
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["scope"] == "predict"
    headers = {"Authorization": f"Bearer {body['access_token']}"}
    assert client.post("/v1/predict/batch", json={}, headers=headers).status_code == 200


def test_a_token_without_the_scope_is_403(client):
    token = token_for(client, "viewer", "viewer-password").get_json()["access_token"]
    response = client.post("/v1/predict", json={}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "forbidden"
    assert 'error="insufficient_scope"' in response.headers["WWW-Authenticate"]


@pytest.mark.parametrize("username, password", [("alice", "wrong"), ("mallory", ALICE_PASSWORD)])
def test_wrong_passwords_and_unknown_users_get_the_same_401(client, username, password):
    response = token_for(client, username, password)
    assert response.status_code == 401
    assert response.get_json()["error"]["message"] == "The user name or password is wrong."


def test_the_token_endpoint_wants_both_fields(client):
    assert client.post("/v1/token", json={"username": "alice"}).status_code == 422


def test_the_token_endpoint_needs_a_secret(mini_app, users):
    client = make_client(mini_app, users=users)
    assert token_for(client, "alice", ALICE_PASSWORD).status_code == 503


def claims(**changes):
    now = int(time.time())
    base = {
        "sub": "alice",
        "scope": "predict",
        "iss": "serving-ml-book",
        "aud": "wine-api",
        "iat": now,
        "exp": now + 60,
    }
    return {key: value for key, value in (base | changes).items() if value is not None}


@pytest.mark.parametrize(
    "token",
    [
        jwt.encode(claims(exp=int(time.time()) - 3600), SECRET, algorithm="HS256"),
        jwt.encode(claims(aud="another-api"), SECRET, algorithm="HS256"),
        jwt.encode(claims(iss="someone-else"), SECRET, algorithm="HS256"),
        jwt.encode(claims(exp=None), SECRET, algorithm="HS256"),
        jwt.encode(claims(), "another-secret-of-enough-length-000000", algorithm="HS256"),
        jwt.encode(claims(), None, algorithm="none"),
        "not-a-token",
    ],
    ids=["expired", "audience", "issuer", "no-expiry", "other-secret", "alg-none", "garbage"],
)
def test_bad_tokens_are_401(client, token):
    response = client.post("/v1/predict", json={}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]


def test_passwords_hash_with_salt_and_verify():
    first, second = auth.hash_password("pw"), auth.hash_password("pw")
    assert first != second  # a fresh salt each time
    assert auth.verify_password("pw", first) and not auth.verify_password("pW", first)
    assert not auth.verify_password("pw", "scrypt-broken")
    assert not auth.verify_password("pw", "$argon2id$broken")


def test_passwords_use_argon2id_at_owasps_minimum():
    # OWASP's Password Storage Cheat Sheet: Argon2id, 19 MiB, 2 iterations, 1 degree of parallelism.
    assert auth.hash_password("pw").startswith("$argon2id$v=19$m=19456,t=2,p=1$")


def test_old_scrypt_hashes_still_verify_and_ask_to_be_rehashed():
    # The first edition's format, made with its own parameters (N=2**14, r=8, p=1).
    salt = bytes(range(16))
    digest = hashlib.scrypt(b"old password", salt=salt, n=2**14, r=8, p=1)
    old = f"scrypt-16384-8-1-{salt.hex()}-{digest.hex()}"
    assert auth.verify_password("old password", old)
    assert not auth.verify_password("Old password", old)
    assert auth.needs_rehash(old) and not auth.needs_rehash(auth.hash_password("x"))
    [user] = auth.parse_users(f"legacy:predict:{old}")
    assert user.password_hash == old


def test_users_with_argon2_hashes_parse_by_comma_or_newline():
    first, second = auth.hash_password("one"), auth.hash_password("two")
    for separator in (",", "\n", " ,\n"):
        users = auth.parse_users(f"alice:predict:{first}{separator}bob:predict+read:{second}")
        assert [(u.name, u.password_hash) for u in users] == [("alice", first), ("bob", second)]
        assert users[1].scopes == {"predict", "read"}


@pytest.mark.parametrize(
    "settings",
    [
        {"api_key_hashes": "nohash"},
        {"api_key_hashes": "a:1234"},
        {"users": "bob:predict"},
        {"jwt_secret": "short"},
    ],
)
def test_malformed_settings_are_refused(settings):
    with pytest.raises(auth.ConfigurationError):
        auth.AuthConfig.parse(**settings)


def test_new_key_command_prints_a_key_and_its_hash(capsys):
    assert cli.main(["new-key", "reporting"]) == 0
    lines = capsys.readouterr().out.splitlines()
    key = lines[1].strip()
    assert f"SERVING_API_KEY_HASHES=reporting:{auth.sha256_hex(key)}" in lines[-1]
    assert len(key) >= 40


def test_hash_password_command(capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("hunter2\n"))
    assert cli.main(["hash-password", "carol", "predict+read"]) == 0
    line = capsys.readouterr().out.strip()
    [user] = auth.parse_users(line.removeprefix("SERVING_USERS="))
    assert user.scopes == {"predict", "read"}
    assert auth.verify_password("hunter2", user.password_hash)


def test_dev_env_is_created_once(tmp_path, capsys):
    env, key_file = tmp_path / ".env", tmp_path / "var" / "dev-api-key"
    arguments = ["dev-env", "--env", str(env), "--key-file", str(key_file)]
    assert cli.main(arguments) == 0
    key = key_file.read_text().strip()
    text = env.read_text()
    assert f"dev:{auth.sha256_hex(key)}" in text and key not in text
    assert (env.stat().st_mode & 0o777) == 0o600
    assert key in capsys.readouterr().out
    assert cli.main(arguments) == 0
    assert "existing" in capsys.readouterr().out
    assert env.read_text() == text


def signed(secret: str, **changes) -> str:
    return jwt.encode(claims(**changes), secret, algorithm="HS256")


@pytest.mark.parametrize(("seconds_late", "status"), [(3, 200), (30, 401)])
def test_a_token_a_little_expired_is_accepted_within_the_leeway(mini_app, seconds_late, status):
    client = make_client(mini_app, jwt_secret=SECRET, jwt_leeway_seconds=10)
    now = int(time.time())
    token = signed(SECRET, iat=now - 600, exp=now - seconds_late)
    response = client.post("/v1/predict", json={}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == status


@pytest.mark.parametrize(("seconds_ahead", "status"), [(3, 200), (60, 401)])
def test_a_token_issued_by_a_clock_a_little_ahead_is_accepted(mini_app, seconds_ahead, status):
    client = make_client(mini_app, jwt_secret=SECRET, jwt_leeway_seconds=10)
    now = int(time.time())
    token = signed(SECRET, iat=now + seconds_ahead, exp=now + 600)
    response = client.post("/v1/predict", json={}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == status


NEW_SECRET = "n" * 40


def test_during_a_rotation_both_secrets_verify_and_only_the_new_one_signs(mini_app, users):
    client = make_client(mini_app, users=users, jwt_secret=NEW_SECRET, jwt_previous_secret=SECRET)
    for secret in (SECRET, NEW_SECRET):
        token = signed(secret)
        headers = {"Authorization": f"Bearer {token}"}
        assert client.post("/v1/predict", json={}, headers=headers).status_code == 200
    issued = token_for(client, "alice", ALICE_PASSWORD).get_json()["access_token"]
    jwt.decode(issued, NEW_SECRET, algorithms=["HS256"], audience="wine-api")
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(issued, SECRET, algorithms=["HS256"], audience="wine-api")
    # After the rotation, the previous secret is removed: its tokens are refused.
    after = make_client(make_app(), users=users, jwt_secret=NEW_SECRET)
    old_token = {"Authorization": f"Bearer {signed(SECRET)}"}
    assert after.post("/v1/predict", json={}, headers=old_token).status_code == 401


def test_api_keys_rotate_by_listing_old_and_new(mini_app):
    client = make_client(
        mini_app, api_key_hashes=f"ci:{auth.sha256_hex('old-key')},ci:{auth.sha256_hex('new-key')}"
    )
    for key in ("old-key", "new-key"):
        assert client.post("/v1/predict", json={}, headers={"X-API-Key": key}).status_code == 200


def test_a_short_previous_secret_or_one_without_a_current_secret_is_refused():
    with pytest.raises(auth.ConfigurationError):
        auth.AuthConfig.parse(jwt_secret=SECRET, jwt_previous_secret="short")
    with pytest.raises(auth.ConfigurationError):
        auth.AuthConfig.parse(jwt_previous_secret=SECRET)


@pytest.mark.parametrize(("seconds_ahead", "accepted"), [(2, True), (30, False)])
def test_a_token_issued_in_the_future_is_accepted_only_within_the_leeway(seconds_ahead, accepted):
    """PyJWT refuses an iat later than now + leeway: the skew allowed is bounded both ways."""
    config = auth.AuthConfig(jwt_secret="s" * 40, jwt_leeway_seconds=5)
    alice = auth.User("alice", frozenset({"predict"}), "unused")
    token = auth.issue_token(config, alice, now=time.time() + seconds_ahead)
    assert (auth.check_token(config, token) is not None) is accepted
