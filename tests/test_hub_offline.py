"""Issue 14: a hub id that is not in the local cache is refused at once, without any network request
(the hub-protocol server on 127.0.0.1 that HF_ENDPOINT points at must see nothing)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from hub_server import HubServer, Repo

ROOT = Path(__file__).resolve().parent.parent
PHOTOS = ROOT / "resources" / "photos" / "room_png_3"


@pytest.mark.parametrize("command", ["reconstruct", "info"])
def test_uncached_hub_id_fails_fast_without_network(tmp_path, command):
    out = tmp_path / "scene.iggt"
    args = {"reconstruct": ["reconstruct", str(PHOTOS), "-o", str(out), "--weights", "lifuguan/IGGT_official",
                            "-q"],
            "info": ["info", "lifuguan/IGGT_official"]}[command]
    with HubServer() as server:
        server.state.repos["lifuguan/IGGT_official"] = Repo({"model.safetensors": b"x" * 1000})
        env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
        env.update(HF_ENDPOINT=server.url, HF_HUB_CACHE=str(tmp_path / "empty-cache"), PYTHONPATH=str(ROOT),
                   HF_HOME=str(tmp_path / "hf-home"))
        done = subprocess.run([sys.executable, "-m", "app.cli", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert "not in the local hub cache" in done.stderr and "iggt models get iggt-official" in done.stderr
    assert "Traceback" not in done.stderr
    assert server.state.requests == []  # not one request, not even huggingface_hub's telemetry
    assert not out.exists()
    assert not (tmp_path / "empty-cache").exists()
