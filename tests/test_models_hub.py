"""Downloading models from a real hub-protocol server on 127.0.0.1 (tests/hub_server.py): progress, cancel
and resume, checksum and validation refusals, server/network errors, a full disk, and the CLI."""

from __future__ import annotations

import hashlib
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from hub_server import OFFICIAL, ROOT, TINY_IGGT, serving_test_hub

from app import models_hub
from app.cli import main
from app.errors import UserError
from app.progress import Cancelled


@pytest.fixture
def hub(tmp_path, monkeypatch):
    with serving_test_hub(tmp_path / "hub-cache", monkeypatch) as server:
        yield server


def _cdn_requests(server) -> list[str]:
    return [p for m, p in server.state.requests if p.startswith("/cdn/")]


def test_catalog_follows_open_clip_resolution():
    import open_clip

    for model in models_hub.CATALOG:
        if model.kind != "clip":
            continue
        hub = open_clip.get_pretrained_cfg(model.clip_name, model.clip_tag)["hf_hub"]
        repo, filename = os.path.split(hub)
        assert repo == model.repo_id and filename in ("", *models_hub.OPEN_CLIP_FILES)


def test_download_with_progress_into_the_standard_cache(hub):
    events = []
    assert models_hub.state(models_hub.find("iggt-official")).state == models_hub.ABSENT
    state = models_hub.get("iggt-official", progress=events.append)
    assert state.state == models_hub.IN_CACHE and state.setting == OFFICIAL
    downloads = [e for e in events if e.stage == "download"]
    assert downloads[-1].done == downloads[-1].total == len(TINY_IGGT) + len(b'{"note": "t"}')
    assert [e.done for e in downloads] == sorted(e.done for e in downloads)
    assert {"verify", "validate"} <= {e.stage for e in events}
    # the standard layout: huggingface_hub itself finds the files offline, and the app loads the hub id
    from huggingface_hub import snapshot_download

    folder = Path(snapshot_download(OFFICIAL, local_files_only=True, cache_dir=hub.cache))
    assert hashlib.sha256((folder / "model.safetensors").read_bytes()).digest() == \
        hashlib.sha256(TINY_IGGT).digest()
    from model import load_iggt

    assert load_iggt(OFFICIAL).config.name == "tiny"
    # a second get asks nothing of the hub
    before = len(hub.state.requests)
    models_hub.get("iggt-official")
    assert hub.state.requests[before:] == []


def test_cancel_midway_then_resume_without_restarting(hub):
    hub.state.throttle = 0.002  # 64 KB every 2 ms: about 1 s for the file
    seen = []

    def cancel() -> bool:
        return bool(seen) and seen[-1].done > 4_000_000

    with pytest.raises(Cancelled):
        models_hub.get("iggt-official", progress=seen.append, cancel=cancel)
    blobs = hub.cache / "models--lifuguan--IGGT_official" / "blobs"
    partial = next(blobs.glob("*.incomplete"))
    kept = partial.stat().st_size
    assert 3_000_000 < kept < len(TINY_IGGT)
    assert models_hub.state(models_hub.find("iggt-official")).state == models_hub.ABSENT
    hub.state.throttle = 0
    models_hub.get("iggt-official")
    first, second = hub.state.transfers
    assert first[1] is None and second[1] == f"bytes={kept}-"  # the second asked only for the rest
    assert second[2] == len(TINY_IGGT) - kept  # ... and got exactly that
    assert not list(blobs.glob("*.incomplete"))
    assert models_hub.state(models_hub.find("iggt-official")).state == models_hub.IN_CACHE


def test_corrupted_download_is_refused_and_deleted(hub):
    hub.state.corrupt = {"model.safetensors"}
    with pytest.raises(UserError, match=r"damaged.*checksum mismatch"):
        models_hub.get("iggt-official")
    storage = hub.cache / "models--lifuguan--IGGT_official"
    sha = hashlib.sha256(TINY_IGGT).hexdigest()
    assert not any(p.name.startswith(sha) for p in (storage / "blobs").iterdir())
    assert not (storage / "snapshots").exists()
    assert models_hub.state(models_hub.find("iggt-official")).state == models_hub.ABSENT


def test_file_that_does_not_load_is_taken_out_of_the_cache(hub):
    with pytest.raises(UserError, match=r"does not load.*removed from the cache"):
        models_hub.get("clip:ViT-B-16:laion2b_s34b_b88k")
    assert models_hub.cached_files(models_hub.find("clip:ViT-B-16:laion2b_s34b_b88k")) == []
    assert not list((hub.cache / "models--laion--CLIP-ViT-B-16-laion2B-s34B-b88K" / "blobs").iterdir())


@pytest.mark.parametrize("case", ["server error", "no network", "offline"])
def test_errors_are_one_line(hub, monkeypatch, capsys, case):
    if case == "server error":
        hub.state.fail_status = 500
        expected = "answered HTTP 500"
    elif case == "no network":
        monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: connection refused
        expected = "unreachable (no network?)"
    else:
        monkeypatch.setenv("HF_HUB_OFFLINE", "1")
        expected = "HF_HUB_OFFLINE is set"
    assert main(["models", "get", "iggt-official", "-q"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and expected in err and "Traceback" not in err
    if case == "offline":
        assert hub.state.requests == []
    assert not (hub.cache / "models--lifuguan--IGGT_official" / "snapshots").exists()


def test_not_enough_disk_space_is_refused_before_any_byte(hub):
    from app.hub_download import free_bytes

    hub.state.declared_size = {"model.safetensors": free_bytes(hub.cache.parent) + 10**9}
    with pytest.raises(UserError, match="not enough disk space"):
        models_hub.get("iggt-official")
    assert _cdn_requests(hub) == []
    assert not list((hub.cache).rglob("*.incomplete"))


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (5_000_000, 5_000_000))


def test_disk_full_midway_leaves_no_partial_model(hub):
    """The file system refuses writes past 5 MB (RLIMIT_FSIZE, as a full disk would with ENOSPC)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "app.cli", "models", "get", "iggt-official", "-q"],
                          cwd=ROOT, env=env, capture_output=True, text=True, preexec_fn=_limit_file_size,
                          timeout=300)
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1 and "is full" in done.stderr
    storage = hub.cache / "models--lifuguan--IGGT_official"
    assert not list(storage.rglob("*.incomplete"))
    assert not list(storage.rglob("model.safetensors"))
    assert hub.state.served.get("model.safetensors", 0) > 0  # it did fail midway


def test_cli_list_and_get(hub, capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "iggt-official" in out and "not present" in out and str(hub.cache) in out
    assert main(["models", "get", "iggt-official"]) == 0
    captured = capsys.readouterr()
    assert "use it with: --weights lifuguan/IGGT_official" in captured.out
    assert "21.1 MB / 21.1 MB" in captured.err  # the progress lines (no terminal: plain lines)
    assert main(["models", "list", "--json"]) == 0
    import json

    listed = {m["key"]: m for m in json.loads(capsys.readouterr().out)["models"]}
    official = listed["iggt-official"]
    assert official["state"] == "in cache" and official["size"] == len(TINY_IGGT)
