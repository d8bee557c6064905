"""Static checks of deploy/ansible: linters, syntax, the inventory of the 20 flats, roles' shape."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import ANSIBLE_DIR, tool, tool_env

ROLES = ANSIBLE_DIR / "roles"

# The city's areas and how many Thuisplusflats each has (shared/CONTEXT.md).
AREAS = {
    "prins_alexander": 4,
    "ijsselmonde": 2,
    "charlois": 2,
    "feijenoord": 2,
    "delfshaven": 2,
    "kralingen_crooswijk": 2,
    "noord": 1,
    "hoogvliet": 1,
    "hillegersberg_schiebroek": 1,
    "overschie": 1,
    "hoek_van_holland": 1,
    "rozenburg": 1,
}


def _run(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    binary = tool(name)
    if binary is None:
        pytest.skip(f"{name} is not installed in this environment")
    return subprocess.run(
        [binary, *args],
        cwd=ANSIBLE_DIR,
        env=tool_env(),
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def test_yamllint_is_clean() -> None:
    result = _run("yamllint", "--strict", "-c", ".yamllint", ".")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ansible_lint_production_profile_is_clean() -> None:
    result = _run("ansible-lint", "-c", ".ansible-lint", "--profile", "production")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Profile 'production' was required, and it passed" in result.stdout + result.stderr


def test_site_playbook_syntax() -> None:
    result = _run("ansible-playbook", "--syntax-check", "site.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def _inventory() -> dict[str, Any]:
    result = _run("ansible-inventory", "-i", "inventory/hosts.yml", "--list")
    assert result.returncode == 0, result.stderr
    inventory: dict[str, Any] = json.loads(result.stdout)
    return inventory


def test_inventory_has_the_cities_twenty_flats_by_area() -> None:
    inventory = _inventory()
    children = inventory["thuisplus_gateways"]["children"]
    assert sorted(children) == sorted(AREAS)
    hosts = []
    for area, count in AREAS.items():
        members = inventory[area]["hosts"]
        assert len(members) == count, area
        slug = area.replace("_", "-")
        assert sorted(members) == [f"gw-{slug}-{n:02d}" for n in range(1, count + 1)]
        hosts += members
    assert len(hosts) == len(set(hosts)) == 20
    hostvars = inventory["_meta"]["hostvars"]
    for host in hosts:
        flat = hostvars[host]["thuisplus_flat"]
        assert re.fullmatch(r"[a-z0-9][a-z0-9_-]*", flat), flat
        assert host == f"gw-{flat}"


def test_no_secret_is_committed() -> None:
    listing = subprocess.run(
        ["git", "ls-files", "deploy"],
        cwd=ANSIBLE_DIR.parents[1],
        capture_output=True,
        text=True,
        check=False,
    )
    if listing.returncode != 0:
        pytest.skip("not a git checkout")
    tracked = listing.stdout.split()
    assert not [p for p in tracked if Path(p).name == "vault.yml"]
    assert not [p for p in tracked if "/pki/" in p or p.endswith((".key", ".pem"))]
    example = yaml.safe_load((ANSIBLE_DIR / "vault.example.yml").read_text())
    assert all(str(value).startswith("change-me") for value in example.values())
    group_vars = (ANSIBLE_DIR / "inventory/group_vars/thuisplus_gateways/main.yml").read_text()
    for key in example:
        assert "{{ " + key in group_vars, f"{key} is not used from the vault"


@pytest.mark.parametrize(
    "role", sorted(p.name for p in ROLES.iterdir() if p.is_dir()) if ROLES.is_dir() else []
)
def test_role_defaults_are_prefixed_and_specified(role: str) -> None:
    defaults = yaml.safe_load((ROLES / role / "defaults/main.yml").read_text()) or {}
    specs = yaml.safe_load((ROLES / role / "meta/argument_specs.yml").read_text())
    options = specs["argument_specs"]["main"]["options"]
    assert defaults, "every setting lives in defaults/main.yml"
    for name in defaults:
        assert name.startswith(f"{role}_"), name
        assert name in options, f"{name} is missing from meta/argument_specs.yml"
    # every setting has a comment in its paragraph (lines up to the previous blank line)
    paragraph: list[str] = []
    for line in (ROLES / role / "defaults/main.yml").read_text().splitlines():
        if not line.strip():
            paragraph = []
            continue
        if re.match(r"^[a-z]\w*:", line):
            assert any(entry.startswith("#") for entry in paragraph), f"{line!r} has no comment"
        paragraph.append(line)


def test_task_names_are_sentences() -> None:
    for tasks in sorted(ROLES.glob("*/tasks/*.yml")):
        for task in yaml.safe_load(tasks.read_text()) or []:
            name = task.get("name", "")
            assert name[:1].isupper(), f"{tasks}: {name!r}"
            assert name.endswith("."), f"{tasks}: {name!r}"


def test_mosquitto_password_lines_match_mosquitto_passwd(tmp_path: Path) -> None:
    """The role's idempotent hashes verify like the ones mosquitto_passwd writes."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "mosquitto_passwd_filter", ROLES / "mosquitto/filter_plugins/mosquitto_passwd.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    line = module.mosquitto_passwd_line("s3cret", "thuisplus", "gw-a-01", 1000)
    assert line == module.mosquitto_passwd_line("s3cret", "thuisplus", "gw-a-01", 1000)
    assert line != module.mosquitto_passwd_line("s3cret", "thuisplus", "gw-b-01", 1000)
    binary = tool("mosquitto_passwd")
    if binary is None:
        pytest.skip("mosquitto_passwd is not installed")
    reference = tmp_path / "passwd"
    subprocess.run([binary, "-c", "-b", str(reference), "thuisplus", "s3cret"], check=True)
    ours, theirs = line.split("$"), reference.read_text().strip().split("$")
    assert ours[0] == theirs[0] == "thuisplus:"
    assert ours[1] == theirs[1] == "7"
    assert len(ours[3]) == len(theirs[3])
    assert len(ours[4]) == len(theirs[4])


