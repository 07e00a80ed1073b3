"""The CUDA path (issue #22), checked here on the CPU: CUDA-only code paths through small seams (an
injected out-of-memory error, torch's CUDA queries answered for a given GPU, an injected synchronise).
bench/gpu_check.py proves the same on a real GPU."""

from __future__ import annotations

import weakref

import numpy as np
import pytest
import torch
from torch import nn

from app.cli import main
from app.errors import UserError
from app.inference import check_weights_fit, free_memory_bytes
from model import IGGTConfig, OutOfMemory, PredictOptions, build_iggt
from model.device import autocast_dtype, cuda_reduced_dtype
from model.forward_watch import ForwardWatch, device_sync
from model.iggt import GPU_FRAME_CHUNK, auto_frame_chunk, trims_memory
from model.predict import predict


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return build_iggt(IGGTConfig.tiny()).eval()


def images(n: int, h: int = 56, w: int = 84) -> torch.Tensor:
    return torch.rand(n, 3, h, w, generator=torch.Generator().manual_seed(n))


# ---- 1. memory held after an out-of-memory error
class _OomNet(nn.Module):
    """Allocates a large activation, then runs out of memory (as a forward that hits the GPU's limit)."""

    def __init__(self) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(1))
        self.kept: weakref.ref | None = None

    def forward(self, batch, frame_chunk=None):
        activation = torch.ones(64, 1024, 1024)  # 256 MB a failed forward would keep alive
        self.kept = weakref.ref(activation)
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")


def test_an_oom_error_keeps_nothing_of_the_failed_forward() -> None:
    oom = _OomNet()
    with pytest.raises(OutOfMemory) as info:
        predict(oom, images(3), PredictOptions(device="cpu"))
    # while the caller still holds the error (as the GUI does to show it), the activation is gone
    assert info.value.__context__ is None and info.value.__cause__ is None
    assert oom.kept is not None and oom.kept() is None
    assert "3 view(s) at 84x56" in str(info.value)


# ---- 2. out of memory while loading the weights
def test_oom_while_loading_weights_says_what_to_do(monkeypatch, tmp_path, capsys) -> None:
    import app.inference
    import model

    monkeypatch.setattr(app.inference, "_CACHE", {})  # no network loaded by an earlier test

    def load_oom(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 1.00 GiB")

    monkeypatch.setattr(model, "load_iggt", load_oom)
    out = tmp_path / "x.iggt"
    photos = tmp_path / "photos"
    photos.mkdir()
    from PIL import Image

    for i in range(2):
        Image.fromarray(np.full((84, 112, 3), 40 * i, np.uint8)).save(photos / f"{i}.png")
    assert main(["reconstruct", str(photos), "-o", str(out), "--device", "cpu", "-q"]) == 1
    err = capsys.readouterr().err
    assert "ran out of memory loading the weights" in err and "internal error" not in err
    assert not out.exists()


def test_weights_that_cannot_fit_the_gpu_are_refused_before_loading() -> None:
    check_weights_fit(5_000_000_000, 8_000_000_000, "cuda")  # fits
    check_weights_fit(5_000_000_000, 1_000_000_000, "cpu")  # the CPU maps .pt files: not checked
    with pytest.raises(UserError, match=r"the weights \(5.0 GB\) do not fit the 4.0 GB .* --dtype bfloat16"):
        check_weights_fit(5_000_000_000, 4_000_000_000, "cuda:1")


# ---- 3. the view cap must not shrink after every run
def test_memory_cached_by_pytorch_counts_as_free(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda device=None: (2_000_000_000, 80_000_000_000))
    monkeypatch.setattr(torch.cuda, "memory_reserved", lambda device=None: 30_000_000_000)
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: 6_000_000_000)
    assert free_memory_bytes("cuda:0") == 2_000_000_000 + 24_000_000_000


# ---- 4. bf16 only where the GPU runs it natively
CAPABILITIES = [((7, 5), torch.float16), ((6, 1), torch.float16), ((8, 0), torch.bfloat16),
                ((9, 0), torch.bfloat16)]


@pytest.mark.parametrize(("capability", "expected"), CAPABILITIES)
def test_bf16_from_compute_capability_8(monkeypatch, capability, expected) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # True even on a T4
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: capability)
    assert cuda_reduced_dtype(0) == expected
    assert autocast_dtype(torch.device("cuda")) == expected


# ---- 5. --dtype and --device cuda:N
def test_cli_takes_dtype_and_a_cuda_index(tmp_path, capsys) -> None:
    out = tmp_path / "x.iggt"
    code = main(["reconstruct", str(tmp_path), "-o", str(out), "--device", "cuda:1", "--dtype", "bfloat16"])
    err = capsys.readouterr().err
    if torch.cuda.device_count() < 2:
        assert code == 1 and ("no CUDA GPU" in err or "no CUDA device 1" in err)
    assert "invalid" not in err and not out.exists()


# ---- 6. the heads' chunk by device, same outputs
def test_heads_chunk_by_device_and_trim_only_on_the_cpu(net) -> None:
    assert auto_frame_chunk(336, 504, "cuda") == auto_frame_chunk(56, 84, "cuda:0") == GPU_FRAME_CHUNK == 8
    assert auto_frame_chunk(336, 504, "cpu") == 1
    assert trims_memory(torch.device("cpu")) and not trims_memory(torch.device("cuda"))
    x = images(9)
    one = predict(net, x, PredictOptions(device="cpu", frame_chunk=1))
    eight = predict(net, x, PredictOptions(device="cpu", frame_chunk=8))
    for name in ("depth", "depth_conf", "world_points", "features", "extrinsic"):
        np.testing.assert_allclose(getattr(one, name), getattr(eight, name), rtol=1e-4, atol=1e-4)


# ---- 7. progress means work done: synchronise before reporting
def test_progress_is_reported_after_synchronising(net) -> None:
    log: list[str] = []
    watch = ForwardWatch(net, lambda stage, f: log.append(f"progress {stage}"), head_chunks=2,
                         sync=lambda: log.append("sync"), min_interval_s=0.0)  # fmt: skip
    with watch, torch.inference_mode():
        net(images(2), frame_chunk=1)
    reports = [i for i, entry in enumerate(log) if entry.startswith("progress")]
    assert len(reports) >= 6 and {"progress aggregator", "progress heads"} <= set(log)
    assert all(log[i - 1] == "sync" for i in reports)
    assert device_sync(torch.device("cpu")) is None and device_sync(torch.device("cuda")) is not None
    # the hooks are gone after the forward: the network is pure again
    log.clear()
    with torch.inference_mode():
        net(images(2))
    assert log == []
