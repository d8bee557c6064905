"""How fast the team's page answers, on the store of a simulated flat.

    python benchmarks/bench_serve.py [--apartments 30] [--days 21] [--state-dir D]

Simulates the flat as ``make demo`` does (seeded) and replays it into a store, or uses
the store in ``--state-dir``; adds an account; starts ``thuisplus serve`` as its own
process (plain HTTP on loopback: the figures are the page's, not TLS's); then times a
login (scrypt), the register, a signal's page, an action (discuss), and the live agenda
of the last simulated week; last, the server's peak resident memory (VmHWM).
"""

from __future__ import annotations

import argparse
import http.client
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port  # noqa: E402

PASSWORD = "een lang genoeg wachtwoord"  # noqa: S105  (a made-up account of the benchmark)


def thuisplus(*args: str, stdin: str | None = None) -> None:
    done = subprocess.run([sys.executable, "-m", "edge.cli", *args], input=stdin, text=True,
                          capture_output=True, check=False, cwd=ROOT)  # fmt: skip
    if done.returncode != 0:
        sys.exit(f"thuisplus {args[0]} failed: {done.stderr[-2000:]}")


class Page:
    def __init__(self, port: int) -> None:
        self.port = port
        self.cookie = ""

    def get(self, path: str, form: dict[str, str] | None = None) -> tuple[int, str, float]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        headers = {"Cookie": self.cookie} if self.cookie else {}
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        conn.request("POST" if form is not None else "GET", path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read().decode()
        took = time.perf_counter() - started
        cookie = response.getheader("set-cookie")
        if cookie:
            self.cookie = cookie.split(";")[0]
        conn.close()
        return response.status, text, took

    def median_ms(self, path: str, n: int) -> tuple[float, str]:
        times, text = [], ""
        for _ in range(n):
            status, text, took = self.get(path)
            assert status == 200, (path, status)
            times.append(took)
        return statistics.median(times) * 1000, text


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--apartments", type=int, default=30)
    parser.add_argument("--days", type=int, default=21)
    parser.add_argument("--state-dir", type=Path, help="use this store instead")
    parser.add_argument("--week", help="the agenda's week (default: the last simulated one)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    state, config = args.state_dir, []
    if state is None:
        sim, state = work / "sim", work / "state"
        thuisplus("simulate", "--apartments", str(args.apartments), "--days", str(args.days),
                  "--seed", "5", "--episode-scale", "6", "--out", str(sim))  # fmt: skip
        config = ["--config", str(sim / "flat.yaml")]
        thuisplus("replay", str(sim / "recording.jsonl.gz"), *config, "--state-dir", str(state),
                  "--quiet", "--no-progress")  # fmt: skip
    name = f"bench-{int(time.time())}"
    thuisplus("users", "--state-dir", str(state), "add", name, "--role", "lead",
              "--password-stdin", stdin=PASSWORD + "\n")  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "serve", *config, "--state-dir", str(state),
         "--allow-http", "--host", "127.0.0.1", "--port", str(port)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        page = Page(port)
        for _ in range(100):
            try:
                status, login, _ = page.get("/login")
                break
            except OSError:
                time.sleep(0.2)
        status, _, took = page.get("/login", {"csrf": csrf(login), "name": name,
                                              "password": PASSWORD})  # fmt: skip
        assert status == 303, status
        print(f"login (scrypt N=2^15 r=8 p=2):  {took * 1000:7.0f} ms")
        ms, register = page.median_ms("/", 10)
        print(f"register page (median of 10):  {ms:7.1f} ms, {len(register) // 1024} KiB")
        ident = re.findall(r'/signal/([0-9a-z]+)"', register)[-1]
        ms, signal = page.median_ms(f"/signal/{ident}", 10)
        print(f"a signal's page (median of 10): {ms:6.1f} ms")
        status, _, took = page.get(f"/signal/{ident}/discuss",
                                   {"csrf": csrf(signal), "notes": "gemeten"})  # fmt: skip
        assert status == 303, status
        print(f"an action (discuss):           {took * 1000:7.1f} ms")
        week = args.week or "{}-W{:02d}".format(
            *(date(2026, 1, 5) + timedelta(days=args.days - 7)).isocalendar()[:2]
        )
        ms, agenda = page.median_ms(f"/agenda?week={week}", 3)
        print(f"live agenda {week} (median of 3): {ms:5.0f} ms, {len(agenda) // 1024} KiB")
        for line in Path(f"/proc/{server.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                print(f"server peak RSS (VmHWM):       {int(line.split()[1]) / 1024:7.0f} MB")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