def test_bridge_sends_only_aggregate_topics(tmp_path: Path) -> None:
    """Render the (default off) bridge with the role's defaults, on this machine."""
    play = tmp_path / "bridge.yml"
    out = tmp_path / "bridge.conf"
    defaults = yaml.safe_load((ROLES / "mosquitto/defaults/main.yml").read_text())
    bridge_vars = {k: v for k, v in defaults.items() if k.startswith("mosquitto_bridge_")}
    bridge_vars.update(
        mosquitto_bridge_enabled=True,
        mosquitto_bridge_address="central.invalid",
        mosquitto_bridge_remote_password="bridge-secret",
    )
    play.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Render the bridge.",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "vars": bridge_vars,
                    "tasks": [
                        {
                            "name": "Render.",
                            "ansible.builtin.template": {
                                "src": str(ROLES / "mosquitto/templates/bridge.conf.j2"),
                                "dest": str(out),
                                "mode": "0600",
                            },
                        }
                    ],
                }
            ]
        )
    )
    result = _run(
        "ansible-playbook",
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        str(play),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = out.read_text().splitlines()
    topics = [line for line in lines if line.startswith("topic ")]
    assert topics == ["topic thuisplus/+/stats/# out 1"]
    assert "address central.invalid:8883" in lines
    assert "remote_password bridge-secret" in lines


def test_zigbee2mqtt_keeps_the_network_key_it_generated(tmp_path: Path) -> None:
    """Zigbee2MQTT replaces GENERATE by real keys in configuration.yaml on its first start
    (2.2.1 does, rewriting the file); the role reads them back and renders them again, and
    a second run changes nothing. A new key would make every paired device leave."""
    role = ROLES / "zigbee2mqtt"
    data = tmp_path / "data"
    data.mkdir()
    written = {
        "version": 4,
        "mqtt": {"server": "mqtts://localhost:8883", "password": "!secret mqtt_password"},
        "advanced": {
            "last_seen": "ISO_8601",
            "network_key": [48, 179, 74, 3, 12, 99, 1, 250, 7, 8, 9, 10, 11, 12, 13, 14],
            "pan_id": 46858,
            "ext_pan_id": [111, 0, 195, 4, 5, 6, 7, 8],
        },
    }
    (data / "configuration.yaml").write_text(yaml.safe_dump(written))
    play = tmp_path / "render.yml"
    play.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Render Zigbee2MQTT's configuration as the role does.",
                    "hosts": "localhost",
                    "gather_facts": False,
                    "vars_files": [str(role / "defaults/main.yml"), str(role / "vars/main.yml")],
                    "tasks": [
                        {
                            "name": "Read.",
                            "ansible.builtin.slurp": {"src": str(data / "configuration.yaml")},
                            "register": "_zigbee2mqtt_current",
                        },
                        {
                            "name": "Render.",
                            "ansible.builtin.template": {
                                "src": str(role / "templates/configuration.yaml.j2"),
                                "dest": str(data / "configuration.yaml"),
                                "mode": "0600",
                            },
                        },
                    ],
                }
            ]
        )
    )
    args = ("-i", "localhost,", "-c", "local", "-e", f"ansible_python_interpreter={sys.executable}")
    first = _run("ansible-playbook", *args, str(play))
    assert first.returncode == 0, first.stdout + first.stderr
    rendered = yaml.safe_load((data / "configuration.yaml").read_text())
    for key in ("network_key", "pan_id", "ext_pan_id"):
        assert rendered["advanced"][key] == written["advanced"][key], key
    # Zigbee2MQTT 2.14's settings version: an older one is migrated and the file rewritten
    # at its start (the converge test starts it and checks that nothing was migrated)
    assert rendered["version"] == 5
    assert rendered["mqtt"]["password"] == "!secret mqtt_password"
    second = _run("ansible-playbook", *args, str(play))
    assert second.returncode == 0, second.stdout + second.stderr
    assert "changed=0" in second.stdout


