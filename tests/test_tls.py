"""The hub on a broker as the gateway runs it: TLS, a password per client, no anonymous."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import Broker, mosquitto_binary
from tests.live import HubProcess, wait_for

pytestmark = pytest.mark.broker


def openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


@pytest.fixture
def tls_broker(tmp_path: Path):  # type: ignore[no-untyped-def]
    binary = mosquitto_binary()
    passwd = shutil.which("mosquitto_passwd")
    if binary is None or passwd is None or shutil.which("openssl") is None:
        pytest.skip("mosquitto, mosquitto_passwd or openssl missing: `make test` installs them")
    d = tmp_path / "tls"
    d.mkdir()
    openssl(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        cwd=d,
    )
    openssl(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=localhost",
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        cwd=d,
    )
    (d / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl(
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        "san.ext",
        "-out",
        "server.crt",
        cwd=d,
    )
    subprocess.run([passwd, "-c", "-b", str(d / "passwd"), "hub", "right-password"], check=True)
    b = Broker(d, binary)
    conf = b.conf.read_text().replace("allow_anonymous true\n", "allow_anonymous false\n")
    conf += (
        f"password_file {d}/passwd\ncafile {d}/ca.crt\n"
        f"certfile {d}/server.crt\nkeyfile {d}/server.key\n"
    )
    b.conf.write_text(conf)
    b.start()
    yield b, d
    b.stop()


def hub_config(d: Path, password_file: Path) -> str:
    return (
        "mqtt:\n  username: hub\n"
        f"  password_file: {password_file}\n"
        f"  tls:\n    enabled: true\n    ca_file: {d}/ca.crt\n"
    )


def test_tls_and_password_from_a_secrets_file(tls_broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    broker, d = tls_broker
    secret = tmp_path / "mqtt_password"
    secret.write_text("right-password\n")
    hub = HubProcess(broker, tmp_path / "hub", hub_config(d, secret), dev=False)
    hub.start()
    try:
        wait_for(lambda: "Connected to" in hub.output(), 15, lambda: f"TLS:\n{hub.output()}")
    finally:
        assert hub.stop() == 0
    assert "right-password" not in hub.output()


def test_a_wrong_password_is_refused_and_the_hub_keeps_trying(tls_broker, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    broker, d = tls_broker
    secret = tmp_path / "mqtt_password"
    secret.write_text("wrong-password\n")
    hub = HubProcess(broker, tmp_path / "hub", hub_config(d, secret), dev=False)
    hub.start()
    try:
        wait_for(
            lambda: "Broker refused the connection: Not authorized" in hub.output(),
            15,
            lambda: f"the refusal:\n{hub.output()}",
        )
        time.sleep(1.0)
        assert hub.proc is not None
        assert hub.proc.poll() is None, "the hub gave up"
    finally:
        assert hub.stop() == 0
    assert "wrong-password" not in hub.output()
