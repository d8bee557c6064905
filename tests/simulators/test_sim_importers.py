"""Importers on the real public files (skipped when absent) and on a synthetic CASAS sample."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from edge.normalise import INTERFACES_FIELDS
from edge.recording import BadLine, read_recording
from simulators.__main__ import main
from simulators.importers import import_files, parse_ordonez_text, to_messages, write_import

ALLOWED = set(INTERFACES_FIELDS)


def _check_recording(path: Path) -> list[tuple[str, dict[str, object]]]:
    out = []
    last = None
    for item in read_recording(path):
        assert not isinstance(item, BadLine), item
        assert item.received.utcoffset() is not None
        assert item.topic.startswith("zigbee2mqtt/a001/")
        assert isinstance(item.payload, dict)
        assert set(item.payload) <= ALLOWED
        if last is not None:
            assert item.received >= last
        last = item.received
        out.append((item.topic, item.payload))
    return out


@pytest.mark.datasets
@pytest.mark.parametrize("house", ["A", "B"])
def test_ordonez_houses(datasets: Path, tmp_path: Path, house: str) -> None:
    src = datasets / "ordonez" / f"Ordonez{house}_Sensors.txt"
    rows = len([ln for ln in src.read_text().splitlines()[2:] if ln.strip()])
    result = import_files("ordonez", [src])
    assert result.rows + len(result.rejects) == rows
    assert result.rejects == []
    out = tmp_path / "rec.jsonl.gz"
    assert write_import(result, out) == 2 * result.rows
    msgs = _check_recording(out)
    topics = Counter(t for t, _ in msgs)
    assert topics["zigbee2mqtt/a001/entrance/door"] > 0
    assert topics["zigbee2mqtt/a001/bedroom/bed_pad"] > 0
    # active then idle: every door opening is closed again, bed is left again
    door = [p["contact"] for t, p in msgs if t.endswith("/entrance/door")]
    assert door.count(False) == door.count(True)


@pytest.mark.datasets
def test_kasteren_house_b(datasets: Path, tmp_path: Path) -> None:
    folder = datasets / "vankasteren_b"
    out = tmp_path / "kasteren.jsonl"
    code = main(
        [
            "import",
            "kasteren",
            str(folder / "houseB-ss.txt"),
            str(folder / "sensorMapB-ids.txt"),
            "--out",
            str(out),
        ]
    )
    assert code == 0
    msgs = _check_recording(out)
    result = import_files("kasteren", [folder / "houseB-ss.txt"])
    assert len(msgs) == 2 * result.rows
    # ids that sensorMapB-ids.txt does not name are rejected with their line numbers
    assert result.rejects
    assert all("not in the sensor map" in why for _, why in result.rejects)
    assert all(where.startswith("houseB-ss.txt:") for where, _ in result.rejects)
    # reed switches "open" for hours are read as one short opening, and counted
    assert result.quirks["long reed interval read as one opening"] > 0
    opened = [t for t, p in msgs if p.get("contact") is False]
    assert opened


def test_rows_that_end_before_they_start_are_rejected() -> None:
    text = (
        "h1\r\nh2\r\n"
        "2011-11-28 10:21:24\t\t2011-11-28 10:21:31\t\tFridge\t\tMagnetic\tKitchen\r\n"
        "2011-11-28 11:00:00\t\t2011-11-28 10:00:00\t\tBed\t\tPressure\tBedroom\r\n"
        "2011-11-28 12:00:00\t\t2011-11-28 12:00:09\t\tLamp\t\tElectric\tLiving\r\n"
    )
    rows, rejects = parse_ordonez_text(text, "x.txt")
    result = to_messages(rows, "a001", rejects)
    assert result.rows == 1
    assert sorted(result.rejects) == [
        ("x.txt:4", "interval ends before it starts"),
        ("x.txt:5", "no mapping for Lamp Electric"),
    ]
    assert [m[2] for m in result.messages] == [{"contact": False}, {"contact": True}]


def test_casas_synthetic_sample(tmp_path: Path) -> None:
    sample = tmp_path / "data"
    sample.write_text(
        "2008-02-27 12:43:27.416392 M08 ON\n"
        "2008-02-27 12:43:29.000001 M08 OFF\n"
        "2008-02-27 12:44:01.1 D01 OPEN\n"
        "2008-02-27 12:44:09.5 D01 CLOSE\n"
        "2008-02-27 12:45:00.0 T01 21.5\n"
        "garbage line\n"
        "2008-02-27 12:46:00.000000 M09 ON Meal_Preparation begin\n",
        encoding="utf-8",
    )
    out = tmp_path / "casas.jsonl.gz"
    code = main(
        [
            "import",
            "casas",
            str(sample),
            "--out",
            str(out),
            "--room",
            "M08=kitchen",
            "--room",
            "D01=entrance",
        ]
    )
    assert code == 0
    msgs = _check_recording(out)
    assert msgs == [
        ("zigbee2mqtt/a001/kitchen/m08", {"occupancy": True}),
        ("zigbee2mqtt/a001/kitchen/m08", {"occupancy": False}),
        ("zigbee2mqtt/a001/entrance/d01", {"contact": False}),
        ("zigbee2mqtt/a001/entrance/d01", {"contact": True}),
        ("zigbee2mqtt/a001/other/m09", {"occupancy": True}),
    ]
    result = import_files("casas", [sample])
    assert result.rejects == [("data:6", "not 'date time sensor value'")]
    assert result.quirks["temperature rows skipped"] == 1
    first = next(iter(read_recording(out)))
    assert not isinstance(first, BadLine)
    assert first.received.isoformat() == "2008-02-27T12:43:27.416000+01:00"  # ms in recordings


@pytest.mark.datasets
@pytest.mark.parametrize("house", ["A", "B"])
def test_ordonez_labels_reject_rows_that_end_before_they_start(
    datasets: Path, tmp_path: Path, house: str
) -> None:
    adls = datasets / "ordonez" / f"Ordonez{house}_ADLs.txt"
    rows = [ln for ln in adls.read_text().splitlines()[2:] if ln.strip()]
    result = import_files("ordonez", [datasets / "ordonez" / f"Ordonez{house}_Sensors.txt", adls])
    label_rejects = result.label_rejects
    assert all(where.startswith(adls.name) for where, _ in label_rejects)
    assert len(result.labels) + len(label_rejects) == len(rows)
    assert all(why == "label ends before it starts" for _, why in label_rejects)
    assert all(lb.start <= lb.end for lb in result.labels)
    out = tmp_path / "labels.jsonl"
    code = main(
        [
            "import",
            "ordonez",
            str(datasets / "ordonez" / f"Ordonez{house}_Sensors.txt"),
            str(adls),
            "--out",
            str(tmp_path / "rec.jsonl"),
            "--labels-out",
            str(out),
        ]
    )
    assert code == 0
    written = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(written) == len(result.labels)
    assert {"apartment", "activity", "start", "end"} == set(written[0])


@pytest.mark.datasets
def test_ordonez_a_has_the_known_backwards_label_rows(datasets: Path) -> None:
    result = import_files("ordonez", [datasets / "ordonez" / "OrdonezA_ADLs.txt"])
    assert any(why == "label ends before it starts" for _, why in result.label_rejects)


@pytest.mark.datasets
def test_kasteren_labels_use_the_action_map(datasets: Path) -> None:
    folder = datasets / "vankasteren_b"
    result = import_files(
        "kasteren", [folder / "houseB-ss.txt", folder / "houseB-as.txt", folder / "actionMapB.txt"]
    )
    rows = [ln for ln in (folder / "houseB-as.txt").read_text().splitlines() if ln.strip()]
    assert len(result.labels) + len(result.label_rejects) == len(rows)
    names = {lb.activity for lb in result.labels}
    assert "leave-house" in names
    assert not any(n.startswith("activity-") for n in names)