# --- the wireguard role: the fleet's VPN -------------------------------------------------


def _wireguard_filters() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "wireguard_net_filter", ROLES / "wireguard/filter_plugins/wireguard_net.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wireguard_public_key() -> str:
    """A real WireGuard public key (X25519, base64), as `wg pubkey` prints one."""
    import base64

    from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

    raw = X25519PrivateKey.generate().public_key().public_bytes_raw()
    return base64.b64encode(raw).decode()


def test_inventory_reaches_every_gateway_on_its_own_vpn_address() -> None:
    import ipaddress

    hostvars = _inventory()["_meta"]["hostvars"]
    gateways = sorted(h for h in hostvars if h.startswith("gw-"))
    assert len(gateways) == 20
    subnet = ipaddress.ip_network(hostvars[gateways[0]]["wireguard_subnet"])
    addresses = set()
    for host in gateways:
        interface = ipaddress.ip_interface(hostvars[host]["wireguard_address"])
        assert interface.network == subnet, host
        # .1 is the central peer, .2-.9 installers and central services
        assert int(interface.ip) - int(subnet.network_address) >= 10, host
        assert hostvars[host]["ansible_host"] == str(interface.ip), host
        addresses.add(interface.ip)
    assert len(addresses) == 20
    # the address plan: 10 x area number (in hosts.yml's order) + the gateway's number
    assert hostvars["gw-prins-alexander-01"]["ansible_host"] == "10.80.0.11"
    assert hostvars["gw-ijsselmonde-01"]["ansible_host"] == "10.80.0.21"
    assert hostvars["gw-rozenburg-01"]["ansible_host"] == "10.80.0.121"


def test_wireguard_filters_name_what_is_wrong() -> None:
    net = _wireguard_filters()
    good = wireguard_public_key()
    assert net.wireguard_key_problem(good) == ""
    assert "placeholder" in net.wireguard_key_problem("CHANGE-ME: the central peer's key")
    assert "empty" in net.wireguard_key_problem("")
    assert "not a WireGuard key" in net.wireguard_key_problem(good[:-2] + "==")
    assert net.wireguard_endpoint_problem("vpn.example.org:51820") == ""
    assert net.wireguard_endpoint_problem("192.0.2.7:51820") == ""
    assert net.wireguard_endpoint_problem("[2001:db8::1]:51820") == ""
    assert "placeholder" in net.wireguard_endpoint_problem("CHANGE-ME.example.org:51820")
    assert "host:port" in net.wireguard_endpoint_problem("vpn.example.org")
    assert "host:port" in net.wireguard_endpoint_problem("vpn.example.org:70000")
    assert net.wireguard_address_problem("10.80.0.21/24", "10.80.0.0/24") == ""
    assert "no prefix" in net.wireguard_address_problem("10.80.0.21", "10.80.0.0/24")
    assert "not in" in net.wireguard_address_problem("10.81.0.21/24", "10.80.0.0/24")
    assert "not in" in net.wireguard_address_problem("10.80.0.21/16", "10.80.0.0/24")
    assert "broadcast" in net.wireguard_address_problem("10.80.0.255/24", "10.80.0.0/24")
    assert "wider than" in net.wireguard_address_problem("10.80.0.21/0", "0.0.0.0/0")
    assert "not a network" in net.wireguard_address_problem("10.80.0.21/24", "10.80.0.21/24")


