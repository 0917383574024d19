"""API keys and bearer tokens: 401 without valid credentials, 403 with the wrong scope."""

import time

import jwt
import pytest

from examples.serving import auth

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
    assert "python -m examples.serving.auth new-key" in response.get_json()["error"]["message"]


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
    assert auth.main(["new-key", "reporting"]) == 0
    lines = capsys.readouterr().out.splitlines()
    key = lines[1].strip()
    assert f"SERVING_API_KEY_HASHES=reporting:{auth.sha256_hex(key)}" in lines[-1]
    assert len(key) >= 40


def test_hash_password_command(capsys, monkeypatch):
    import io

    monkeypatch.setattr("sys.stdin", io.StringIO("hunter2\n"))
    assert auth.main(["hash-password", "carol", "predict+read"]) == 0
    line = capsys.readouterr().out.strip()
    [user] = auth.parse_users(line.removeprefix("SERVING_USERS="))
    assert user.scopes == {"predict", "read"}
    assert auth.verify_password("hunter2", user.password_hash)


def test_dev_env_is_created_once(tmp_path, capsys):
    env, key_file = tmp_path / ".env", tmp_path / "var" / "dev-api-key"
    arguments = ["dev-env", "--env", str(env), "--key-file", str(key_file)]
    assert auth.main(arguments) == 0
    key = key_file.read_text().strip()
    text = env.read_text()
    assert f"dev:{auth.sha256_hex(key)}" in text and key not in text
    assert (env.stat().st_mode & 0o777) == 0o600
    assert key in capsys.readouterr().out
    assert auth.main(arguments) == 0
    assert "existing" in capsys.readouterr().out
    assert env.read_text() == text
