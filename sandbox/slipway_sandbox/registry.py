"""The sandbox's image registry: the CNCF distribution registry, as a remote cluster's would be.

It serves TLS with a certificate from the sandbox's CA and asks for a password (htpasswd), on
the bridge's HOST_ADDRESS, where both the host's Docker engine (which pushes) and the real
node's containerd (which pulls, inside the node's network namespace) reach it. Both trust the
sandbox's CA for that address only: containerd through its registry hosts folder, the engine
through /etc/docker/certs.d/<address>/, the one folder it reads (made here, removed on `down`).
"""

from __future__ import annotations

import json
import secrets
import shutil
from pathlib import Path

from .layout import HOST_ADDRESS, PKI, PORTS, REGISTRY, REGISTRY_HOSTS, log
from .node import write_if_changed
from .supervisor import Component

ADDRESS = f"{HOST_ADDRESS}:{PORTS['registry']}"
USERNAME = "slipway"
PASSWORD_FILE = REGISTRY / "password"
HTPASSWD = REGISTRY / "htpasswd"
CONFIG = REGISTRY / "config.yml"
STORAGE = REGISTRY / "storage"
ENGINE_CERTS = Path("/etc/docker/certs.d")
# Which of the engine's folders the sandbox made (so `down` removes just those).
ENGINE_MADE = REGISTRY / "engine-paths-made.json"


def password() -> str:
    return PASSWORD_FILE.read_text().strip()


def ensure_credentials() -> None:
    """A password made once, and the htpasswd entry (bcrypt, the only kind the registry reads)."""
    import bcrypt

    REGISTRY.mkdir(parents=True, exist_ok=True)
    if not PASSWORD_FILE.exists():
        PASSWORD_FILE.touch(mode=0o600)
        PASSWORD_FILE.write_text(secrets.token_urlsafe(18) + "\n")
    current = HTPASSWD.read_text().strip() if HTPASSWD.exists() else ""
    name, _, hashed = current.partition(":")
    if name != USERNAME or not bcrypt.checkpw(password().encode(), hashed.encode()):
        HTPASSWD.write_text(f"{USERNAME}:{bcrypt.hashpw(password().encode(), bcrypt.gensalt()).decode()}\n")
        HTPASSWD.chmod(0o600)


def config() -> dict:
    return {
        "version": 0.1,
        "log": {"level": "info", "formatter": "text"},
        "storage": {"filesystem": {"rootdirectory": str(STORAGE)}, "delete": {"enabled": True}},
        "http": {
            "addr": ADDRESS,
            "tls": {"certificate": str(PKI / "serving.crt"), "key": str(PKI / "serving.key")},
            # Health (/debug/health) on 127.0.0.1, apart from the API, which asks for a password.
            "debug": {"addr": f"127.0.0.1:{PORTS['registry-debug']}"},
        },
        "auth": {"htpasswd": {"realm": "slipway-sandbox", "path": str(HTPASSWD)}},
        "health": {"storagedriver": {"enabled": True, "interval": "10s", "threshold": 3}},
    }


def hosts_toml() -> str:
    """containerd's view of the registry: pull from it over TLS, trusting the sandbox's CA."""
    return f"""server = "https://{ADDRESS}"

[host."https://{ADDRESS}"]
  capabilities = ["pull", "resolve"]
  ca = "{PKI / 'ca.crt'}"
"""


def prepare() -> None:
    """Credentials, configuration and the trust of the node and the engine, before it starts."""
    ensure_credentials()
    STORAGE.mkdir(parents=True, exist_ok=True)
    # JSON is YAML.
    write_if_changed(CONFIG, json.dumps(config(), indent=2) + "\n")
    (REGISTRY_HOSTS / ADDRESS).mkdir(parents=True, exist_ok=True)
    write_if_changed(REGISTRY_HOSTS / ADDRESS / "hosts.toml", hosts_toml())
    trust_on_engine()


def trust_on_engine() -> None:
    if not ENGINE_MADE.exists():
        made = [str(path) for path in (ENGINE_CERTS.parent, ENGINE_CERTS, ENGINE_CERTS / ADDRESS)
                if not path.exists()]
        ENGINE_MADE.write_text(json.dumps(made) + "\n")
    (ENGINE_CERTS / ADDRESS).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(PKI / "ca.crt", ENGINE_CERTS / ADDRESS / "ca.crt")


def clean_up() -> None:
    """Remove the engine's trust folders the sandbox made, deepest first."""
    if not ENGINE_MADE.exists():
        return
    for path in sorted(json.loads(ENGINE_MADE.read_text()), key=len, reverse=True):
        if Path(path).exists():
            shutil.rmtree(path)
            log(f"removed {path}")
    ENGINE_MADE.unlink()


def component(bin_dir: Path) -> Component:
    return Component(
        "registry", [str(bin_dir / "registry"), "serve", str(CONFIG)],
        health=f"http://127.0.0.1:{PORTS['registry-debug']}/debug/health", port=PORTS["registry-debug"],
        # Its tracing exports nowhere.
        env={"OTEL_TRACES_EXPORTER": "none"},
    )
