"""Fixtures for the Ansible provisioning tests: tools, a cached Debian tree, a converged gateway.

The converge builds a minimal Debian bookworm with debootstrap (cached between runs under
``$THUISPLUS_DEPLOY_CACHE``, default ``~/.cache/thuisplus-deploy``), copies it per test
session, and applies ``deploy/ansible/site.yml`` through the ``community.general.chroot``
connection: the real roles, the real inventory, test secrets instead of the vault. The
zigbee2mqtt role downloads Node.js, npm and Zigbee2MQTT from the npm registry in the chroot.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DIR = REPO / "deploy" / "ansible"
HOST = "gw-ijsselmonde-01"
FLAT = "ijsselmonde-01"

# What debootstrap puts into the tree: everything the roles install, so the converge
# needs no network besides building the tree once.
TREE_PACKAGES = (
    "python3",
    "python3-apt",
    "python3-venv",
    "python3-packaging",
    "systemd",
    "openssh-server",
    "sudo",
    "chrony",
    "nftables",
    "unattended-upgrades",
    "mosquitto",
    "mosquitto-clients",
    "ca-certificates",
    "tzdata",
    "netbase",
)
SUITE = "bookworm"
# The central peer of the gateways' VPN in the test: a real key's public half (X25519,
# base64, as `wg pubkey` prints it), and an endpoint that is never dialled in the chroot.
WIREGUARD_CENTRAL_KEY = "xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg="
WIREGUARD_CENTRAL_ENDPOINT = "vpn.invalid:51820"
RECAP = re.compile(
    r"^(?P<host>\S+)\s*:\s*ok=(?P<ok>\d+)\s+changed=(?P<changed>\d+)\s+"
    r"unreachable=(?P<unreachable>\d+)\s+failed=(?P<failed>\d+)",
    re.MULTILINE,
)


def tool(name: str) -> str | None:
    """An executable next to the running Python (the venv) or on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def tool_env() -> dict[str, str]:
    """Environment for ansible and the linters: venv first on PATH, no colours, and no
    PIP_* settings of this machine (the chroot connection would pass them to the gateway)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_CONFIG"] = str(ANSIBLE_DIR / "ansible.cfg")
    env["ANSIBLE_NOCOLOR"] = "1"
    env["ANSIBLE_FORCE_COLOR"] = "0"
    env["PY_COLORS"] = "0"
    env["NO_COLOR"] = "1"
    return env


def debian_mirror() -> str:
    """The Debian mirror this machine's apt uses (not the security archive)."""
    if override := os.environ.get("THUISPLUS_DEBIAN_MIRROR"):
        return override
    texts = []
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        try:
            texts.append(path.read_text(encoding="utf-8"))
        except OSError:
            continue
    for text in texts:
        for match in re.finditer(r"(?:URIs:\s*|^deb\s+(?:\[[^]]*\]\s+)?)(\S+)", text, re.M):
            uri = match.group(1).rstrip("/")
            if re.search(r"/debian$", uri) and "security" not in uri:
                return uri
    return "http://deb.debian.org/debian"


def cache_dir() -> Path:
    default = Path.home() / ".cache" / "thuisplus-deploy"
    path = Path(os.environ.get("THUISPLUS_DEPLOY_CACHE", default))
    path.mkdir(parents=True, exist_ok=True)
    return path


def cached_tree(mirror: str) -> Path:
    """A debootstrapped bookworm, built once per package list and mirror."""
    key = hashlib.sha256("\n".join([SUITE, mirror, *TREE_PACKAGES]).encode()).hexdigest()[:12]
    tree = cache_dir() / f"{SUITE}-{key}"
    if (tree / ".thuisplus-complete").exists():
        return tree
    building = tree.with_name(tree.name + ".building")
    shutil.rmtree(building, ignore_errors=True)
    log = cache_dir() / f"{tree.name}.debootstrap.log"
    with log.open("w", encoding="utf-8") as out:
        result = subprocess.run(
            [
                str(tool("debootstrap")),
                "--variant=minbase",
                f"--include={','.join(TREE_PACKAGES)}",
                SUITE,
                str(building),
                mirror,
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            check=False,
            timeout=600,
        )
    if result.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-2000:]
        pytest.fail(f"debootstrap failed ({result.returncode}), log {log}:\n{tail}")
    (building / ".thuisplus-complete").touch()
    building.rename(tree)
    return tree


def trust_this_machines_cas(tree: Path) -> dict[str, str]:
    """Give the tree the certificate authorities this machine added to Debian's (a network
    that inspects TLS, as some care providers' do); the environment npm then needs.

    The roles download from the npm registry inside the chroot, over this machine's network.
    """
    local = sorted(Path("/usr/local/share/ca-certificates").glob("*.crt"))
    if not local:
        return {}
    dest = tree / "usr/local/share/ca-certificates"
    dest.mkdir(parents=True, exist_ok=True)
    for cert in local:
        shutil.copy2(cert, dest / cert.name)
    subprocess.run(
        ["chroot", str(tree), "update-ca-certificates"],
        check=True,
        capture_output=True,
        timeout=120,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
    )
    # Node.js trusts its own copy of Mozilla's list unless told otherwise
    return {"NODE_EXTRA_CA_CERTS": "/etc/ssl/certs/ca-certificates.crt"}


def build_wheel(source: Path, out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = out.glob("thuisplus-*.whl")
    return wheel


def wheelhouse(wheel: Path) -> Path:
    """Wheels of the hub's dependencies for the tree's Python 3.11, cached per dependency list."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    key = hashlib.sha256("\n".join(project["dependencies"]).encode()).hexdigest()[:12]
    house = cache_dir() / f"wheelhouse-cp311-{key}"
    if not (house / ".thuisplus-complete").exists():
        shutil.rmtree(house, ignore_errors=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--only-binary=:all:",
                "--python-version",
                "3.11",
                "--implementation",
                "cp",
                "--dest",
                str(house),
                str(wheel),
            ],
            check=True,
            capture_output=True,
            timeout=600,
        )
        for own in house.glob("thuisplus-*"):
            own.unlink()
        (house / ".thuisplus-complete").touch()
    return house


def project_copy(dest: Path) -> Path:
    """The files a wheel is built from: pyproject, readme, licence and the packages that
    pyproject's setuptools section includes (not recordings, datasets or caches)."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    find = config.get("tool", {}).get("setuptools", {}).get("packages", {}).get("find", {})
    dest.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md", "LICENSE", "setup.cfg", "MANIFEST.in"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, dest / name)
    for pattern in find.get("include", []):
        for package in REPO.glob(pattern.rstrip("*") + "*"):
            if (package / "__init__.py").is_file() and not (dest / package.name).exists():
                shutil.copytree(
                    package, dest / package.name, ignore=shutil.ignore_patterns("__pycache__")
                )
    return dest


@dataclass
class Run:
    """One ansible-playbook run: its output, recap and duration."""

    args: list[str]
    returncode: int
    output: str
    seconds: float

    @property
    def recap(self) -> dict[str, int]:
        for match in RECAP.finditer(self.output):
            if match.group("host") == HOST:
                return {k: int(v) for k, v in match.groupdict().items() if k != "host"}
        raise AssertionError(f"no recap for {HOST} in:\n{self.output[-3000:]}")


@dataclass
class Gateway:
    """A converged gateway tree and what the test put into it."""

    tree: Path
    work: Path
    secrets: dict[str, str]
    admin_key: str
    runs: dict[str, Run] = field(default_factory=dict)
    state_marker: bytes = b""
    after_check: dict[str, object] = field(default_factory=dict)
    upgraded_version: str = ""

    def path(self, inside: str) -> Path:
        return self.tree / inside.lstrip("/")

    def ids(self, database: str) -> dict[str, int]:
        """Name -> id from the tree's /etc/passwd or /etc/group."""
        entries = self.path(f"/etc/{database}").read_text(encoding="utf-8").splitlines()
        return {line.split(":")[0]: int(line.split(":")[2]) for line in entries if line}

    def chroot(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["chroot", str(self.tree), *argv],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
            env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"},
        )


class Playbook:
    """One ansible-playbook run against a chroot tree, started in the background."""

    def __init__(self, tree: Path, work: Path, name: str, extra_vars: Path, *extra: str) -> None:
        inventory = _write_yaml(
            work / f"inventory-{name}.yml",
            {
                "all": {
                    "hosts": {
                        HOST: {
                            "ansible_connection": "community.general.chroot",
                            "ansible_host": str(tree),
                            "ansible_become": False,
                        }
                    }
                }
            },
        )
        self.args = [
            str(tool("ansible-playbook")),
            "-i",
            str(ANSIBLE_DIR / "inventory" / "hosts.yml"),
            "-i",
            str(inventory),
            "-e",
            f"@{extra_vars}",
            "--limit",
            HOST,
            *extra,
            "site.yml",
        ]
        self.log = work / f"ansible-{name}.log"
        self.start = time.monotonic()
        with self.log.open("w", encoding="utf-8") as out:
            self.process = subprocess.Popen(
                self.args, cwd=ANSIBLE_DIR, env=tool_env(), stdout=out, stderr=subprocess.STDOUT
            )

    def wait(self) -> Run:
        try:
            returncode = self.process.wait(timeout=900)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise
        output = self.log.read_text(encoding="utf-8", errors="replace")
        return Run(self.args, returncode, output, time.monotonic() - self.start)


def playbook(gateway: Gateway, name: str, extra_vars: Path, *extra: str) -> Run:
    return Playbook(gateway.tree, gateway.work, name, extra_vars, *extra).wait()


def _write_yaml(path: Path, data: object) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def deploy_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    """Preview a blank tree with --check, converge it twice, then drift it and upgrade."""
    if os.geteuid() != 0:
        pytest.skip("the converge needs root: debootstrap and chroot")
    if tool("debootstrap") is None:
        pytest.skip("debootstrap is not installed (run scripts/install-deploy-test-deps.sh)")
    if tool("ansible-playbook") is None:
        pytest.skip("ansible is not installed in this environment")
    work = tmp_path_factory.mktemp("gateway")
    timings: dict[str, float] = {}

    start = time.monotonic()
    source_tree = cached_tree(debian_mirror())
    timings["tree"] = time.monotonic() - start
    tree = work / "root"
    subprocess.run(["cp", "-a", str(source_tree), str(tree)], check=True, timeout=300)
    npm_environment = trust_this_machines_cas(tree)

    wheel = build_wheel(REPO, work / "dist")
    house = wheelhouse(wheel)
    admin_key = (
        Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
        + " installer@test"
    )
    secrets = {
        "zigbee2mqtt": "z2m-" + os.urandom(9).hex(),
        "thuisplus": "hub-" + os.urandom(9).hex(),
        "homeassistant": "ha-" + os.urandom(9).hex(),
    }
    gateway = Gateway(tree=tree, work=work, secrets=secrets, admin_key=admin_key)
    test_vars = {
        "vault_mqtt_password_zigbee2mqtt": secrets["zigbee2mqtt"],
        "vault_mqtt_password_thuisplus": secrets["thuisplus"],
        "vault_mqtt_password_homeassistant": secrets["homeassistant"],
        "base_admin_ssh_keys": [admin_key],
        "thuisplus_package": str(wheel),
        "thuisplus_wheelhouse_src": str(house),
        "mosquitto_pki_dir": str(work / "pki"),
        "thuisplus_gateway_with_zigbee2mqtt": True,
        "thuisplus_gateway_with_monitoring": True,
        # Home Assistant's role runs up to its pip step: everything but the ~200 packages
        # of Home Assistant itself (minutes inside the chroot; see test_homeassistant_*)
        "thuisplus_gateway_with_homeassistant": True,
        "homeassistant_pip_install": False,
        # Zigbee2MQTT is installed whole: Node.js, npm and Zigbee2MQTT from the npm
        # registry (the x64 build of the release a Raspberry Pi gets as arm64)
        "zigbee2mqtt_install": True,
        "zigbee2mqtt_npm_environment": npm_environment,
        "zigbee2mqtt_devices": {
            "0x00158d0001a2b3c4": "a012/bathroom/motion",
            "0x00158d0001a2b3c5": "a012/entrance/front_door",
            "0x00158d0001a2b3c6": "common/common_room/motion",
        },
        "thuisplus_config_extra": {"apartments": {"a012": {"residents": 1}}},
        # the VPN's central peer instead of the group_vars' CHANGE-ME placeholders, and
        # the gateways' public keys written outside the repository
        "wireguard_central_public_key": WIREGUARD_CENTRAL_KEY,
        "wireguard_central_endpoint": WIREGUARD_CENTRAL_ENDPOINT,
        "wireguard_fetch_dir": str(work / "fetched"),
    }
    extra_vars = _write_yaml(work / "test-vars.yml", test_vars)

    # a preview of a blank gateway must work and write nothing; it runs on its own copy of
    # the blank tree, beside the first real run, with its own controller-side PKI directory
    blank = work / "blank"
    subprocess.run(["cp", "-a", str(source_tree), str(blank)], check=True, timeout=300)
    trust_this_machines_cas(blank)
    check_vars = _write_yaml(
        work / "check-vars.yml", {**test_vars, "mosquitto_pki_dir": str(work / "pki-check")}
    )
    preview = Playbook(blank, work, "check", check_vars, "--check", "--diff")
    try:
        gateway.runs["first"] = playbook(gateway, "first", extra_vars)
    finally:
        gateway.runs["check"] = preview.wait()
    gateway.after_check = {
        "passwd": (blank / "etc/passwd").read_text(encoding="utf-8"),
        **{
            inside: (blank / inside.lstrip("/")).exists()
            for inside in (
                "/etc/thuisplus",
                "/opt/thuisplus",
                "/etc/ssh/sshd_config.d/50-thuisplus.conf",
                "/etc/mosquitto/conf.d/thuisplus.conf",
                "/srv/homeassistant",
                "/var/lib/homeassistant",
                "/etc/wireguard",
            )
        },
    }
    shutil.rmtree(blank, ignore_errors=True)
    assert gateway.runs["first"].returncode == 0, gateway.runs["first"].output[-6000:]
    # the hub's state must survive every later run, including the upgrade
    marker = gateway.path("/var/lib/thuisplus/events.sqlite")
    gateway.state_marker = os.urandom(64)
    marker.write_bytes(gateway.state_marker)
    gateway.runs["second"] = playbook(gateway, "second", extra_vars)

    # drift two files by hand; the upgrade run (with --diff) must show and repair them
    unit = gateway.path("/etc/systemd/system/thuisplus.service")
    unit.write_text(
        unit.read_text(encoding="utf-8").replace("NoNewPrivileges=yes\n", ""), encoding="utf-8"
    )
    flat = gateway.path("/etc/thuisplus/flat.yaml")
    flat.write_text(flat.read_text(encoding="utf-8") + "# edited by hand\n", encoding="utf-8")

    # an upgrade: the same project with a higher version number
    source = project_copy(work / "upgrade-src")
    pyproject = source / "pyproject.toml"
    text = pyproject.read_text(encoding="utf-8")
    version = re.search(r'^version = "([^"]+)"', text, re.M)
    assert version is not None
    gateway.upgraded_version = version.group(1) + ".post1"
    pyproject.write_text(
        text.replace(version.group(0), f'version = "{gateway.upgraded_version}"'), encoding="utf-8"
    )
    new_wheel = build_wheel(source, work / "dist-upgrade")
    upgrade_vars = _write_yaml(
        work / "upgrade-vars.yml", {**test_vars, "thuisplus_package": str(new_wheel)}
    )
    # only the hub's role, as an installer upgrading the hub would: --tags thuisplus
    gateway.runs["upgrade"] = playbook(
        gateway, "upgrade", upgrade_vars, "--diff", "--tags", "thuisplus"
    )
    # the gateway's Python moved under Home Assistant's venv (as bookworm 3.11 -> trixie 3.13
    # does): a run of its role must make the venv again with the Python there is
    pyvenv = gateway.path("/srv/homeassistant/venv/pyvenv.cfg")
    pyvenv.write_text(
        re.sub(r"(?m)^version = .*$", "version = 3.9.2", pyvenv.read_text(encoding="utf-8")),
        encoding="utf-8",
    )
    gateway.runs["python"] = playbook(gateway, "python", extra_vars, "--tags", "homeassistant")

    timings.update({name: run.seconds for name, run in gateway.runs.items()})
    (work / "timings.txt").write_text(
        "".join(f"{name}: {seconds:.1f}s\n" for name, seconds in timings.items()), encoding="utf-8"
    )
    print(f"\ndeploy converge timings: {timings}")
    yield gateway
    if not os.environ.get("THUISPLUS_DEPLOY_KEEP_TREE"):
        shutil.rmtree(tree, ignore_errors=True)
