"""The sandbox's certificates: one CA, serving certificates, and a client certificate per identity.

Client certificates give each component its real identity, so RBAC and the Node authorizer are
exercised as on a real cluster (the admin is in system:masters, the controllers and the node are
not).
"""

from __future__ import annotations

import datetime
import ipaddress
import json
from dataclasses import dataclass, field
from pathlib import Path

from .layout import HOST_ADDRESS, KUBECONFIG, NODE_ADDRESS, NODE_NAME, PKI, PORTS, SERVICE_CIDR


@dataclass(frozen=True)
class Identity:
    """A certificate the sandbox issues: a client identity, or a server's names."""

    name: str
    common_name: str
    organization: str | None = None
    server: bool = False
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = field(default=())
    # A client of the API server (it gets a kubeconfig), or of another service.
    kubernetes_user: bool = True


SERVICE_IP = str(next(ipaddress.ip_network(SERVICE_CIDR).hosts()))
IDENTITIES = (
    # The API server and every host process that serves on 127.0.0.1 or the bridge.
    Identity("serving", "slipway-sandbox", server=True,
             dns_names=("localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc",
                        "kubernetes.default.svc.cluster.local", "metrics-server.kube-system.svc"),
             ip_addresses=("127.0.0.1", HOST_ADDRESS, SERVICE_IP)),
    Identity("admin", "slipway-admin", "system:masters"),
    Identity("controller-manager", "system:kube-controller-manager"),
    Identity("scheduler", "system:kube-scheduler"),
    Identity("kwok", "kwok", "system:masters"),
    # The real node: the Node authorizer and NodeRestriction know it by this name and group.
    Identity("node", f"system:node:{NODE_NAME}", "system:nodes"),
    Identity("node-serving", NODE_NAME, server=True, dns_names=(NODE_NAME,), ip_addresses=(NODE_ADDRESS,)),
    # Bound to system:node-proxier by the default RBAC policy.
    Identity("kube-proxy", "system:kube-proxy"),
    # How the API server authenticates to kubelets (logs, exec, port-forward): the kubelet's
    # webhook authorizer asks the API server, which lets system:masters do it.
    Identity("apiserver-kubelet-client", "kube-apiserver-kubelet-client", "system:masters"),
    # The API server's identity towards aggregated APIs (metrics-server), named in
    # --requestheader-allowed-names.
    Identity("front-proxy-client", "front-proxy-client"),
    # Add-ons, each bound to a ClusterRole of its own (addons.rbac_objects).
    Identity("coredns", "slipway:coredns"),
    Identity("metrics-server", "slipway:metrics-server"),
    Identity("ingress", "slipway:ingress"),
    Identity("volumes", "slipway:volumes"),
    Identity("projects", "slipway:projects"),
    # A client of the Docker engine's TLS endpoint (layout.DOCKER_CERTS).
    Identity("docker-client", "slipway-docker-client", kubernetes_user=False),
)
# Bumped whenever an identity's names change: the leaf certificates are issued anew, the CA and
# the service-account key (and so every token and the cluster's state) are kept. An identity
# added gets its certificate without a bump, the others' are kept.
PKI_GENERATION = "3"


def ensure_pki() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    marker = PKI / "complete"
    current = marker.exists() and marker.read_text().strip() == PKI_GENERATION
    issued = [identity for identity in IDENTITIES if not (current and (PKI / f"{identity.name}.crt").exists())]
    if not issued:
        return
    PKI.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.timezone.utc)
    not_after = now + datetime.timedelta(days=3650)

    def write_key(name: str, key) -> None:
        path = PKI / f"{name}.key"
        path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
        path.chmod(0o600)

    def write_cert(name: str, cert) -> None:
        (PKI / f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))

    if (PKI / "ca.key").exists():
        ca_key = serialization.load_pem_private_key((PKI / "ca.key").read_bytes(), password=None)
        ca_name = x509.load_pem_x509_certificate((PKI / "ca.crt").read_bytes()).subject
    else:
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "slipway-sandbox-ca")])
        ca_cert = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, key_cert_sign=True, crl_sign=True,
                    content_commitment=False, key_encipherment=False, data_encipherment=False,
                    key_agreement=False, encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .sign(ca_key, hashes.SHA256())
        )
        write_key("ca", ca_key)
        write_cert("ca", ca_cert)

    for identity in issued:
        key = ec.generate_private_key(ec.SECP256R1())
        attributes = [x509.NameAttribute(NameOID.COMMON_NAME, identity.common_name)]
        if identity.organization:
            attributes.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, identity.organization))
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name(attributes))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(not_after)
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH] if identity.server else [ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
        )
        if identity.server:
            builder = builder.add_extension(
                x509.SubjectAlternativeName(
                    [x509.DNSName(n) for n in identity.dns_names]
                    + [x509.IPAddress(ipaddress.ip_address(a)) for a in identity.ip_addresses]
                ),
                critical=False,
            )
        write_key(identity.name, key)
        write_cert(identity.name, builder.sign(ca_key, hashes.SHA256()))

    if not (PKI / "service-account.key").exists():
        service_account_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        write_key("service-account", service_account_key)
        (PKI / "service-account.pub").write_bytes(
            service_account_key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    marker.write_text(PKI_GENERATION + "\n")


def kubeconfig_for(user: str, server: str | None = None) -> Path:
    """Write a kubeconfig that authenticates as `user` with its client certificate."""
    server = server or f"https://127.0.0.1:{PORTS['kube-apiserver']}"
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "slipway-sandbox",
                      "cluster": {"server": server, "certificate-authority": str(PKI / "ca.crt")}}],
        "users": [{"name": user, "user": {"client-certificate": str(PKI / f"{user}.crt"),
                                          "client-key": str(PKI / f"{user}.key")}}],
        "contexts": [{"name": "slipway-sandbox" if user == "admin" else user,
                      "context": {"cluster": "slipway-sandbox", "user": user}}],
    }
    config["current-context"] = config["contexts"][0]["name"]
    path = KUBECONFIG if user == "admin" else PKI / f"{user}.kubeconfig"
    # JSON is YAML: no YAML library needed before the virtualenv exists.
    path.write_text(json.dumps(config, indent=2) + "\n")
    path.chmod(0o600)
    return path
