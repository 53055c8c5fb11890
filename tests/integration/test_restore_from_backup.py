"""A disk lost, and the data directory restored from a backup taken as docs/operations.md (section 11) says.

The backup's stream is older than the read models that outlived it (or than a PostgreSQL backup taken after
it): the projector refuses a stream that ends before what it processed, /healthz says stream_gap, and the
runbook's answer is `levee rebuild read_models`. That command could not find the servers: running.json was
written only once /healthz said 200, which this system never does (found by a review of backups and restores).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import asyncpg

from services.embedded.ports import free_port
from tests.integration.test_front_door import LEVEE, Launcher, clean_env, servers
from tests.support.waiting import wait_until_async

COMPLAINT = {
    "channel": "web",
    "description": "Street flooded knee-deep outside the school gate, cars stuck",
    "category": "flooding",
    "location": {"lat": 22.52, "lon": 113.93, "address": "12 Shore Road"},
    "people_affected": 30,
}


def post_complaint(port: int) -> str:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/complaints", data=json.dumps(COMPLAINT).encode(),
        headers={"Content-Type": "application/json"}, method="POST",
    )  # fmt: skip
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 201
        return str(json.loads(response.read())["tracking_code"])


def health(port: int) -> tuple[int, dict[str, Any]] | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())
    except OSError:
        return None


def status_of(port: int, code: str) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/status/{code}", timeout=5) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code


async def projected(postgres: str) -> int:
    conn = await asyncpg.connect(postgres)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM levee_read.complaints"))
    finally:
        await conn.close()


async def run_until_projected(data_dir: Path, complaints: int, expected: int) -> list[str]:
    """`levee up`, `complaints` new complaints, stopped once the read models hold `expected`."""
    launcher = Launcher(free_port(), data_dir)
    try:
        launcher.ready()
        codes = [post_complaint(launcher.port) for _ in range(complaints)]

        async def caught_up() -> bool:
            return await projected(servers(data_dir)[1]) == expected

        await wait_until_async(caught_up, f"{expected} complaints in the read models", bound=60)
    finally:
        assert launcher.interrupt() == 0, launcher.output
    return codes


async def test_a_stream_restored_from_an_older_backup_is_mended_by_the_runbooks_rebuild(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "levee-data"
    before_backup = await run_until_projected(data_dir, complaints=3, expected=3)
    backup = tmp_path / "backup"
    shutil.copytree(data_dir / "nats", backup / "nats")  # section 11: stopped, the stream's store copied
    after_backup = await run_until_projected(data_dir, complaints=2, expected=5)

    shutil.rmtree(data_dir / "nats")  # the disk is lost; the read models (elsewhere) outlived it
    shutil.copytree(backup / "nats", data_dir / "nats")
    launcher = Launcher(free_port(), data_dir)
    try:
        gap = launcher.wait_for(
            "/healthz stream_gap", lambda: h if (h := health(launcher.port)) and h[0] == 500 else None
        )
        assert gap[1]["code"] == "stream_gap" and "levee rebuild read_models" in gap[1]["detail"]
        env = clean_env() | {"LEVEE_DATA_DIR": str(data_dir)}  # nothing else: the servers are found by itself
        rebuilt = subprocess.run(
            [str(LEVEE), "rebuild", "read_models"], env=env, capture_output=True, timeout=120
        )
        assert rebuilt.returncode == 0, rebuilt.stderr.decode(errors="replace")[-3000:]
        assert launcher.wait_for("/healthz 200", launcher.healthz)[1]["status"] == "ok"
        assert [status_of(launcher.port, code) for code in before_backup] == [200] * 3
        assert [status_of(launcher.port, code) for code in after_backup] == [404] * 2  # lost with the disk
    finally:
        assert launcher.interrupt() == 0, launcher.output