def _wireguard_play(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """The role's checks, then its template rendered into tmp_path, for the inventory's
    gw-ijsselmonde-01 (its group_vars with the CHANGE-ME placeholders) on this machine."""
    play = tmp_path / "wireguard.yml"
    play.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Check and render the VPN as the wireguard role does.",
                    "hosts": "gw-ijsselmonde-01",
                    "gather_facts": False,
                    "tasks": [
                        {
                            "name": "Check.",
                            "ansible.builtin.include_role": {
                                "name": "wireguard",
                                "tasks_from": "validate.yml",
                                "public": True,
                            },
                        },
                        {
                            "name": "Render.",
                            "ansible.builtin.template": {
                                "src": str(ROLES / "wireguard/templates/wg.conf.j2"),
                                "dest": str(tmp_path / "wg0.conf"),
                                "mode": "0600",
                            },
                        },
                    ],
                }
            ]
        )
    )
    return _run(
        "ansible-playbook",
        "-i",
        "inventory/hosts.yml",
        "-e",
        "ansible_connection=local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        *extra,
        str(play),
    )


def test_wireguard_refuses_the_placeholder_central_peer(tmp_path: Path) -> None:
    result = _wireguard_play(tmp_path)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "The VPN (wireguard_enabled) cannot be set up" in output
    assert "wireguard_central_public_key is still the placeholder" in output
    assert "wireguard_central_endpoint is still the placeholder" in output
    assert not (tmp_path / "wg0.conf").exists()


def test_wireguard_refuses_an_address_outside_the_vpn(tmp_path: Path) -> None:
    result = _wireguard_play(
        tmp_path,
        "-e",
        f"wireguard_central_public_key={wireguard_public_key()}",
        "-e",
        "wireguard_central_endpoint=vpn.example.org:51820",
        "-e",
        "wireguard_address=192.168.1.21/24",
    )
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "wireguard_address 192.168.1.21/24 is not in wireguard_subnet 10.80.0.0/24" in output


