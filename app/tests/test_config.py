from pathlib import Path

import pytest

from slipway_demo.config import (
    ConfigError,
    HeartbeatSettings,
    ListenSettings,
    MongoSettings,
    RedisSettings,
    backend_url,
    entrypoint,
    timeout_seconds,
)
from slipway_demo.errors import Unavailable


def test_defaults_match_the_cluster_layout():
    mongo = MongoSettings.from_env({})
    assert mongo == MongoSettings("localhost", 27017, "root", Path("/run/secrets/mongodb/password.txt"), "core")
    assert RedisSettings.from_env({}) == RedisSettings("redis://localhost:6379/0", "slipway:render")
    assert ListenSettings.from_env({}, 40001) == ListenSettings("0.0.0.0", 40001)
    assert backend_url({}) == "http://localhost:40001"
    assert timeout_seconds({}) == 2.0


def test_environment_overrides_defaults():
    env = {
        "MONGODB_HOST": "mongodb-0.mongodb",
        "MONGODB_PORT": "27018",
        "MONGODB_USERNAME": "admin",
        "MONGODB_PASSWORD_FILE": "/secrets/pw",
        "MONGODB_DATABASE": "other",
        "REDIS_URL": "redis://redis:6379/1",
        "RENDER_QUEUE": "q",
        "LISTEN_PORT": "8080",
        "BACKEND_URL": "https://backend:40001/",
        "DEPENDENCY_TIMEOUT_SECONDS": "0.5",
    }
    assert MongoSettings.from_env(env) == MongoSettings(
        "mongodb-0.mongodb", 27018, "admin", Path("/secrets/pw"), "other"
    )
    assert RedisSettings.from_env(env) == RedisSettings("redis://redis:6379/1", "q")
    assert ListenSettings.from_env(env, 40001).port == 8080
    assert backend_url(env) == "https://backend:40001/"
    assert timeout_seconds(env) == 0.5


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MONGODB_PORT", "0"),
        ("MONGODB_PORT", "65536"),
        ("MONGODB_PORT", "27017.5"),
        ("MONGODB_PORT", "mongo"),
        ("MONGODB_HOST", "  "),
    ],
)
def test_bad_mongo_setting_is_named(name, value):
    with pytest.raises(ConfigError, match=name):
        MongoSettings.from_env({name: value})


@pytest.mark.parametrize(
    ("read", "name", "value"),
    [
        (lambda env: ListenSettings.from_env(env, 1), "LISTEN_PORT", "-1"),
        (timeout_seconds, "DEPENDENCY_TIMEOUT_SECONDS", "0"),
        (backend_url, "BACKEND_URL", "file:///etc/passwd"),
        (HeartbeatSettings.from_env, "WORKER_HEARTBEAT_MAX_AGE_SECONDS", "0"),
    ],
)
def test_other_bad_settings_are_named(read, name, value):
    with pytest.raises(ConfigError, match=name):
        read({name: value})


def test_password_is_read_from_the_file_without_its_final_newline(tmp_path):
    secret = tmp_path / "password.txt"
    secret.write_text(" s3cr et \n")
    settings = MongoSettings.from_env({"MONGODB_PASSWORD_FILE": str(secret)})
    assert settings.read_password() == " s3cr et "
    secret.write_text("p\r\n")
    assert settings.read_password() == "p"


def test_password_never_comes_from_the_environment(tmp_path):
    settings = MongoSettings.from_env(
        {"MONGODB_PASSWORD_FILE": str(tmp_path / "missing"), "MONGODB_PASSWORD": "from-env"}
    )
    with pytest.raises(ConfigError, match=r"does not exist.*MONGODB_PASSWORD_FILE"):
        settings.read_password()


def test_empty_password_file_is_refused_without_showing_content(tmp_path):
    secret = tmp_path / "password.txt"
    secret.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        MongoSettings.from_env({"MONGODB_PASSWORD_FILE": str(secret)}).read_password()


def test_unreadable_password_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        MongoSettings.from_env({"MONGODB_PASSWORD_FILE": str(tmp_path)}).read_password()


@pytest.mark.parametrize(
    ("error", "status", "said"),
    [
        (ConfigError("MONGODB_PORT is bad"), 2, "configuration error: MONGODB_PORT is bad"),
        (Unavailable("Redis: down"), 1, "Redis: down"),
    ],
)
def test_entrypoint_turns_expected_failures_into_one_line(error, status, said, capsys):
    @entrypoint
    def main(env):
        raise error

    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == status
    assert said in capsys.readouterr().err


def test_entrypoint_exits_with_mains_status():
    @entrypoint
    def main(env):
        return 3

    with pytest.raises(SystemExit) as exit_:
        main()
    assert exit_.value.code == 3
