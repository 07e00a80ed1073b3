"""Numerical parity with the official IGGT (tests/reference, recipe weights), every output and checkpoint.

The full-size network (lean variant: the keys the forward reads) is built once per session with the
deterministic recipe weights; each reference case is run through it and compared with the
tolerances stated in tests/reference/README.md (numpy.allclose: |a - b| <= atol + rtol * |b|).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import REFERENCE
from recipe import build_recipe_iggt

from model.geometry import pose_encoding_to_extri_intri, unproject_depth_map_to_point_map

pytestmark = pytest.mark.slow

CASES = ("two_views", "three_views")
# key -> (atol, rtol), from the reference README
TOLERANCES = {
    "pose_enc": (1e-4, 1e-4),
    "pose_enc_last": (1e-4, 1e-4),
    "depth": (1e-4, 1e-4),
    "depth_conf": (1e-4, 1e-4),
    "world_points": (2e-4, 2e-4),
    "world_points_conf": (2e-4, 1e-4),
    "part_feat": (1e-4, 1e-4),
    "extrinsic": (1e-4, 1e-4),
    "intrinsic": (1e-3, 1e-4),
}
DEBUG_TOL = (1e-4, 1e-4)


def assert_close(name: str, actual, expected, atol: float, rtol: float) -> None:
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"{name}: shape {actual.shape} != reference {expected.shape}"
    assert np.isfinite(actual).all(), f"{name}: non-finite values"
    bad = np.abs(actual - expected) > atol + rtol * np.abs(expected)
    assert not bad.any(), (
        f"{name}: {int(bad.sum())} of {bad.size} elements outside atol={atol}, rtol={rtol}; "
        f"max abs error {np.abs(actual - expected).max():.3e}"
    )


@pytest.fixture(scope="module")
def network():
    if not (REFERENCE / "iggt_state_dict_manifest.json").exists():
        pytest.fail(f"reference data missing at {REFERENCE}")
    threads = torch.get_num_threads()
    torch.set_num_threads(min(2, threads))
    net = build_recipe_iggt()
    captured: dict[str, list] = {}

    def keep(name):  # the heads run per frame chunk: collect every call
        return lambda module, args, output: captured.setdefault(name, []).append(output)

    hooks = [
        net.aggregator.patch_embed.register_forward_hook(keep("patch_tokens")),
        net.aggregator.register_forward_hook(keep("layers")),
        net.point_head.register_forward_hook(keep("point_head")),
        net.part_adaptor.register_forward_hook(keep("part_adaptor")),
    ]
    yield net, captured
    for hook in hooks:
        hook.remove()
    torch.set_num_threads(threads)


@pytest.fixture(scope="module", params=CASES)
def case(request, network):
    net, captured = network
    ref = dict(np.load(REFERENCE / f"iggt_{request.param}.npz"))
    captured.clear()
    with torch.inference_mode():
        out = net(torch.from_numpy(ref["images"]))
    return ref, out, dict(captured)


def test_outputs_match_reference(case) -> None:
    ref, out, _ = case
    assert sorted(out) == sorted(json.loads(str(ref["meta_json"]))["official_output_keys"])
    h, w = ref["images"].shape[-2:]
    pose_enc = torch.stack(out["pose_enc"])
    extrinsic, intrinsic = pose_encoding_to_extri_intri(out["pose_enc"][-1], (h, w))
    actual = {
        "pose_enc": pose_enc,
        "pose_enc_last": out["pose_enc"][-1],
        "depth": out["depth"],
        "depth_conf": out["depth_conf"],
        "world_points": out["world_points"],
        "world_points_conf": out["world_points_conf"],
        "part_feat": out["part_feat"],
        "extrinsic": extrinsic,
        "intrinsic": intrinsic,
    }
    for key, (atol, rtol) in TOLERANCES.items():
        assert_close(key, actual[key], ref[key], atol, rtol)
    np.testing.assert_array_equal(out["images"][0].numpy(), ref["images"])


def test_debug_checkpoints_match_reference(case) -> None:
    ref, _, captured = case
    (patch_tokens,), (layers,) = captured["patch_tokens"], captured["layers"]
    assert_close("dbg_patch_embed_tokens", patch_tokens[..., :64], ref["dbg_patch_embed_tokens"], *DEBUG_TOL)
    channels = torch.from_numpy(ref["dbg_agg_channel_index"])
    for layer in (4, 11, 17, 23):
        key = f"dbg_agg_tokens_L{layer:02d}"
        assert_close(key, layers[layer][..., channels], ref[key], *DEBUG_TOL)
    assert_close("dbg_camera_tokens_L23", layers[23][:, :, 0], ref["dbg_camera_tokens_L23"], *DEBUG_TOL)
    for i, name in enumerate(("out2", "out3", "out4")):
        key = f"dbg_point_feat_{name}"
        feats = torch.cat([call[2][i] for call in captured["point_head"]])
        assert_close(key, feats[:, :16], ref[key], *DEBUG_TOL)
    for i in range(4):
        key = f"dbg_part_adaptor_res{i + 1}"
        maps = torch.cat([call[i] for call in captured["part_adaptor"]])
        assert_close(key, maps[:, :16], ref[key], *DEBUG_TOL)


def test_points_from_depth_are_consistent(case) -> None:
    """Unprojecting the reference depth with the reference cameras reproduces our unprojection."""
    ref, out, _ = case
    h, w = ref["images"].shape[-2:]
    extrinsic, intrinsic = pose_encoding_to_extri_intri(out["pose_enc"][-1], (h, w))
    ours = unproject_depth_map_to_point_map(out["depth"][0], extrinsic[0], intrinsic[0])
    theirs = unproject_depth_map_to_point_map(ref["depth"][0], ref["extrinsic"][0], ref["intrinsic"][0])
    assert_close("points_from_depth", ours, theirs, 2e-4, 2e-4)
