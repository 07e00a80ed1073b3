"""Checkpoint loading: formats, folders, hub cache, validation messages, memory."""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from conftest import ROOT

from model import CheckpointError, IGGTConfig, build_iggt, load_iggt, save_iggt
from model.checkpoint import CONFIG_METADATA_KEY, weight_files_in

X = torch.rand(2, 3, 56, 84, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return build_iggt(IGGTConfig.tiny())


@pytest.fixture(scope="module")
def expected(tiny):
    with torch.inference_mode():
        return tiny(X)


def assert_same_outputs(net, expected) -> None:
    with torch.inference_mode():
        out = net(X)
    for key in ("depth", "depth_conf", "world_points", "world_points_conf", "part_feat"):
        torch.testing.assert_close(out[key], expected[key], rtol=0, atol=0, msg=key)
    for a, b in zip(out["pose_enc"], expected["pose_enc"], strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_safetensors_round_trip_records_the_config(tmp_path, tiny, expected) -> None:
    path = save_iggt(tiny, tmp_path / "tiny.safetensors")
    from safetensors import safe_open

    with safe_open(str(path), "pt") as f:
        assert IGGTConfig.from_json(f.metadata()[CONFIG_METADATA_KEY]) == tiny.config
    net = load_iggt(path)
    assert net.config == tiny.config and not net.training
    assert_same_outputs(net, expected)
    assert not list(tmp_path.glob("*.tmp")), "temporary file left behind"


def test_plain_and_wrapped_torch_checkpoints(tmp_path, tiny, expected) -> None:
    state = tiny.state_dict()
    torch.save(state, tmp_path / "plain.pt")
    assert_same_outputs(load_iggt(tmp_path / "plain.pt"), expected)
    # DDP prefixes, a wrapper dict and harmless extras, as training scripts write them
    wrapped = {"model": {f"module.{k}": v for k, v in state.items()}, "epoch": 3,
               "args": argparse.Namespace(lr=1e-4)}
    torch.save(wrapped, tmp_path / "wrapped.pth")
    assert_same_outputs(load_iggt(str(tmp_path / "wrapped.pth")), expected)
    torch.save(state, tmp_path / "legacy.bin", _use_new_zipfile_serialization=False)
    assert_same_outputs(load_iggt(tmp_path / "legacy.bin"), expected)


def test_torch_checkpoint_is_memory_mapped(tmp_path, tiny) -> None:
    torch.save(tiny.state_dict(), tmp_path / "plain.pt")
    net = load_iggt(tmp_path / "plain.pt")
    ptr = net.aggregator.frame_blocks[0].attn.qkv.weight.data_ptr()
    # the parameter lives in a (private, copy-on-write) mapping of the file, not in a loaded copy
    mapped = []
    for line in Path("/proc/self/maps").read_text().splitlines():
        start, end = (int(v, 16) for v in line.split()[0].split("-"))
        if start <= ptr < end:
            mapped.append(line.split()[-1])
    assert mapped == [str(tmp_path / "plain.pt")]


def test_folder_with_one_checkpoint(tmp_path, tiny, expected) -> None:
    save_iggt(tiny, tmp_path / "weights" / "whatever.safetensors")
    (tmp_path / "weights" / "config.json").write_text("{}")
    assert_same_outputs(load_iggt(tmp_path / "weights"), expected)


def test_folder_prefers_known_names_and_rejects_ambiguity(tmp_path, tiny) -> None:
    folder = tmp_path / "many"
    save_iggt(tiny, folder / "model.safetensors")
    torch.save(tiny.state_dict(), folder / "other.pt")
    assert weight_files_in(folder) == [folder / "model.safetensors"]
    (folder / "model.safetensors").rename(folder / "a.safetensors")
    save_iggt(tiny, folder / "b.safetensors")
    with pytest.raises(CheckpointError, match="several weight files"):
        load_iggt(folder)


def test_sharded_safetensors(tmp_path, tiny, expected) -> None:
    from safetensors.torch import save_file

    state = {k: v.contiguous() for k, v in tiny.state_dict().items()}
    keys = list(state)
    shards = {"model-00001-of-00002.safetensors": keys[: len(keys) // 2],
              "model-00002-of-00002.safetensors": keys[len(keys) // 2 :]}
    weight_map = {}
    for name, part in shards.items():
        save_file({k: state[k] for k in part}, str(tmp_path / name),
                  metadata={CONFIG_METADATA_KEY: tiny.config.to_json()})
        weight_map.update(dict.fromkeys(part, name))
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"weight_map": weight_map}))
    assert_same_outputs(load_iggt(tmp_path), expected)


def test_hub_id_from_the_offline_cache(tmp_path, tiny, expected, monkeypatch) -> None:
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    repo = cache / "models--someone--iggt-tiny"
    commit = "0" * 40
    save_iggt(tiny, repo / "snapshots" / commit / "model.safetensors")
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert_same_outputs(load_iggt("someone/iggt-tiny"), expected)
    with pytest.raises(CheckpointError, match=r"not in the local hub cache"):
        load_iggt("someone/not-cached")


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.pt", b"", "the file is empty"),
        ("notes.pt", b"hello world\n" * 10, "not a PyTorch or safetensors checkpoint"),
        ("notes.safetensors", b"hello world\n" * 10, "not a safetensors file"),
        ("image.jpg", b"\xff\xd8\xff\xe0" + b"\0" * 64, "unsupported file type .jpg"),
    ],
)
def test_non_checkpoint_files(tmp_path, name, content, message) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        load_iggt(path)


