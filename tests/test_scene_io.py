"""Scene files: round trip, atomic saves with backup, and clear rejection of damaged/newer files."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
from scenes import SCENE_ARRAYS, make_scene, rebuild_scene

from app.errors import UserError
from app.scene import InstanceEmbeddings, InstanceStats
from app.scene_io import FORMAT_VERSION, SceneFileError, backup_path, load_scene, read_manifest, save_scene


def _assert_same(a, b) -> None:
    for name in SCENE_ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape, name
        np.testing.assert_array_equal(x, y, err_msg=name)
    assert a.views == b.views
    assert a.instances == b.instances
    assert a.settings == b.settings and a.model_id == b.model_id and a.edit_log == b.edit_log


def test_round_trip_keeps_everything(tmp_path: Path) -> None:
    scene = make_scene()
    scene.update_instance(
        1,
        name="table",
        category="furniture",
        locked=True,
        stats=InstanceStats(5, (0, 0, 0), (1, 2, 3), (0.5, 1, 1.5), {0: 3, 1: 2}, 0.8, 2),
    )
    scene.set_embeddings("clip-b32", InstanceEmbeddings(np.array([1, 2]), np.arange(8.0).reshape(2, 4)))
    scene.set_layer("semantic", np.ones(scene.labels.shape, np.int16))
    scene.log_edit({"op": "rename", "id": 1, "to": "table"})
    out = save_scene(scene, tmp_path / "room.iggt")
    loaded = load_scene(out)
    _assert_same(scene, loaded)
    np.testing.assert_array_equal(loaded.embeddings["clip-b32"].vectors, np.arange(8.0).reshape(2, 4))
    np.testing.assert_array_equal(loaded.layers["semantic"], scene.layers["semantic"])
    manifest = read_manifest(out)
    assert manifest["format_version"] == FORMAT_VERSION and manifest["image_size"] == [28, 42]


def test_save_keeps_backup_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "room.iggt"
    first = make_scene(seed=1)
    save_scene(first, target)
    second = make_scene(seed=2)
    second.update_instance(2, name="second")
    save_scene(second, target)
    assert load_scene(target).instances[2].name == "second"
    assert load_scene(backup_path(target)).instances[2].name == "chair"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["room.iggt", "room.iggt.bak"]


def test_failed_save_leaves_previous_file_intact(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "room.iggt"
    save_scene(make_scene(seed=1), target)
    before = target.read_bytes()

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("app.scene_io._npy_bytes", boom)
    with pytest.raises(KeyboardInterrupt):
        save_scene(make_scene(seed=2), target)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["room.iggt"]


def test_save_to_bad_places_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="does not exist"):
        save_scene(make_scene(), tmp_path / "missing" / "x.iggt")
    (tmp_path / "dir.iggt").mkdir()
    with pytest.raises(UserError, match="is a folder"):
        save_scene(make_scene(), tmp_path / "dir.iggt")


def _rewrite(src: Path, dst: Path, edit) -> None:
    """Copy a scene zip member by member, letting ``edit(name, data)`` change or drop members."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = edit(info.filename, zin.read(info.filename))
            if data is not None:
                zout.writestr(info.filename, data)


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    return save_scene(make_scene(), tmp_path / "good.iggt")


def _edit_manifest(change):
    def edit(name, data):
        if name != "scene.json":
            return data
        m = json.loads(data)
        change(m)
        return json.dumps(m)

    return edit


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (_edit_manifest(lambda m: m.update(format_version=FORMAT_VERSION + 1)), "newer IGGT Viewer"),
        (_edit_manifest(lambda m: m.update(format="something-else")), "wrong format marker"),
        (lambda n, d: None if n == "arrays/depth.npy" else d, "array 'depth' is missing"),
        (lambda n, d: None if n == "scene.json" else d, "no scene.json"),
        (lambda n, d: b"{not json" if n == "scene.json" else d, "not valid JSON"),
        (_edit_manifest(lambda m: m["instances"].pop()), "missing from the instance table"),
        (_edit_manifest(lambda m: m["views"].pop()), r"declared \[2, 3, 4\], which does not fit"),
        (_edit_manifest(lambda m: m["arrays"]["labels"].update(shape=[1, 2, 3])), "does not fit the scene"),
        (_edit_manifest(lambda m: m["arrays"]["labels"].update(dtype="int64")), "index says int64"),
        (lambda n, d: d[:-40] if n == "arrays/point_map.npy" else d, "damaged"),
    ],
)
def test_damaged_files_are_rejected_clearly(saved: Path, tmp_path: Path, edit, message: str) -> None:
    bad = tmp_path / "bad.iggt"
    _rewrite(saved, bad, edit)
    with pytest.raises(SceneFileError, match=message):
        load_scene(bad)


def test_nan_values_are_rejected(saved: Path, tmp_path: Path) -> None:
    scene = load_scene(saved)
    depth = scene.depth.copy()
    depth[0, 0, 0] = np.nan
    import io

    buf = io.BytesIO()
    np.lib.format.write_array(buf, depth)
    bad = tmp_path / "nan.iggt"
    _rewrite(saved, bad, lambda n, d: buf.getvalue() if n == "arrays/depth.npy" else d)
    with pytest.raises(SceneFileError, match="NaN"):
        load_scene(bad)


def test_flipped_bytes_and_truncation_detected(saved: Path, tmp_path: Path) -> None:
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as zf:
        info = zf.getinfo("arrays/depth.npy")
    offset = info.header_offset + 30 + len(info.filename) + 200  # inside the stored depth data
    data[offset] ^= 0xFF
    flipped = tmp_path / "flipped.iggt"
    flipped.write_bytes(bytes(data))
    with pytest.raises(SceneFileError, match="damaged"):
        load_scene(flipped)
    truncated = tmp_path / "truncated.iggt"
    truncated.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    with pytest.raises(SceneFileError, match="damaged"):
        load_scene(truncated)
    empty = tmp_path / "empty.iggt"
    empty.write_bytes(b"")
    with pytest.raises(SceneFileError, match="empty"):
        load_scene(empty)
    with pytest.raises(SceneFileError, match="not found"):
        load_scene(tmp_path / "nope.iggt")


def test_paths_storage_reloads_images_and_flags_changed_files(tmp_path: Path) -> None:
    from PIL import Image

    from app.images import file_sha256
    from app.scene import ViewInfo, ViewTransform

    base = make_scene()
    views = []
    for i in range(base.n_views):
        p = tmp_path / f"img{i}.png"
        Image.fromarray(np.asarray(base.images[i])).resize((84, 56)).save(p)
        views.append(
            ViewInfo(p.name, str(p), file_sha256(p), (56, 84), ViewTransform.resize((56, 84), (28, 42)))
        )
    scene = rebuild_scene(base, views=views, image_storage="paths")
    out = save_scene(scene, tmp_path / "paths.iggt")
    with zipfile.ZipFile(out) as zf:
        assert "arrays/images.npy" not in zf.namelist()
    loaded = load_scene(out)
    assert loaded.load_warnings == [] and loaded.images.std() > 10
    Path(views[1].path).write_bytes(b"changed")
    loaded = load_scene(out)
    assert len(loaded.load_warnings) == 1 and "img1.png" in loaded.load_warnings[0]
    assert (loaded.images[1] == 128).all()
    Path(views[0].path).unlink()
    loaded = load_scene(out)
    assert len(loaded.load_warnings) == 2 and "img0.png cannot be read" in loaded.load_warnings[0]


def test_saved_file_permissions_follow_umask(saved: Path) -> None:
    mode = saved.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask
