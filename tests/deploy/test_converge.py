"""A real converge of site.yml into a debootstrapped Debian bookworm, and what it left there."""

from __future__ import annotations

import shutil
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from .conftest import (
    FLAT,
    HOST,
    REPO,
    WIREGUARD_CENTRAL_ENDPOINT,
    WIREGUARD_CENTRAL_KEY,
    Gateway,
    free_port,
    tool,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1200)]


def test_first_converge_succeeds_and_changes_the_tree(deploy_gateway: Gateway) -> None:
    recap = deploy_gateway.runs["first"].recap
    assert recap["failed"] == 0
    assert recap["unreachable"] == 0
    assert recap["changed"] > 10


def test_second_converge_changes_nothing(deploy_gateway: Gateway) -> None:
    run = deploy_gateway.runs["second"]
    assert run.returncode == 0, run.output[-4000:]
    changed = [line for line in run.output.splitlines() if line.startswith("changed:")]
    assert run.recap["changed"] == 0, changed
    assert run.recap["failed"] == 0


def test_check_mode_previews_a_blank_gateway_and_writes_nothing(deploy_gateway: Gateway) -> None:
    run = deploy_gateway.runs["check"]
    assert run.returncode == 0, run.output[-4000:]
    assert run.recap["failed"] == 0
    assert run.recap["changed"] > 10
    # the diff of the sshd drop-in it would write
    assert "+PasswordAuthentication no" in run.output
    left = deploy_gateway.after_check
    assert "\nthuisplus:" not in str(left.pop("passwd"))
    assert left == dict.fromkeys(left, False), left
    for password in deploy_gateway.secrets.values():
        assert password not in run.output


def test_upgrade_installs_the_new_version_and_keeps_state(deploy_gateway: Gateway) -> None:
    run = deploy_gateway.runs["upgrade"]
    assert run.returncode == 0, run.output[-4000:]
    assert run.recap["failed"] == 0
    shown = deploy_gateway.chroot(
        "/opt/thuisplus/venv/bin/python",
        "-c",
        "import importlib.metadata as m; print(m.version('thuisplus'))",
    )
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == deploy_gateway.upgraded_version
    marker = deploy_gateway.path("/var/lib/thuisplus/events.sqlite")
    assert marker.read_bytes() == deploy_gateway.state_marker


def test_homeassistant_venv_made_again_when_the_python_changed(deploy_gateway: Gateway) -> None:
    run = deploy_gateway.runs["python"]
    assert run.returncode == 0, run.output[-4000:]
    for task, result in (
        ("Remove a virtual environment made by another Python.", "changed:"),
        ("Create Home Assistant's virtual environment.", "changed:"),
    ):
        after = run.output.split(f"TASK [homeassistant : {task}", 1)[1].split("TASK [", 1)[0]
        assert after.strip().splitlines()[-1].startswith(result), after
    tree_python = deploy_gateway.chroot(
        "/usr/bin/python3", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"
    )
    pyvenv = deploy_gateway.path("/srv/homeassistant/venv/pyvenv.cfg").read_text(encoding="utf-8")
    assert f"version = {tree_python.stdout.strip()}" in pyvenv.splitlines()
    assert deploy_gateway.path("/srv/homeassistant/venv/bin/python").exists()
    # the first two runs kept the venv they found
    second = deploy_gateway.runs["second"].output
    after = second.split("TASK [homeassistant : Remove a virtual environment made by another", 1)
    assert after[1].split("TASK [", 1)[0].strip().splitlines()[-1].startswith("skipping:")


def test_a_run_shows_and_repairs_hand_edits(deploy_gateway: Gateway) -> None:
    run = deploy_gateway.runs["upgrade"]
    assert "+NoNewPrivileges=yes" in run.output
    assert "-# edited by hand" in run.output
    unit = deploy_gateway.path("/etc/systemd/system/thuisplus.service").read_text()
    assert "NoNewPrivileges=yes" in unit.splitlines()
    assert "edited by hand" not in deploy_gateway.path("/etc/thuisplus/flat.yaml").read_text()
    # --tags thuisplus ran the hub's role alone
    assert "TASK [thuisplus : " in run.output
    assert "TASK [base : " not in run.output
    assert "TASK [mosquitto : " not in run.output
    assert "TASK [wireguard : " not in run.output


def _owner(gateway: Gateway, inside: str) -> tuple[str, str, int]:
    info = gateway.path(inside).stat()
    users = {uid: name for name, uid in gateway.ids("passwd").items()}
    groups = {gid: name for name, gid in gateway.ids("group").items()}
    return users[info.st_uid], groups[info.st_gid], stat.S_IMODE(info.st_mode)


def test_accounts(deploy_gateway: Gateway) -> None:
    passwd = {
        line.split(":")[0]: line.split(":")
        for line in deploy_gateway.path("/etc/passwd").read_text().splitlines()
    }
    hub = passwd["thuisplus"]
    assert int(hub[2]) < 1000, "the hub's account is a system account"
    assert hub[6] == "/usr/sbin/nologin"
    admin = passwd["gwadmin"]
    assert int(admin[2]) >= 1000
    shadow = {
        line.split(":")[0]: line.split(":")[1]
        for line in deploy_gateway.path("/etc/shadow").read_text().splitlines()
    }
    assert shadow["gwadmin"].startswith("!"), "the admin has no usable password"
    keys = deploy_gateway.path("/home/gwadmin/.ssh/authorized_keys").read_text()
    assert deploy_gateway.admin_key in keys
    assert _owner(deploy_gateway, "/home/gwadmin/.ssh/authorized_keys")[0] == "gwadmin"
    sudo_group = next(
        line
        for line in deploy_gateway.path("/etc/group").read_text().splitlines()
        if line.startswith("sudo:")
    )
    assert "gwadmin" in sudo_group.split(":")[3].split(",")
    assert _owner(deploy_gateway, "/etc/sudoers.d/50-gwadmin") == ("root", "root", 0o440)


def test_ssh_password_login_is_off(deploy_gateway: Gateway) -> None:
    deploy_gateway.path("/run/sshd").mkdir(exist_ok=True)
    effective = deploy_gateway.chroot(
        "/usr/sbin/sshd", "-T", "-C", "user=gwadmin,host=x,addr=10.0.0.2"
    )
    assert effective.returncode == 0, effective.stderr
    settings = dict(line.split(" ", 1) for line in effective.stdout.splitlines() if " " in line)
    assert settings["passwordauthentication"] == "no"
    assert settings["kbdinteractiveauthentication"] == "no"
    assert settings["permitrootlogin"] == "no"
    assert settings["allowusers"] == "gwadmin"


def test_hub_config_and_secret_files(deploy_gateway: Gateway) -> None:
    assert _owner(deploy_gateway, "/etc/thuisplus") == ("root", "thuisplus", 0o750)
    assert _owner(deploy_gateway, "/etc/thuisplus/flat.yaml") == ("root", "thuisplus", 0o640)
    assert _owner(deploy_gateway, "/etc/thuisplus/mqtt_password") == ("root", "thuisplus", 0o640)
    assert _owner(deploy_gateway, "/var/lib/thuisplus") == ("thuisplus", "thuisplus", 0o750)
    password = deploy_gateway.secrets["thuisplus"]
    assert deploy_gateway.path("/etc/thuisplus/mqtt_password").read_text().strip() == password
    text = deploy_gateway.path("/etc/thuisplus/flat.yaml").read_text()
    assert password not in text
    config = yaml.safe_load(text)
    assert config["flat"] == FLAT
    assert config["timezone"] == "Europe/Amsterdam"
    assert config["language"] in {"nl", "en"}
    assert config["store"] == {}
    assert config["apartments"] == {"a012": {"residents": 1}}
    mqtt = config["mqtt"]
    assert "password" not in mqtt
    assert mqtt["port"] == 8883
    assert mqtt["username"] == "thuisplus"
    assert mqtt["password_file"] == "/etc/thuisplus/mqtt_password"
    assert mqtt["tls"] == {"enabled": True, "ca_file": "/etc/mosquitto/certs/ca.crt"}
    assert deploy_gateway.path(mqtt["tls"]["ca_file"]).is_file()
    # the gateway has monitoring: the hub writes its history to the local VictoriaMetrics
    assert config["influx"] == {"enabled": True, "url": "http://127.0.0.1:8428"}
    # and Home Assistant, but no token in the vault: discovery only, no notifications
    assert config["homeassistant"] == {
        "enabled": True,
        "discovery_prefix": "homeassistant",
        "notify": {},
        "persistent_notifications": False,
    }
    assert not deploy_gateway.path("/etc/thuisplus/ha_token").exists()


def test_monitoring_stack(deploy_gateway: Gateway) -> None:
    assert deploy_gateway.path("/usr/bin/victoria-metrics").is_file()
    args = deploy_gateway.path("/etc/default/victoria-metrics").read_text()
    assert "-httpListenAddr=127.0.0.1:8428" in args
    assert "-retentionPeriod=400d" in args
    datasource = yaml.safe_load(
        deploy_gateway.path("/etc/grafana/provisioning/datasources/thuisplus.yaml").read_text()
    )
    (source,) = datasource["datasources"]
    assert (source["type"], source["url"]) == ("prometheus", "http://127.0.0.1:8428")
    provider = yaml.safe_load(
        deploy_gateway.path("/etc/grafana/provisioning/dashboards/thuisplus.yaml").read_text()
    )
    folder = provider["providers"][0]["options"]["path"]
    shipped = sorted((REPO / "integrations" / "grafana" / "victoriametrics").glob("*.json"))
    assert len(shipped) == 3
    for board in shipped:
        assert deploy_gateway.path(f"{folder}/{board.name}").read_text() == board.read_text()


def test_hub_config_is_accepted_by_the_hub(deploy_gateway: Gateway) -> None:
    try:
        from edge.config import load_config_text
    except ImportError as err:
        pytest.skip(f"the hub's config loader is not importable yet: {err}")
    text = deploy_gateway.path("/etc/thuisplus/flat.yaml").read_text()
    config = load_config_text(text, "flat.yaml")
    assert config.flat == FLAT
    assert config.mqtt.tls.enabled
    assert config.homeassistant.enabled
    assert not config.homeassistant.notifications