def test_truncated_files(tmp_path, tiny) -> None:
    save_iggt(tiny, tmp_path / "full.safetensors")
    torch.save(tiny.state_dict(), tmp_path / "full.pt")
    for name in ("full.safetensors", "full.pt"):
        data = (tmp_path / name).read_bytes()
        cut = tmp_path / f"cut_{name}"
        cut.write_bytes(data[: len(data) * 2 // 3])
        with pytest.raises(CheckpointError, match="truncated"):
            load_iggt(cut)


def test_missing_things(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="Checkpoint not found"):
        load_iggt(tmp_path / "nope.safetensors")
    (tmp_path / "empty_dir").mkdir()
    with pytest.raises(CheckpointError, match="no weights found in this folder"):
        load_iggt(tmp_path / "empty_dir")
    torch.save({"epoch": 1, "note": "x"}, tmp_path / "nostate.pt")
    with pytest.raises(CheckpointError, match="no state dict found"):
        load_iggt(tmp_path / "nostate.pt")


def test_pickled_objects_are_refused(tmp_path, tiny) -> None:
    extras = {"model": tiny.state_dict(), "when": datetime.date(2025, 1, 1)}
    torch.save(extras, tmp_path / "objects.pt")
    with pytest.raises(CheckpointError, match="pickled Python objects"):
        load_iggt(tmp_path / "objects.pt")


def test_vggt_checkpoint_without_instance_head_is_named(tmp_path, tiny) -> None:
    state = {k: v for k, v in tiny.state_dict().items() if not k.startswith(("part_head.", "part_adaptor."))}
    torch.save(state, tmp_path / "vggt.pt")
    with pytest.raises(CheckpointError) as info:
        load_iggt(tmp_path / "vggt.pt", config=IGGTConfig.tiny())
    text = str(info.value)
    assert "VGGT checkpoint without the instance head" in text
    assert "tensors are missing: part_adaptor." in text


def test_wrong_shapes_are_listed(tmp_path, tiny) -> None:
    state = tiny.state_dict()
    state["depth_head.projects.0.weight"] = torch.zeros(7, 256, 1, 1)
    torch.save(state, tmp_path / "bad.pt")
    pattern = r"wrong shape: depth_head\.projects\.0\.weight \(file \[7, 256, 1, 1\]"
    with pytest.raises(CheckpointError, match=pattern):
        load_iggt(tmp_path / "bad.pt", config=IGGTConfig.tiny())


def test_other_architecture_is_explained(tmp_path, tiny) -> None:
    torch.save(tiny.state_dict(), tmp_path / "tiny.pt")
    with pytest.raises(CheckpointError, match="width 128, the configuration expects 1024"):
        load_iggt(tmp_path / "tiny.pt", config=IGGTConfig.full())
    torch.save({"encoder.weight": torch.zeros(3, 3)}, tmp_path / "other.pt")
    with pytest.raises(CheckpointError, match="does not look like an IGGT checkpoint"):
        load_iggt(tmp_path / "other.pt", config=IGGTConfig.tiny())


def test_unused_weights_are_skipped_with_a_log_line(tmp_path, caplog) -> None:
    torch.manual_seed(1)
    with_unused = build_iggt(IGGTConfig.tiny(keep_unused=True))
    assert with_unused.track_head is not None
    save_iggt(with_unused, tmp_path / "all.safetensors")
    with caplog.at_level(logging.INFO, logger="model.checkpoint"):
        lean = load_iggt(tmp_path / "all.safetensors")
    assert lean.track_head is None and not hasattr(lean.part_head, "cross_attention_1")
    assert "aggregator.patch_embed.mask_token" not in lean.state_dict()
    assert any("skipped" in r.message and "track_head" in r.message for r in caplog.records)
    kept = load_iggt(tmp_path / "all.safetensors", keep_unused=True)
    assert set(kept.state_dict()) == set(with_unused.state_dict())
    with torch.inference_mode():
        a, b = lean(X), with_unused(X)
    torch.testing.assert_close(a["part_feat"], b["part_feat"], rtol=0, atol=0)


def test_keep_unused_accepts_a_file_without_the_unused_weights(tmp_path, tiny, expected, caplog) -> None:
    save_iggt(tiny, tmp_path / "lean.safetensors")  # tiny preset: built without the unused modules
    with caplog.at_level(logging.WARNING, logger="model.checkpoint"):
        net = load_iggt(tmp_path / "lean.safetensors", keep_unused=True)
    assert net.track_head is not None
    assert not net.track_head.tracker.corr_mlp.fc1.weight.any()
    assert any("zero-filled" in r.message and "track_head" in r.message for r in caplog.records)
    assert_same_outputs(net, expected)


def test_unknown_extra_tensors_are_ignored_with_a_warning(tmp_path, tiny, expected, caplog) -> None:
    state = dict(tiny.state_dict())
    state["some_new_head.weight"] = torch.zeros(2)
    torch.save(state, tmp_path / "extra.pt")
    with caplog.at_level(logging.WARNING, logger="model.checkpoint"):
        net = load_iggt(tmp_path / "extra.pt")
    assert any("some_new_head.weight" in r.message for r in caplog.records)
    assert_same_outputs(net, expected)


def test_reduced_precision_storage_keeps_heads_in_float32(tmp_path, tiny, expected) -> None:
    save_iggt(tiny, tmp_path / "tiny.safetensors")
    net = load_iggt(tmp_path / "tiny.safetensors", dtype=torch.bfloat16)
    assert net.aggregator.frame_blocks[0].attn.qkv.weight.dtype == torch.bfloat16
    assert net.depth_head.projects[0].weight.dtype == torch.float32
    assert net.part_head.window_self_atten.atten_block.attn.qkv.weight.dtype == torch.float32
    with torch.inference_mode():
        out = net(X)
    assert out["depth"].dtype == torch.float32
    torch.testing.assert_close(out["depth"], expected["depth"], rtol=0.05, atol=0.05)


def test_loading_never_holds_two_copies(tmp_path) -> None:
    """Peak resident memory while loading stays close to one copy of the weights (fresh process)."""
    cfg = IGGTConfig.tiny(embed_dim=512, vit_heads=8, aa_heads=8, camera_heads=8)
    net = build_iggt(cfg)
    weight_bytes = sum(v.numel() * v.element_size() for v in net.state_dict().values())
    assert weight_bytes > 150e6
    save_iggt(net, tmp_path / "mid.safetensors")
    torch.save(net.state_dict(), tmp_path / "mid.pt")
    del net
    script = textwrap.dedent(
        """
        import sys
        import torch
        from model import IGGTConfig, build_iggt, load_iggt

        build_iggt(IGGTConfig.tiny(), device="meta")  # one-off library set-up (~150 MB), not weights

        def rss(field):
            for line in open("/proc/self/status"):
                if line.startswith(field):
                    return int(line.split()[1]) * 1024

        before = rss("VmRSS:")
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        net = load_iggt(sys.argv[1], config=IGGTConfig.from_json(sys.argv[2]))
        checksum = sum(p.float().sum().item() for p in net.parameters())  # touch every weight
        print(checksum)
        print(rss("VmHWM:") - before)
        """
    )
    for name in ("mid.safetensors", "mid.pt"):
        proc = subprocess.run([sys.executable, "-c", script, str(tmp_path / name), cfg.to_json()], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        increase = int(proc.stdout.strip().splitlines()[-1])
        assert increase < 1.35 * weight_bytes, f"{name}: peak grew by {increase / 2**20:.0f} MiB for " \
                                               f"{weight_bytes / 2**20:.0f} MiB of weights"


def test_bundled_tiny_weights_are_recognised_from_their_metadata() -> None:
    path = ROOT / "resources" / "weights" / "iggt-tiny.safetensors"
    assert path.is_file(), "the repository ships resources/weights/iggt-tiny.safetensors"
    net = load_iggt(path)
    assert net.config == IGGTConfig.tiny()
    with torch.inference_mode():
        out = net(X)
    assert torch.isfinite(out["part_feat"]).all() and (out["depth"] > 0).all()


def test_config_json_round_trip(tmp_path) -> None:
    for cfg in (IGGTConfig.full(), IGGTConfig.tiny()):
        assert IGGTConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ValueError, match="unknown IGGTConfig fields"):
        IGGTConfig.from_dict({"embed_dim": 3, "bogus": 1})
    with pytest.raises(ValueError, match="invalid IGGTConfig"):
        IGGTConfig.tiny(embed_dim=100)
    assert Path(save_iggt(build_iggt(IGGTConfig.tiny()), tmp_path / "x.safetensors")).exists()