def test_wireguard_config_renders_for_a_gateway(tmp_path: Path) -> None:
    key = wireguard_public_key()
    result = _wireguard_play(
        tmp_path,
        "-e",
        f"wireguard_central_public_key={key}",
        "-e",
        "wireguard_central_endpoint=vpn.example.org:51820",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    lines = (tmp_path / "wg0.conf").read_text().splitlines()
    settings = [line for line in lines if line and not line.startswith("#")]
    assert settings == [
        "[Interface]",
        "Address = 10.80.0.21/24",
        "PostUp = wg set %i private-key /etc/wireguard/wg0.key",
        "[Peer]",
        f"PublicKey = {key}",
        "Endpoint = vpn.example.org:51820",
        "AllowedIPs = 10.80.0.0/24",
        "PersistentKeepalive = 25",
    ]


def test_backups_are_configured_and_scheduled_with_recipients(tmp_path: Path) -> None:
    """The thuisplus role with backup recipients: flat.yaml gets the backup section the
    hub reads, and the daily timer and its service render (edge/backup.py)."""
    from edge.config import load_config

    role = ROLES / "thuisplus"
    key = "age1" + "q" * 58
    tasks: list[dict[str, Any]] = [
        {"name": f"Read {part}.", "ansible.builtin.include_vars": str(role / part / "main.yml")}
        for part in ("defaults", "vars")
    ]
    for src, dest in (("flat.yaml.j2", "flat.yaml"),
                      ("thuisplus-backup.service.j2", "backup.service"),
                      ("thuisplus-backup.timer.j2", "backup.timer")):  # fmt: skip
        tasks.append(
            {
                "name": f"Render {dest}.",
                "ansible.builtin.template": {
                    "src": str(role / "templates" / src),
                    "dest": str(tmp_path / dest),
                    "mode": "0600",
                },
            }
        )
    play = tmp_path / "backup.yml"
    play.write_text(
        yaml.safe_dump(
            [
                {
                    "name": "Render the backup.",
                    "hosts": "gw-ijsselmonde-01",
                    "gather_facts": False,
                    "tasks": tasks,
                }
            ]
        )
    )
    result = _run(
        "ansible-playbook", "-i", "inventory/hosts.yml", "-e", "ansible_connection=local",
        "-e", f"ansible_python_interpreter={sys.executable}", "-e", "thuisplus_flat=ijs-01",
        "-e", json.dumps({"thuisplus_backup_recipients": [key], "thuisplus_backup_keep": 7}),
        str(play),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    config = load_config(tmp_path / "flat.yaml")
    assert config.backup.recipients == [key]
    assert config.backup.keep == 7
    assert str(config.backup.dir) == "/var/backups/thuisplus"
    service = (tmp_path / "backup.service").read_text()
    assert (
        "thuisplus backup --config /etc/thuisplus/flat.yaml --state-dir /var/lib/thuisplus"
        in service
    )
    assert "ReadWritePaths=/var/backups/thuisplus" in service
    assert "OnCalendar=*-*-* 03:15:00" in (tmp_path / "backup.timer").read_text()


def test_the_team_page_unit_renders_and_its_command_line_parses(tmp_path: Path) -> None:
    """The thuisplus role's optional thuisplus-serve.service (off by default): it runs
    ``thuisplus serve`` as the hub's account with the gateway's certificate handed over
    by systemd, and its command line is one the hub's own parser accepts."""
    import shlex

    from edge.cli import build_parser

    role = ROLES / "thuisplus"
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text())
    assert defaults["thuisplus_serve_enabled"] is False
    tasks: list[dict[str, Any]] = [
        {"name": f"Read {part}.", "ansible.builtin.include_vars": str(role / part / "main.yml")}
        for part in ("defaults", "vars")
    ]
    tasks.append(
        {
            "name": "Render the unit.",
            "ansible.builtin.template": {
                "src": str(role / "templates" / "thuisplus-serve.service.j2"),
                "dest": str(tmp_path / "serve.service"),
                "mode": "0600",
            },
        }
    )
    play = tmp_path / "serve.yml"
    play.write_text(yaml.safe_dump([{"name": "Render the team page.", "hosts":
                    "gw-ijsselmonde-01", "gather_facts": False, "tasks": tasks}]))  # fmt: skip
    result = _run(
        "ansible-playbook", "-i", "inventory/hosts.yml", "-e", "ansible_connection=local",
        "-e", f"ansible_python_interpreter={sys.executable}", "-e", "thuisplus_flat=ijs-01",
        "-e", "thuisplus_serve_enabled=true", str(play),
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    unit = (tmp_path / "serve.service").read_text()
    assert "User=thuisplus" in unit
    assert "LoadCredential=serve.key:/etc/mosquitto/certs/server.key" in unit
    assert "LoadCredential=serve.crt:/etc/mosquitto/certs/server.crt" in unit
    assert "ReadWritePaths=/var/lib/thuisplus" in unit
    (exec_start,) = [line for line in unit.splitlines() if line.startswith("ExecStart=")]
    argv = shlex.split(exec_start.removeprefix("ExecStart="))
    assert argv[0] == "/opt/thuisplus/venv/bin/thuisplus"
    args = build_parser().parse_args([a.replace("%d", "/run/credentials/x") for a in argv[1:]])
    assert args.command == "serve"
    assert (args.host, args.port) == ("0.0.0.0", 8443)  # noqa: S104  (the default)
    assert str(args.cert) == "/run/credentials/x/serve.crt"
    assert str(args.key) == "/run/credentials/x/serve.key"
    assert str(args.state_dir) == "/var/lib/thuisplus"
