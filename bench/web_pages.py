"""The web console's pages on the demo year: `python -m bot demo`, then `python -m bot web serve`, as a clerk would.

Signs in with a one-time link from `python -m bot web link`, then asks for every page `--rounds` times and prints,
per page, the median and worst of the server's own time (the `Server-Timing` header: handler and rendering) and
of the whole request seen by the client (loopback HTTP included). The first round is reported apart: it fills
caches (the answer index is not involved; the overview's statistics and the content check are computed per view).

    python bench/web_pages.py                      # a fresh demo database in a temporary folder
    python bench/web_pages.py --db demo.sqlite3    # an existing one (made by `python -m bot demo`)
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parent.parent

ADMIN = "console:bench"
PAGES = (
    "/",
    "/?from=2026-01-01&to=2026-12-31",
    "/broadcasts",
    "/campaigns",
    "/ledger",
    "/exports",
    "/requests?all=1",
    "/questions",
    "/content",
    "/audit",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cli(env: dict[str, str], *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "bot", *args], env=env, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    return done.stdout


async def measure(url: str, link: str, rounds: int) -> None:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        token = link.split("token=")[1]
        async with session.post(f"{url}/signin", data={"token": token}, allow_redirects=False) as signed_in:
            assert signed_in.status == 303, await signed_in.text()
        print(f"{'page':<34} {'first ms':>9} {'server median':>14} {'server max':>11} {'client median':>14}")
        for path in PAGES:
            server: list[float] = []
            client: list[float] = []
            for _ in range(rounds + 1):
                started = time.perf_counter()
                async with session.get(f"{url}{path}") as response:
                    await response.read()
                    assert response.status == 200, (path, response.status)
                    timing = response.headers.get("Server-Timing", "")
                client.append((time.perf_counter() - started) * 1000)
                found = re.search(r"dur=([\d.]+)", timing)
                server.append(float(found.group(1)) if found else float("nan"))
            print(
                f"{path:<34} {server[0]:>9.1f} {statistics.median(server[1:]):>14.1f} {max(server[1:]):>11.1f}"
                f" {statistics.median(client[1:]):>14.1f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", type=Path, help="a database made by `python -m bot demo` (default: make one)")
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        db = args.db or Path(folder) / "demo.sqlite3"
        port = free_port()
        env = {
            **os.environ,
            "BOT_DB": str(db),
            "BOT_CONTENT_DIR": str(REPO / "content"),
            "BOT_ADMINS": ADMIN,
            "WEB_LISTEN": f"127.0.0.1:{port}",
            "WEB_BASE_URL": f"http://127.0.0.1:{port}",
        }
        if args.db is None:
            started = time.perf_counter()
            # demo refuses to write into BOT_DB (it protects the real database): point that elsewhere meanwhile
            cli({**env, "BOT_DB": str(Path(folder) / "unused.sqlite3")}, "demo", "--db", str(db))
            print(f"python -m bot demo: {time.perf_counter() - started:.1f} s")
        server = subprocess.Popen([sys.executable, "-m", "bot", "web", "serve"], env=env, cwd=REPO)
        try:
            url = f"http://127.0.0.1:{port}"
            asyncio.run(_until_serving(url))
            link = cli(env, "web", "link", "--admin", ADMIN).splitlines()[0]
            asyncio.run(measure(url, link, args.rounds))
        finally:
            server.terminate()
            server.wait(20)


async def _until_serving(url: str) -> None:
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(f"{url}/signin"):
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)
    raise SystemExit("web serve did not answer within 20 s")


if __name__ == "__main__":
    main()
