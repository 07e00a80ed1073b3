"""The full configuration exposes exactly the official state dict (keys, shapes, dtypes, order)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import REFERENCE
from recipe import deterministic_tensor

from model import IGGTConfig, build_iggt


@pytest.fixture(scope="module")
def manifest() -> dict:
    return json.loads((REFERENCE / "iggt_state_dict_manifest.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def full_meta():
    return build_iggt(IGGTConfig.full(), device="meta")


def test_full_state_dict_equals_manifest(manifest, full_meta) -> None:
    state = full_meta.state_dict()
    entries = manifest["entries"]
    assert list(state) == list(entries), "key set or order differs from the official state dict"
    for key, entry in entries.items():
        assert list(state[key].shape) == entry["shape"], key
        assert str(state[key].dtype).removeprefix("torch.") == entry["dtype"], key
    assert len(state) == manifest["num_entries"]
    params = dict(full_meta.named_parameters())
    assert sum(p.numel() for p in params.values()) == manifest["total_parameters"]
    for key, entry in entries.items():
        assert (key in params) == (entry["kind"] == "parameter"), key
    float_elements = sum(v.numel() for v in state.values() if v.is_floating_point())
    assert float_elements == manifest["total_float_state_dict_elements"]


def test_non_persistent_buffers_are_not_in_the_state_dict(manifest, full_meta) -> None:
    buffers = dict(full_meta.named_buffers())
    for key, entry in manifest["non_persistent_buffers"].items():
        assert key in buffers and key not in full_meta.state_dict()
        assert list(buffers[key].shape) == entry["shape"]


def test_constructor_values_of_buffers(manifest) -> None:
    net = build_iggt(IGGTConfig.full(), device="meta")
    net.restore_constant_buffers("cpu")
    expected = np.load(REFERENCE / "iggt_nonfloat_buffers.npz")
    state = net.state_dict()
    for key in expected.files:
        np.testing.assert_array_equal(state[key].numpy(), expected[key], err_msg=key)
    for key, entry in manifest["non_persistent_buffers"].items():
        value = dict(net.named_buffers())[key]
        np.testing.assert_allclose(value.flatten().numpy(), entry["value"], rtol=0, atol=0)
    counters = [k for k in state if k.endswith("num_batches_tracked")]
    assert len(counters) == 15 and all(int(state[k]) == 0 for k in counters)


def test_lean_variant_drops_exactly_the_unused_weights(manifest) -> None:
    lean = build_iggt(IGGTConfig.full(keep_unused=False), device="meta")
    unused = set(manifest["unused_by_forward_parameters"])
    expected = [k for k in manifest["entries"] if k not in unused]
    assert list(lean.state_dict()) == expected
    dropped_bytes = 4 * sum(int(np.prod(manifest["entries"][k]["shape"])) for k in unused)
    assert 300 * 2**20 < dropped_bytes < 340 * 2**20  # the ~319 MiB the forward never reads


def test_recipe_self_check_values() -> None:
    """First three values quoted in DETERMINISTIC_WEIGHTS.md."""
    checks = {
        ("aggregator.camera_token", (1, 2, 1, 1024)): (-0.0115077076, -0.0101829432, -0.0134431934),
        ("aggregator.frame_blocks.0.attn.qkv.weight", (3072, 1024)): (-0.0210797172, -0.0135646984,
                                                                        -0.00548954541),
        ("aggregator.frame_blocks.0.norm1.weight", (1024,)): (1.21895349, 1.05951846, 1.0175761),
        ("aggregator.frame_blocks.0.ls1.gamma", (1024,)): (0.107446201, 0.128921926, 0.0959093869),
        ("part_adaptor.resize_layers.0.1.input_proj.1.running_var", (256,)): (1.10197604, 1.0488342,
                                                                              1.12239254),
        ("camera_head.pose_branch.fc2.bias", (9,)): (-0.014500333, -0.00711604394, -0.0100290654),
        ("camera_head.pose_branch.fc2.weight", (9, 1024)): (-6.83781545e-05, 0.00472058449, 0.00334440777),
    }
    for (key, shape), first in checks.items():
        value = deterministic_tensor(key, shape)
        assert value.dtype == np.float32 and value.shape == shape
        np.testing.assert_allclose(value.ravel()[:3], first, rtol=1e-6, err_msg=key)


def test_recipe_applies_to_a_meta_built_network() -> None:
    from recipe import build_recipe_iggt

    net = build_recipe_iggt(IGGTConfig.tiny())
    state = net.state_dict()
    assert not any(v.is_meta for v in state.values())
    key = "aggregator.frame_blocks.0.attn.qkv.weight"
    np.testing.assert_array_equal(state[key].numpy(), deterministic_tensor(key, state[key].shape))
    assert torch.equal(net.aggregator._resnet_std.flatten(), torch.tensor([0.229, 0.224, 0.225]))
