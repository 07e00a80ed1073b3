"""Inference API on the tiny configuration: outputs, sizes, many views, cancel, progress, OOM."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model import (
    Cancelled,
    IGGTConfig,
    InputSizeError,
    OutOfMemory,
    Prediction,
    PredictOptions,
    build_iggt,
)
from model.device import autocast_dtype, resolve_device
from model.errors import IGGTError
from model.geometry import pose_encoding_to_extri_intri, unproject_depth_map_to_point_map
from model.predict import predict


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return build_iggt(IGGTConfig.tiny())


def images(views: int, h: int = 56, w: int = 84, seed: int = 0) -> torch.Tensor:
    return torch.rand(views, 3, h, w, generator=torch.Generator().manual_seed(seed))


def test_forward_returns_the_official_dict(net) -> None:
    x = images(3)
    with torch.inference_mode():
        out = net(x)
        batched = net(torch.stack([x, images(3, seed=1)]))
    assert list(out) == ["pose_enc", "depth", "depth_conf", "world_points", "world_points_conf", "part_feat",
                         "images"]
    assert len(out["pose_enc"]) == 4 and all(p.shape == (1, 3, 9) for p in out["pose_enc"])
    assert out["depth"].shape == (1, 3, 56, 84, 1)
    assert out["depth_conf"].shape == out["world_points_conf"].shape == (1, 3, 56, 84)
    assert out["world_points"].shape == (1, 3, 56, 84, 3)
    assert out["part_feat"].shape == (1, 3, 8, 56, 84)
    assert torch.equal(out["images"][0], x)
    assert (out["depth"] > 0).all() and (out["depth_conf"] > 1).all() and (out["world_points_conf"] > 1).all()
    assert (out["pose_enc"][-1][..., 7:] >= 0).all()  # FoV through ReLU
    # batch entry 0 of a (B, S, ...) call equals the single-scene call
    for key in ("depth", "world_points", "part_feat"):
        torch.testing.assert_close(batched[key][0], out[key][0], rtol=1e-5, atol=1e-5)


def test_prediction_is_consistent(net) -> None:
    x = images(3)
    with torch.inference_mode():
        out = net(x)
    pred = predict(net, x, PredictOptions(device="cpu"))
    assert isinstance(pred, Prediction) and pred.num_views == 3 and pred.image_hw == (56, 84)
    for name, shape in {"extrinsic": (3, 3, 4), "intrinsic": (3, 3, 3), "depth": (3, 56, 84),
                        "depth_conf": (3, 56, 84), "world_points": (3, 56, 84, 3),
                        "world_points_conf": (3, 56, 84), "points_from_depth": (3, 56, 84, 3),
                        "features": (3, 56, 84, 8), "pose_enc": (3, 9)}.items():
        value = getattr(pred, name)
        assert value.shape == shape and value.dtype == np.float32, name
    np.testing.assert_allclose(pred.pose_enc, out["pose_enc"][-1][0].numpy(), rtol=1e-5, atol=1e-6)
    ext, intr = pose_encoding_to_extri_intri(pred.pose_enc, (56, 84))
    np.testing.assert_allclose(pred.extrinsic, ext, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(pred.intrinsic, intr, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(pred.depth, out["depth"][0, ..., 0].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pred.features, out["part_feat"][0].permute(0, 2, 3, 1).numpy(), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(pred.points_from_depth,
                               unproject_depth_map_to_point_map(pred.depth, pred.extrinsic, pred.intrinsic),
                               rtol=1e-5, atol=1e-5)
    norms = np.linalg.norm(pred.normalized_features(), axis=-1)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)


def test_uint8_and_float_inputs_agree(net) -> None:
    raw = np.random.default_rng(0).integers(0, 256, (2, 56, 56, 3), dtype=np.uint8)
    as_float = torch.from_numpy(raw).permute(0, 3, 1, 2).float() / 255.0
    a = predict(net, raw)
    b = predict(net, as_float.numpy())
    np.testing.assert_allclose(a.depth, b.depth, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize(("h", "w"), [(56, 70), (50, 56), (14, 28), (0, 28)])
def test_sizes_not_multiple_of_28_are_rejected_up_front(net, h, w, monkeypatch) -> None:
    def never(*args, **kwargs):
        raise AssertionError("the network must not run")

    monkeypatch.setattr(net.aggregator, "forward", never)
    with pytest.raises(InputSizeError, match="multiples of 28"):
        predict(net, torch.rand(2, 3, h, w))
    with pytest.raises(InputSizeError, match="multiples of 28"):
        net(torch.rand(2, 3, h, w))


def test_other_bad_inputs(net) -> None:
    with pytest.raises(InputSizeError, match=r"\(S, 3, H, W\)"):
        predict(net, torch.rand(2, 4, 56, 56))
    with pytest.raises(InputSizeError, match="zero views"):
        predict(net, torch.rand(0, 3, 56, 56))
    with pytest.raises(InputSizeError, match="one scene at a time"):
        predict(net, torch.rand(2, 2, 3, 56, 56))
    with pytest.raises(IGGTError, match="float"):
        net(torch.zeros(2, 3, 56, 56, dtype=torch.int32))
    with pytest.raises(IGGTError, match="numpy array or torch tensor"):
        predict(net, [[0.0]])  # type: ignore[arg-type]
    with pytest.raises(IGGTError, match="query_points"):
        net(torch.rand(2, 3, 56, 56), torch.zeros(1, 5, 2))


def test_sixteen_views_and_frame_chunks(net) -> None:
    """More views than the official heads allow (12), in chunks; chunking does not change results."""
    x = images(16, 56, 56)
    seen = []
    hook = net.depth_head.register_forward_hook(lambda m, args, out: seen.append(out[0].shape[0]))
    try:
        whole = predict(net, x, PredictOptions(frame_chunk=16))
        chunked = predict(net, x, PredictOptions(frame_chunk=3))
    finally:
        hook.remove()
    assert seen == [16, 3, 3, 3, 3, 3, 1]
    assert whole.depth.shape == (16, 56, 56)
    for name in ("depth", "world_points", "features", "extrinsic"):
        np.testing.assert_allclose(getattr(chunked, name), getattr(whole, name), rtol=1e-4, atol=1e-5)


def test_progress_reports_every_stage_in_order(net) -> None:
    events: list[tuple[str, float]] = []
    predict(net, images(4), PredictOptions(progress=lambda stage, f: events.append((stage, f))))
    stages = list(dict.fromkeys(s for s, _ in events))
    assert stages[0] == "preparing" and stages[-1] == "done"
    assert {"patch embedding", "aggregator", "heads"} <= set(stages)
    for stage in stages:
        fractions = [f for s, f in events if s == stage]
        assert fractions == sorted(fractions) and all(0.0 <= f <= 1.0 for f in fractions)
    assert ("aggregator", 1.0) in events and ("heads", 1.0) in events


def test_cancel_stops_between_blocks(net) -> None:
    blocks_run = []
    hook = net.aggregator.global_blocks[0].register_forward_hook(lambda *a: blocks_run.append(1))
    later = net.aggregator.global_blocks[2].register_forward_hook(lambda *a: blocks_run.append(3))
    calls = {"n": 0}

    def cancel() -> bool:
        calls["n"] += 1
        return bool(blocks_run)  # ask to stop as soon as the first global block ran

    try:
        with pytest.raises(Cancelled):
            predict(net, images(2), PredictOptions(cancel=cancel))
    finally:
        hook.remove()
        later.remove()
    assert blocks_run == [1], "inference went on after the cancel request"
    assert calls["n"] > 1


def test_cancel_during_heads(net) -> None:
    ran = []
    hook = net.part_head.register_forward_hook(lambda *a: ran.append(1))
    try:
        with pytest.raises(Cancelled):
            predict(net, images(4), PredictOptions(frame_chunk=1, cancel=lambda: bool(ran)))
    finally:
        hook.remove()
    assert ran == [1]


def test_cancel_inside_a_head(net) -> None:
    """Checks also run inside the heads (a frame's part head takes seconds at full size on a CPU)."""
    stage = []
    hooks = [
        net.part_head.window_cross_attention.register_forward_hook(lambda *a: stage.append("cross")),
        net.part_head.window_self_atten.register_forward_hook(lambda *a: stage.append("self")),
    ]
    try:
        with pytest.raises(Cancelled):
            predict(net, images(2), PredictOptions(frame_chunk=2, cancel=lambda: "cross" in stage))
    finally:
        for hook in hooks:
            hook.remove()
    assert stage == ["cross"]


def test_cuda_out_of_memory_becomes_a_clear_error(net, monkeypatch) -> None:
    def boom(*args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", boom)
    with pytest.raises(OutOfMemory) as info:
        predict(net, images(5))
    text = str(info.value)
    assert "5 view(s) at 84x56" in text and "fewer views" in text and "smaller image size" in text
    assert info.value.__cause__ is None  # no raw traceback chained for the user


def test_other_errors_are_not_disguised_as_oom(net, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise RuntimeError("something else")

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", broken)
    with pytest.raises(RuntimeError, match="something else"):
        predict(net, images(2))


def test_precision_choice(monkeypatch) -> None:
    cpu, cuda = torch.device("cpu"), torch.device("cuda")
    assert autocast_dtype(cpu) is None
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: (8, 0))
    assert autocast_dtype(cuda) == torch.bfloat16
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda *a, **k: (7, 5))
    assert autocast_dtype(cuda) == torch.float16
    assert autocast_dtype(cuda, torch.float32) is None
    assert autocast_dtype(cuda, torch.float16) == torch.float16


def test_device_choice(monkeypatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(IGGTError, match="no CUDA GPU"):
        resolve_device("cuda")
    with pytest.raises(IGGTError, match="Unknown device"):
        resolve_device("tpu9")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device(None) == torch.device("cuda")


def test_training_step_reaches_every_parameter() -> None:
    torch.manual_seed(0)
    model = build_iggt(IGGTConfig.tiny()).train()
    out = model(images(2))
    loss = (sum(p.square().mean() for p in out["pose_enc"]) + out["depth"].mean() + out["depth_conf"].mean()
            + out["world_points"].square().mean() + out["world_points_conf"].mean()
            + out["part_feat"].square().mean())
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, missing[:5]


def test_tiny_size_budget() -> None:
    n = sum(p.numel() for p in build_iggt(IGGTConfig.tiny(), device="meta").parameters())
    assert 2e6 < n < 8e6


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_runs_aggregator_in_reduced_precision_and_heads_in_float32(net) -> None:
    seen = {}
    hooks = [
        net.aggregator.frame_blocks[0].attn.qkv.register_forward_hook(
            lambda m, a, o: seen.__setitem__("aggregator", o.dtype)),
        net.depth_head.projects[0].register_forward_hook(lambda m, a, o: seen.__setitem__("head", o.dtype)),
    ]
    try:
        pred = predict(net, images(3), PredictOptions(device="cuda"))
    finally:
        for h in hooks:
            h.remove()
        net.to("cpu")
    assert seen["aggregator"] in (torch.bfloat16, torch.float16) and seen["head"] == torch.float32
    reference = predict(net, images(3), PredictOptions(device="cpu"))
    np.testing.assert_allclose(pred.depth, reference.depth, rtol=0.05, atol=0.05)