def test_hub_installed_in_its_venv(deploy_gateway: Gateway) -> None:
    entry = deploy_gateway.path("/opt/thuisplus/venv/bin/thuisplus")
    assert entry.is_file()
    assert entry.stat().st_mode & stat.S_IXUSR
    deps = deploy_gateway.chroot(
        "/opt/thuisplus/venv/bin/python", "-c", "import paho.mqtt, pydantic, yaml, numpy, river"
    )
    assert deps.returncode == 0, deps.stderr
    if (REPO / "edge" / "cli.py").exists():
        shown = deploy_gateway.chroot("/opt/thuisplus/venv/bin/thuisplus", "--help")
        assert shown.returncode == 0, shown.stderr


def test_systemd_unit(deploy_gateway: Gateway) -> None:
    analyze = tool("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (run scripts/install-deploy-test-deps.sh)")
    unit = deploy_gateway.path("/etc/systemd/system/thuisplus.service")
    lines = unit.read_text().splitlines()
    assert (
        "ExecStart=/opt/thuisplus/venv/bin/thuisplus run --config /etc/thuisplus/flat.yaml "
        "--state-dir /var/lib/thuisplus"
    ) in lines
    for directive in (
        "User=thuisplus",
        # a crash restarts the hub, a hang is caught by the watchdog, and systemd never
        # stops trying (the hub pages the lead itself when it restarts too often)
        "Type=notify",
        "NotifyAccess=main",
        "WatchdogSec=30s",
        "Restart=always",
        "StartLimitIntervalSec=0",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "PrivateTmp=yes",
        "StateDirectory=thuisplus",
        "ReadWritePaths=/var/lib/thuisplus",
    ):
        assert directive in lines
    wants = deploy_gateway.path("/etc/systemd/system/multi-user.target.wants/thuisplus.service")
    assert wants.is_symlink()
    assert deploy_gateway.path(str(wants.readlink())) == unit
    verify = subprocess.run(
        [analyze, "verify", f"--root={deploy_gateway.tree}", "thuisplus.service"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stderr
    assert verify.stderr.strip() == "", verify.stderr
    assert verify.stdout.strip() == "", verify.stdout


def test_firewall_config_opens_only_ssh_mqtt_tls_and_home_assistant(
    deploy_gateway: Gateway,
) -> None:
    text = deploy_gateway.path("/etc/nftables.conf").read_text()
    assert "policy drop;" in text
    opened = sorted(
        port
        for line in text.splitlines()
        if "dport" in line and line.strip().endswith("accept")
        for port in line.split("dport", 1)[1]
        .replace("{", "")
        .replace("}", "")
        .replace("accept", "")
        .replace(",", " ")
        .split()
    )
    # 8123: Home Assistant's web interface, as this gateway has it
    assert opened == ["22", "8123", "8883"]
    checked = deploy_gateway.chroot("/usr/sbin/nft", "-c", "-f", "/etc/nftables.conf")
    assert checked.returncode == 0, checked.stderr


def test_time_journal_and_upgrades(deploy_gateway: Gateway) -> None:
    chrony = deploy_gateway.path("/etc/chrony/chrony.conf").read_text()
    assert "pool nl.pool.ntp.org iburst" in chrony
    assert "makestep 1.0 3" in chrony
    # enabled: the symlink points into the tree's /lib, so look at the link itself
    enabled = deploy_gateway.path("/etc/systemd/system/multi-user.target.wants/chrony.service")
    assert enabled.is_symlink()
    assert deploy_gateway.path(str(enabled.readlink())).is_file()
    journald = deploy_gateway.path("/etc/systemd/journald.conf.d/50-thuisplus.conf").read_text()
    assert "Storage=volatile" in journald
    assert "SystemMaxUse=64M" in journald
    assert deploy_gateway.path("/etc/hostname").read_text().strip() == "gw-ijsselmonde-01"
    assert deploy_gateway.path("/etc/localtime").resolve().name == "Amsterdam"
    periodic = deploy_gateway.path("/etc/apt/apt.conf.d/20auto-upgrades").read_text()
    assert 'APT::Periodic::Unattended-Upgrade "1";' in periodic
    dump = deploy_gateway.chroot("apt-config", "dump", "Unattended-Upgrade::Origins-Pattern")
    assert dump.returncode == 0, dump.stderr
    origins = [line for line in dump.stdout.splitlines() if line.startswith("Unattended-Upgrade::")]
    assert origins, dump.stdout
    assert all("Debian-Security" in line for line in origins[1:]), origins


def test_zigbee2mqtt_config(deploy_gateway: Gateway) -> None:
    data = deploy_gateway.path("/opt/zigbee2mqtt/data")
    config = yaml.safe_load((data / "configuration.yaml").read_text())
    assert config["version"] == 5, "Zigbee2MQTT 2.14's settings version, nothing to migrate"
    assert config["advanced"]["network_key"] == "GENERATE"
    assert config["advanced"]["last_seen"] == "ISO_8601"
    assert config["availability"]["enabled"] is True
    assert config["mqtt"]["server"] == "mqtts://localhost:8883"
    assert config["mqtt"]["user"] == "zigbee2mqtt"
    assert deploy_gateway.secrets["zigbee2mqtt"] not in (data / "configuration.yaml").read_text()
    secret = yaml.safe_load((data / "secret.yaml").read_text())
    assert secret["mqtt_password"] == deploy_gateway.secrets["zigbee2mqtt"]
    assert stat.S_IMODE((data / "secret.yaml").stat().st_mode) == 0o600
    devices = yaml.safe_load((data / config["devices"]).read_text())
    names = sorted(device["friendly_name"] for device in devices.values())
    assert names == [
        "a012/bathroom/motion",
        "a012/entrance/front_door",
        "common/common_room/motion",
    ]


# --- the VPN: wg0 to the central peer ---------------------------------------------------


def _shown_public_keys(run_output: str) -> list[str]:
    """The public keys the run's debug task printed for the installer."""
    marker = f"WireGuard public key of {HOST} (10.80.0.21/24): "
    return [
        line.split(marker, 1)[1].strip().strip("'\"")
        for line in run_output.splitlines()
        if marker in line
    ]


def test_wireguard_tunnel_config(deploy_gateway: Gateway) -> None:
    assert _owner(deploy_gateway, "/etc/wireguard") == ("root", "root", 0o700)
    assert _owner(deploy_gateway, "/etc/wireguard/wg0.conf") == ("root", "root", 0o600)
    lines = deploy_gateway.path("/etc/wireguard/wg0.conf").read_text().splitlines()
    for line in (
        "[Interface]",
        "Address = 10.80.0.21/24",
        "PostUp = wg set %i private-key /etc/wireguard/wg0.key",
        "[Peer]",
        f"PublicKey = {WIREGUARD_CENTRAL_KEY}",
        f"Endpoint = {WIREGUARD_CENTRAL_ENDPOINT}",
        # only the VPN's subnet goes into the tunnel, not the gateway's other traffic
        "AllowedIPs = 10.80.0.0/24",
        "PersistentKeepalive = 25",
    ):
        assert line in lines, line
    assert not [line for line in lines if line.startswith("PrivateKey")]
    # wg-quick accepts it: strip parses the file as wg-quick@wg0 does
    stripped = deploy_gateway.chroot("/usr/bin/wg-quick", "strip", "wg0")
    assert stripped.returncode == 0, stripped.stderr
    assert f"PublicKey = {WIREGUARD_CENTRAL_KEY}" in stripped.stdout.splitlines()
    wants = deploy_gateway.path("/etc/systemd/system/multi-user.target.wants/wg-quick@wg0.service")
    assert wants.is_symlink()
    assert deploy_gateway.path(str(wants.readlink())).is_file()


def test_wireguard_private_key_made_on_the_gateway_once(deploy_gateway: Gateway) -> None:
    key_file = "/etc/wireguard/wg0.key"
    assert _owner(deploy_gateway, key_file) == ("root", "root", 0o600)
    private = deploy_gateway.path(key_file).read_text().strip()
    assert len(private) == 44
    assert private.endswith("=")
    derived = deploy_gateway.chroot("/bin/sh", "-c", f"wg pubkey < {key_file}")
    assert derived.returncode == 0, derived.stderr
    public = derived.stdout.strip()
    assert public != private
    # shown by the first and the second run alike (the second kept the key), and written
    # on the controller for the central peer
    assert _shown_public_keys(deploy_gateway.runs["first"].output) == [public]
    assert _shown_public_keys(deploy_gateway.runs["second"].output) == [public]
    fetched = deploy_gateway.work / "fetched" / f"{HOST}.pub"
    assert fetched.read_text() == public + "\n"
    # the private key is nowhere but on the gateway: not in any run's output, not in a
    # file of the repository that git could commit (tracked or untracked, deploy/ansible's
    # ignored ones too), not on the controller's side
    for run in deploy_gateway.runs.values():
        assert private not in run.output
    found = subprocess.run(
        ["git", "grep", "-lF", "--untracked", private],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert found.returncode == 1, found.stdout + found.stderr
    ignored = subprocess.run(
        ["grep", "-rlF", private, str(REPO / "deploy")],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert ignored.returncode == 1, ignored.stdout + ignored.stderr
    assert private not in fetched.read_text()


def test_wireguard_reload_keeps_the_key_and_the_central_peer(deploy_gateway: Gateway) -> None:
    """wg-quick's own reload (wg syncconf of the stripped wg0.conf) would clear the private
    key, which wg0.conf leaves to PostUp; the unit's reload is the role's script, which
    passes the key from its file. Run in the tree with a `wg` that records what syncconf
    gets (there is no wg0 interface in a chroot)."""
    dropin = "/etc/systemd/system/wg-quick@wg0.service.d/thuisplus-reload.conf"
    lines = deploy_gateway.path(dropin).read_text().splitlines()
    assert lines[-2:] == ["ExecReload=", "ExecReload=/usr/local/sbin/thuisplus-wg-reload %i"]
    assert _owner(deploy_gateway, "/usr/local/sbin/thuisplus-wg-reload") == ("root", "root", 0o755)
    stub = deploy_gateway.path("/tmp/wg-stub/wg")
    stub.parent.mkdir(parents=True, exist_ok=True)
    stub.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = syncconf ]; then\n'
        '  echo "$2" > /tmp/wg-synced; cat "$3" >> /tmp/wg-synced; exit 0\n'
        "fi\n"
        'exec /usr/bin/wg "$@"\n'
    )
    stub.chmod(0o755)
    synced = deploy_gateway.path("/tmp/wg-synced")
    try:
        # bash's <(...) needs /proc: a private mount namespace with its own /proc
        reloaded = subprocess.run(
            [
                *("unshare", "--mount", "--pid", "--fork"),
                f"--mount-proc={deploy_gateway.path('/proc')}",
                *("chroot", str(deploy_gateway.tree)),
                *("/usr/bin/env", "PATH=/tmp/wg-stub:/usr/sbin:/usr/bin:/sbin:/bin"),
                *("/usr/local/sbin/thuisplus-wg-reload", "wg0"),
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert reloaded.returncode == 0, reloaded.stderr
        got = synced.read_text().splitlines()
    finally:
        shutil.rmtree(stub.parent, ignore_errors=True)
        synced.unlink(missing_ok=True)
    private = deploy_gateway.path("/etc/wireguard/wg0.key").read_text().strip()
    assert got[0] == "wg0"
    assert got[1:3] == ["[Interface]", f"PrivateKey = {private}"]
    assert got.count("[Interface]") == 1
    assert "[Peer]" in got
    assert f"PublicKey = {WIREGUARD_CENTRAL_KEY}" in got
    assert "AllowedIPs = 10.80.0.0/24" in got
    assert not [line for line in got if line.startswith(("Address", "PostUp"))]
    analyze = tool("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (run scripts/install-deploy-test-deps.sh)")
    verify = subprocess.run(
        # Debian's unit names man pages as its documentation; the test machine has no man
        [analyze, "verify", "--man=no", f"--root={deploy_gateway.tree}", "wg-quick@wg0.service"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stderr
    assert "thuisplus-reload" not in verify.stderr, verify.stderr


def test_team_page_unit_is_installed_and_off_by_default(deploy_gateway: Gateway) -> None:
    """thuisplus-serve.service (thuisplus serve) is there, valid, and not enabled."""
    unit = deploy_gateway.path("/etc/systemd/system/thuisplus-serve.service")
    lines = unit.read_text().splitlines()
    assert "LoadCredential=serve.key:/etc/mosquitto/certs/server.key" in lines
    wants = deploy_gateway.path("/etc/systemd/system/multi-user.target.wants")
    assert not (wants / "thuisplus-serve.service").exists()
    analyze = tool("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (run scripts/install-deploy-test-deps.sh)")
    verify = subprocess.run(
        [analyze, "verify", "--man=no", f"--root={deploy_gateway.tree}",
         "thuisplus-serve.service"],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert verify.returncode == 0, verify.stderr


# --- the broker, with the host's mosquitto on the rendered configuration -----------------


@pytest.fixture
def gateway_broker(deploy_gateway: Gateway, tmp_path: Path) -> Iterator[int]:
    """Run the host's mosquitto on the tree's configuration, moved to a free loopback port."""
    binary = tool("mosquitto")
    if binary is None or tool("mosquitto_pub") is None:
        pytest.skip("mosquitto and mosquitto-clients are not installed")
    rendered = deploy_gateway.path("/etc/mosquitto/conf.d/thuisplus.conf").read_text()
    port = free_port()
    lines = []
    for line in rendered.splitlines():
        if line.startswith("listener "):
            assert line.split()[1] == "8883"
            line = f"listener {port} 127.0.0.1"
        lines.append(line.replace("/etc/mosquitto/", f"{deploy_gateway.tree}/etc/mosquitto/"))
    # the tree's files belong to the tree's mosquitto group; stay root to read them
    lines += ["user root", "log_dest stderr", "persistence false"]
    config = tmp_path / "mosquitto.conf"
    config.write_text("\n".join(lines) + "\n")
    log = (tmp_path / "mosquitto.log").open("w")
    process = subprocess.Popen([binary, "-c", str(config)], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while "running" not in (tmp_path / "mosquitto.log").read_text():
            assert process.poll() is None, (tmp_path / "mosquitto.log").read_text()
            assert time.monotonic() < deadline, "mosquitto did not start"
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _pub(
    gateway: Gateway, port: int, *args: str, tls: bool = True
) -> subprocess.CompletedProcess[str]:
    cafile = ["--cafile", str(gateway.path("/etc/mosquitto/certs/ca.crt"))] if tls else []
    return subprocess.run(
        [str(tool("mosquitto_pub")), "-h", "localhost", "-p", str(port), *cafile, *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )


@pytest.mark.broker
def test_broker_tls_passwords_and_no_anonymous(
    deploy_gateway: Gateway, gateway_broker: int
) -> None:
    port = gateway_broker
    for user, password in deploy_gateway.secrets.items():
        ok = _pub(
            deploy_gateway, port, "-u", user, "-P", password, "-t", f"{user}/probe", "-m", "1"
        )
        assert ok.returncode == 0, (user, ok.stderr)
    anonymous = _pub(deploy_gateway, port, "-t", "zigbee2mqtt/x", "-m", "1")
    assert anonymous.returncode != 0
    assert "not authorised" in anonymous.stderr.lower()
    wrong = _pub(
        deploy_gateway, port, "-u", "thuisplus", "-P", "wrong", "-t", "thuisplus/x", "-m", "1"
    )
    assert wrong.returncode != 0
    plain = _pub(
        deploy_gateway,
        port,
        "-u",
        "thuisplus",
        "-P",
        deploy_gateway.secrets["thuisplus"],
        "-t",
        "thuisplus/x",
        "-m",
        "1",
        tls=False,
    )
    assert plain.returncode != 0, "the listener must not accept MQTT without TLS"


@pytest.mark.broker
def test_broker_acls(deploy_gateway: Gateway, gateway_broker: int) -> None:
    port, secrets = gateway_broker, deploy_gateway.secrets
    subscriber = subprocess.Popen(
        [
            str(tool("mosquitto_sub")),
            "-h",
            "localhost",
            "-p",
            str(port),
            "--cafile",
            str(deploy_gateway.path("/etc/mosquitto/certs/ca.crt")),
            "-u",
            "homeassistant",
            "-P",
            secrets["homeassistant"],
            "-t",
            "zigbee2mqtt/#",
            "-t",
            "thuisplus/#",
            "-v",
            "-C",
            "3",
            "-W",
            "10",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.5)
    attempts = [
        ("zigbee2mqtt", "zigbee2mqtt/a012/bathroom/motion", "allowed-z2m"),
        ("zigbee2mqtt", f"thuisplus/{FLAT}/signals", "denied-z2m-signal"),
        ("thuisplus", f"thuisplus/{FLAT}/signals", "allowed-hub"),
        ("thuisplus", "zigbee2mqtt/a012/bathroom/motion", "denied-hub-sensor"),
        ("homeassistant", f"thuisplus/{FLAT}/signals", "denied-ha-signal"),
        ("homeassistant", "zigbee2mqtt/a012/kitchen/plug", "denied-ha-sensor"),
        ("homeassistant", f"thuisplus/{FLAT}/command/ack", "allowed-ha-ack"),
        ("homeassistant", f"thuisplus/{FLAT}/command/result", "denied-ha-result"),
        ("homeassistant", "thuisplus/other-flat/command/ack", "denied-ha-other-flat"),
    ]
    for user, topic, payload in attempts:
        sent = _pub(
            deploy_gateway, port, "-u", user, "-P", secrets[user], "-t", topic, "-m", payload
        )
        assert sent.returncode == 0, sent.stderr
    out, err = subscriber.communicate(timeout=30)
    received = {line.split(" ", 1)[1] for line in out.splitlines() if " " in line}
    assert received == {"allowed-z2m", "allowed-hub", "allowed-ha-ack"}, (out, err)


# --- Home Assistant (its role runs up to the pip step; see docs/installers.md) ------------


class _IncludeLoader(yaml.SafeLoader):
    """Home Assistant's YAML: ``!include file`` reads the file beside it."""


_IncludeLoader.add_constructor(
    "!include", lambda loader, node: ("!include", loader.construct_scalar(node))
)


def test_homeassistant_account_venv_and_config(deploy_gateway: Gateway) -> None:
    passwd = {
        line.split(":")[0]: line.split(":")
        for line in deploy_gateway.path("/etc/passwd").read_text().splitlines()
    }
    account = passwd["homeassistant"]
    assert int(account[2]) < 1000
    assert account[6] == "/usr/sbin/nologin"
    assert account[5] == "/var/lib/homeassistant"
    # the venv exists (the pip step was switched off: its task was skipped, not failed)
    assert deploy_gateway.path("/srv/homeassistant/venv/bin/python").exists()
    assert _owner(deploy_gateway, "/srv/homeassistant") == ("root", "root", 0o755)
    skipped = deploy_gateway.runs["first"].output.split(
        "TASK [homeassistant : Install Home Assistant Core", 1
    )[1]
    assert skipped.split("TASK [", 1)[0].strip().splitlines()[-1].startswith("skipping:")
    home = "/var/lib/homeassistant"
    assert _owner(deploy_gateway, home) == ("homeassistant", "homeassistant", 0o750)
    assert _owner(deploy_gateway, f"{home}/configuration.yaml") == ("root", "homeassistant", 0o640)
    text = deploy_gateway.path(f"{home}/configuration.yaml").read_text()
    config = yaml.load(text, Loader=_IncludeLoader)  # noqa: S506  (SafeLoader plus !include)
    core = config["homeassistant"]
    assert (core["time_zone"], core["country"], core["unit_system"]) == (
        "Europe/Amsterdam",
        "NL",
        "metric",
    )
    assert config["http"] == {"server_host": "0.0.0.0", "server_port": 8123}  # noqa: S104
    assert "mobile_app" in config
    assert config["automation thuisplus"] == ("!include", "thuisplus-automations.yaml")
    (automation,) = yaml.safe_load(
        deploy_gateway.path(f"{home}/thuisplus-automations.yaml").read_text()
    )
    assert automation["action"][0]["data"]["topic"] == f"thuisplus/{FLAT}/command/ack"
    assert "trigger.event.data.action[14:]" in automation["action"][0]["data"]["payload"]
    for ui_file in ("automations.yaml", "scripts.yaml"):
        assert yaml.safe_load(deploy_gateway.path(f"{home}/{ui_file}").read_text()) == []
        assert _owner(deploy_gateway, f"{home}/{ui_file}")[0] == "homeassistant"


def test_homeassistant_mqtt_integration_entry(deploy_gateway: Gateway) -> None:
    import json

    inside = "/var/lib/homeassistant/.storage/core.config_entries"
    assert _owner(deploy_gateway, inside) == ("homeassistant", "homeassistant", 0o600)
    store = json.loads(deploy_gateway.path(inside).read_text())
    assert (store["key"], store["version"]) == ("core.config_entries", 1)
    (entry,) = store["data"]["entries"]
    assert entry["domain"] == "mqtt"
    data = entry["data"]
    assert (data["broker"], data["port"], data["username"]) == ("localhost", 8883, "homeassistant")
    assert data["password"] == deploy_gateway.secrets["homeassistant"]
    ca = deploy_gateway.path("/etc/mosquitto/certs/ca.crt").read_text()
    assert data["certificate"] == ca
    assert (data["discovery"], data["discovery_prefix"]) == (True, "homeassistant")
    for run in deploy_gateway.runs.values():
        assert deploy_gateway.secrets["homeassistant"] not in run.output


def test_homeassistant_systemd_unit(deploy_gateway: Gateway) -> None:
    analyze = tool("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (run scripts/install-deploy-test-deps.sh)")
    unit = deploy_gateway.path("/etc/systemd/system/homeassistant.service")
    lines = unit.read_text().splitlines()
    assert (
        "ExecStart=/srv/homeassistant/venv/bin/python -m homeassistant "
        "--config /var/lib/homeassistant --skip-pip"
    ) in lines
    for directive in (
        "User=homeassistant",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ProtectHome=yes",
        "StateDirectory=homeassistant",
        "ReadWritePaths=/var/lib/homeassistant",
        "CapabilityBoundingSet=",
    ):
        assert directive in lines
    wants = deploy_gateway.path("/etc/systemd/system/multi-user.target.wants/homeassistant.service")
    assert wants.is_symlink()
    verify = subprocess.run(
        [analyze, "verify", f"--root={deploy_gateway.tree}", "homeassistant.service"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert verify.returncode == 0, verify.stderr
    assert verify.stderr.strip() == "", verify.stderr


def test_zigbee2mqtt_account_and_unit(deploy_gateway: Gateway) -> None:
    passwd = {
        line.split(":")[0]: line.split(":")
        for line in deploy_gateway.path("/etc/passwd").read_text().splitlines()
    }
    account = passwd["zigbee2mqtt"]
    assert int(account[2]) < 1000
    assert account[6] == "/usr/sbin/nologin"
    dialout = next(
        line
        for line in deploy_gateway.path("/etc/group").read_text().splitlines()
        if line.startswith("dialout:")
    )
    assert "zigbee2mqtt" in dialout.split(":")[3].split(",")
    assert _owner(deploy_gateway, "/opt/zigbee2mqtt/data") == ("zigbee2mqtt", "zigbee2mqtt", 0o750)
    lines = deploy_gateway.path("/etc/systemd/system/zigbee2mqtt.service").read_text().splitlines()
    for directive in (
        "User=zigbee2mqtt",
        "SupplementaryGroups=dialout",
        "Environment=ZIGBEE2MQTT_DATA=/opt/zigbee2mqtt/data",
        f"ExecStart={Z2M_NODE} /opt/zigbee2mqtt/node_modules/zigbee2mqtt/index.js",
        "DevicePolicy=closed",
        "DeviceAllow=/dev/ttyUSB0 rw",
        "ProtectSystem=strict",
        "ReadWritePaths=/opt/zigbee2mqtt/data",
    ):
        assert directive in lines, directive
    wants = deploy_gateway.path("/etc/systemd/system/multi-user.target.wants/zigbee2mqtt.service")
    assert wants.is_symlink()


# --- Zigbee2MQTT's Node.js and release ---------------------------------------------------

Z2M_DEFAULTS = yaml.safe_load(
    (REPO / "deploy/ansible/roles/zigbee2mqtt/defaults/main.yml").read_text(encoding="utf-8")
)
Z2M_ENTRY = "/opt/zigbee2mqtt/node_modules/zigbee2mqtt/index.js"
# the node binary the role installed: the pinned release under its root-owned prefix
Z2M_NODE = f"/opt/thuisplus-node/node-{Z2M_DEFAULTS['zigbee2mqtt_node_version']}/bin/node"


def test_zigbee2mqtt_runs_on_a_node_lts_under_a_root_owned_prefix(deploy_gateway: Gateway) -> None:
    node = Z2M_NODE
    version = deploy_gateway.chroot(node, "--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == "v" + Z2M_DEFAULTS["zigbee2mqtt_node_version"]
    major = int(version.stdout.strip()[1:].split(".")[0])
    assert major >= 22, f"{version.stdout}: older than the lines Zigbee2MQTT 2.x runs on"
    assert major % 2 == 0, f"{version.stdout}: an odd release line never becomes LTS"
    for inside in ("/opt/thuisplus-node", node.rsplit("/bin/", 1)[0], node):
        assert _owner(deploy_gateway, inside) == ("root", "root", 0o755), inside
    assert not list(deploy_gateway.path("/opt/thuisplus-node").glob("*.tgz")), "tarballs left"
    # Debian's Node.js 18 is not what runs it
    assert not deploy_gateway.path("/usr/bin/node").exists()


def test_zigbee2mqtt_pinned_2x_release_installed_for_that_node(deploy_gateway: Gateway) -> None:
    package = deploy_gateway.path("/opt/zigbee2mqtt/node_modules/zigbee2mqtt/package.json")
    installed = yaml.safe_load(package.read_text(encoding="utf-8"))
    assert installed["version"] == Z2M_DEFAULTS["zigbee2mqtt_version"]
    assert installed["version"].startswith("2.")
    assert _owner(deploy_gateway, "/opt/zigbee2mqtt/node_modules") == ("root", "root", 0o755)
    # the release's own engines range, checked by its own semver under the installed node
    check = deploy_gateway.chroot(
        Z2M_NODE,
        "-e",
        "const p = require('/opt/zigbee2mqtt/node_modules/zigbee2mqtt/package.json');"
        "const s = require('/opt/zigbee2mqtt/node_modules/semver');"
        "console.log(p.engines.node, s.satisfies(process.version, p.engines.node));",
    )
    assert check.returncode == 0, check.stderr
    assert check.stdout.split()[-1] == "true", check.stdout
    # installed once: the second converge left it as it was
    second = deploy_gateway.runs["second"].output
    after = second.split("TASK [zigbee2mqtt : Install Zigbee2MQTT from the npm registry", 1)[1]
    assert after.split("TASK [", 1)[0].strip().splitlines()[-1].startswith("skipping:"), after


def test_zigbee2mqtt_starts_on_what_the_role_wrote(deploy_gateway: Gateway) -> None:
    """Zigbee2MQTT, as its account, on a copy of the data directory the role wrote: it reads
    and validates the configuration (nothing to migrate), generates its network key and stops
    only where a gateway without a Zigbee coordinator must: starting the adapter."""
    data = deploy_gateway.path("/tmp/z2m-start")
    shutil.copytree(deploy_gateway.path("/opt/zigbee2mqtt/data"), data)
    ids = deploy_gateway.ids("passwd")
    for path in (data, *data.iterdir()):
        shutil.chown(path, ids["zigbee2mqtt"], ids["zigbee2mqtt"])
    try:
        run = deploy_gateway.chroot(
            "setpriv",
            "--reuid=zigbee2mqtt",
            "--regid=zigbee2mqtt",
            "--init-groups",
            "env",
            "ZIGBEE2MQTT_DATA=/tmp/z2m-start",
            "NODE_ENV=production",
            Z2M_NODE,
            Z2M_ENTRY,
        )
        output = run.stdout + run.stderr
        assert f"Starting Zigbee2MQTT version {Z2M_DEFAULTS['zigbee2mqtt_version']}" in output
        assert "Starting zigbee-herdsman" in output, output[-3000:]
        assert "Failed to start zigbee-herdsman" in output, output[-3000:]
        assert run.returncode == 1, output[-3000:]
        assert not list(data.glob("migration-*.log")), "the role wrote an old settings version"
        started = yaml.safe_load((data / "configuration.yaml").read_text(encoding="utf-8"))
        assert started["version"] == 5
        key = started["advanced"]["network_key"]
        assert isinstance(key, list), key
        assert len(key) == 16, key
    finally:
        shutil.rmtree(data, ignore_errors=True)


@pytest.mark.broker
@pytest.mark.homeassistant
def test_homeassistant_starts_on_what_the_role_wrote(
    deploy_gateway: Gateway, gateway_broker: int, tmp_path: Path
) -> None:
    """The real Home Assistant the project tests with (2024.3.3, `make test-deps`), started
    with --skip-pip as the role's unit does, on a copy of the rendered configuration
    directory, its MQTT entry moved to the gateway's broker on a free port: it must connect
    over TLS with the gateway's CA as `homeassistant`, announce itself on
    homeassistant/status (its ACL allows that topic) and log no error."""
    import json
    import shutil

    hass = REPO / ".cache" / "homeassistant-venv" / "bin" / "python"
    if not (hass.parent / "hass").exists():
        pytest.skip("Home Assistant is not installed (make test-deps)")
    config = tmp_path / "ha"
    shutil.copytree(deploy_gateway.path("/var/lib/homeassistant"), config)
    store = config / ".storage" / "core.config_entries"
    entries = json.loads(store.read_text())
    entries["data"]["entries"][0]["data"]["port"] = gateway_broker
    store.write_text(json.dumps(entries))
    yaml_file = config / "configuration.yaml"
    yaml_file.write_text(
        yaml_file.read_text().replace(
            'server_host: "0.0.0.0"\n  server_port: 8123',
            f'server_host: "127.0.0.1"\n  server_port: {free_port()}',
        )
    )
    watcher = subprocess.Popen(
        [
            str(tool("mosquitto_sub")),
            *("-h", "localhost", "-p", str(gateway_broker)),
            *("--cafile", str(deploy_gateway.path("/etc/mosquitto/certs/ca.crt"))),
            *("-u", "thuisplus", "-P", deploy_gateway.secrets["thuisplus"]),
            *("-t", "homeassistant/status", "-C", "1", "-W", "120"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    log = tmp_path / "hass.out"
    with log.open("wb") as out:
        ha = subprocess.Popen(
            [str(hass), "-m", "homeassistant", "--config", str(config), "--skip-pip"],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        status, err = watcher.communicate(timeout=150)
    finally:
        ha.terminate()
        try:
            ha.wait(timeout=30)
        except subprocess.TimeoutExpired:
            ha.kill()
            ha.wait()
    text = log.read_text(errors="replace")
    assert status.strip() == "online", (err, text[-3000:])
    errors = [line for line in text.splitlines() if " ERROR " in line]
    assert errors == [], errors
