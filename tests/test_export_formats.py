"""Every exporter's output read back with an independent reader; the numbers must survive."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_export_fixtures import make_export_scene, upright_original

from app.export import ExportOptions, export_scene
from app.scene import Scene


@pytest.fixture
def scene(tmp_path: Path) -> Scene:
    return make_export_scene(tmp_path / "photos")


def expected_original_labels(scene: Scene, view: int) -> np.ndarray:
    """Nearest model pixel of every original pixel, computed directly from the crop box."""
    t = scene.views[view].transform
    h0, w0 = t.original_size
    left, top, right, bottom = t.crop_box
    sy, sx = (bottom - top) / t.model_size[0], (right - left) / t.model_size[1]
    out = np.zeros((h0, w0), np.int64)
    for y in range(h0):
        for x in range(w0):
            r = int(np.floor((y + 0.5 - top) / sy))
            c = int(np.floor((x + 0.5 - left) / sx))
            if 0 <= r < t.model_size[0] and 0 <= c < t.model_size[1]:
                out[y, x] = scene.labels[view][r, c]
    return out


# --------------------------------------------------------------------------------------------- PLY
def test_ply_vertices_survive_plyfile_and_trimesh(scene: Scene, tmp_path: Path) -> None:
    import plyfile
    import trimesh

    out = tmp_path / "cloud.ply"
    export_scene(scene, "ply", out)
    ply = plyfile.PlyData.read(str(out))
    assert not ply.text and ply.byte_order == "<"
    v = ply["vertex"].data
    assert len(v) == scene.n_points
    np.testing.assert_array_equal(np.stack([v["x"], v["y"], v["z"]], 1), scene.points)
    np.testing.assert_array_equal(np.stack([v["red"], v["green"], v["blue"]], 1), scene.point_rgb)
    np.testing.assert_array_equal(v["instance_id"], scene.point_labels)
    np.testing.assert_array_equal(v["confidence"], scene.point_confidence)
    # categories: chair=1, table=2 (sorted names); instance 3 has none -> 0
    cat_of = {0: 0, 1: 1, 2: 2, 3: 0}
    np.testing.assert_array_equal(v["category_id"], [cat_of[i] for i in scene.point_labels])
    assert "category 1 chair" in ply.comments and "category 2 table" in ply.comments
    assert "instance 1 1 chair 1" in ply.comments
    mesh = trimesh.load(out)
    np.testing.assert_allclose(mesh.vertices, scene.points, rtol=1e-6)
    np.testing.assert_array_equal(np.asarray(mesh.colors)[:, :3], scene.point_rgb)


# --------------------------------------------------------------------------------------------- GLB
def _accessor(gltf, blob: bytes, index: int) -> np.ndarray:
    acc = gltf.accessors[index]
    view = gltf.bufferViews[acc.bufferView]
    dtype = {5126: np.float32, 5121: np.uint8, 5123: np.uint16, 5125: np.uint32}[acc.componentType]
    width = {"SCALAR": 1, "VEC2": 2, "VEC3": 3, "VEC4": 4}[acc.type]
    start = (view.byteOffset or 0) + (acc.byteOffset or 0)
    data = np.frombuffer(blob, dtype=dtype, count=acc.count * width, offset=start).reshape(acc.count, width)
    if acc.normalized and dtype is not np.float32:
        data = data.astype(np.float64) / np.iinfo(dtype).max
    return data


@pytest.mark.parametrize("colour_by", ["rgb", "instance"])
def test_glb_points_and_frustums_survive_pygltflib(scene: Scene, tmp_path: Path, colour_by: str) -> None:
    import pygltflib
    import trimesh

    out = tmp_path / "scene.glb"
    export_scene(scene, "glb", out, ExportOptions(colour_by=colour_by))
    gltf = pygltflib.GLTF2().load(str(out))
    blob = gltf.binary_blob()
    nodes = {n.name: n for n in gltf.nodes}
    assert set(nodes) == {"points", "camera_000", "camera_001", "camera_002"}
    flip = np.diag([1.0, -1.0, -1.0, 1.0]).flatten(order="F").tolist()
    assert all(n.matrix == flip for n in nodes.values())  # OpenCV -> glTF axes on every node
    prim = gltf.meshes[nodes["points"].mesh].primitives[0]
    assert prim.mode == pygltflib.POINTS
    np.testing.assert_array_equal(_accessor(gltf, blob, prim.attributes.POSITION), scene.points)
    colours = np.rint(_accessor(gltf, blob, prim.attributes.COLOR_0)[:, :3] * 255).astype(np.uint8)
    if colour_by == "rgb":
        expected = scene.point_rgb
    else:
        table = scene.instance_colours()
        expected = np.array([table.get(int(i), (40, 40, 40)) for i in scene.point_labels], np.uint8)
    np.testing.assert_array_equal(colours, expected)
    for s in range(scene.n_views):
        lines = gltf.meshes[nodes[f"camera_{s:03d}"].mesh].primitives[0]
        assert lines.mode == pygltflib.LINES
        pos = _accessor(gltf, blob, lines.attributes.POSITION).astype(np.float64)
        idx = _accessor(gltf, blob, lines.indices).reshape(-1, 2) if lines.indices is not None else None
        segs = pos[idx] if idx is not None else pos.reshape(-1, 2, 3)
        assert len(segs) == 8
        ext = scene.extrinsic[s].astype(np.float64)
        centre = -ext[:, :3].T @ ext[:, 3]
        ends = segs.reshape(-1, 3)
        assert np.sum(np.linalg.norm(ends - centre, axis=1) < 1e-5) == 4  # 4 edges start at the camera centre
        cam = ends @ ext[:, :3].T + ext[:, 3]  # all other ends lie on one plane in front of the camera
        z = cam[np.linalg.norm(ends - centre, axis=1) > 1e-5, 2]
        assert np.all(z > 0) and np.ptp(z) < 1e-5
    loaded = trimesh.load(out)
    assert isinstance(loaded, trimesh.Scene) and len(loaded.geometry) == 4


# ------------------------------------------------------------------------------------------ COLMAP
def parse_colmap_text(folder: Path) -> tuple[dict, dict, dict]:
    """A minimal COLMAP text reader (written from the format's documentation)."""

    def data_lines(name: str) -> list[str]:
        text = (folder / name).read_text(encoding="utf-8").split("\n")
        return [ln for ln in text if not ln.startswith("#")]

    cameras = {}
    for ln in data_lines("cameras.txt"):
        if ln.strip():
            e = ln.split()
            cameras[int(e[0])] = {
                "model": e[1],
                "w": int(e[2]),
                "h": int(e[3]),
                "params": [float(x) for x in e[4:]],
            }
    images = {}
    lines = data_lines("images.txt")
    while lines and not lines[-1].strip():
        lines.pop()
    assert len(lines) % 2 == 0
    for head, pts in zip(lines[::2], lines[1::2], strict=True):
        e = head.split()
        p = np.array(pts.split(), dtype=float).reshape(-1, 3) if pts.strip() else np.zeros((0, 3))
        images[int(e[0])] = {
            "q": np.array(e[1:5], float), "t": np.array(e[5:8], float), "camera": int(e[8]), "name": e[9],
            "xy": p[:, :2], "p3d": p[:, 2].astype(int),
        }  # fmt: skip
    points = {}
    for ln in data_lines("points3D.txt"):
        if ln.strip():
            e = ln.split()
            track = np.array(e[8:], int).reshape(-1, 2)
            points[int(e[0])] = {"xyz": np.array(e[1:4], float), "rgb": np.array(e[4:7], int), "track": track}
    return cameras, images, points


def quat_to_rot(q: np.ndarray) -> np.ndarray:
    w, x, y, z = q / np.linalg.norm(q)
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
            [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
            [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)],
        ]
    )


def test_colmap_model_reprojects_and_keeps_images(scene: Scene, tmp_path: Path) -> None:
    out = tmp_path / "colmap"
    result = export_scene(scene, "colmap", out)
    cameras, images, points = parse_colmap_text(out / "sparse" / "0")
    assert len(cameras) == len(images) == scene.n_views and len(points) == scene.n_points
    for s in range(scene.n_views):
        img = images[s + 1]
        np.testing.assert_allclose(quat_to_rot(img["q"]), scene.extrinsic[s][:, :3], atol=1e-6)
        np.testing.assert_allclose(img["t"], scene.extrinsic[s][:, 3], atol=1e-6)
        cam = cameras[img["camera"]]
        h0, w0 = scene.views[s].original_size
        assert (cam["model"], cam["w"], cam["h"]) == ("PINHOLE", w0, h0)
        picture = np.asarray(Image.open(out / "images" / img["name"]).convert("RGB"))
        assert picture.shape[:2] == (h0, w0)
        if s < 2:  # plain PNGs are copied byte for byte
            assert (out / "images" / img["name"]).read_bytes() == Path(scene.views[s].path).read_bytes()
        else:  # the EXIF-rotated JPEG is written upright
            np.testing.assert_array_equal(picture, upright_original(scene, s))
        fx, fy, cx, cy = cam["params"]
        # every observation: the 3D point projects onto it, and it is the centre of its source pixel
        xyz = np.stack([points[i]["xyz"] for i in img["p3d"]])
        pc = xyz @ quat_to_rot(img["q"]).T + img["t"]
        proj = np.stack([fx * pc[:, 0] / pc[:, 2] + cx, fy * pc[:, 1] / pc[:, 2] + cy], 1)
        np.testing.assert_allclose(proj, img["xy"], atol=2e-3)
        left, top, right, bottom = scene.views[s].transform.crop_box
        sx, sy = (right - left) / 16, (bottom - top) / 12
        sel = scene.point_pixels[:, 0] == s
        r, c = scene.point_pixels[sel, 1], scene.point_pixels[sel, 2]
        np.testing.assert_allclose(
            img["xy"], np.stack([left + (c + 0.5) * sx, top + (r + 0.5) * sy], 1), atol=1e-5
        )
    for pid, p in points.items():  # tracks point back at the right 2D observation
        ((image_id, idx2d),) = p["track"]
        assert images[image_id]["p3d"][idx2d] == pid
    np.testing.assert_allclose(
        np.stack([points[i + 1]["xyz"] for i in range(scene.n_points)]), scene.points, atol=1e-6
    )
    np.testing.assert_array_equal(
        np.stack([points[i + 1]["rgb"] for i in range(scene.n_points)]), scene.point_rgb
    )
    assert result.warnings == []


def test_colmap_falls_back_to_model_image_with_a_warning(scene: Scene, tmp_path: Path) -> None:
    Path(scene.views[0].path).unlink()
    result = export_scene(scene, "colmap", tmp_path / "colmap")
    assert (
        len(result.warnings) == 1 and "view 0.png" in result.warnings[0] and "missing" in result.warnings[0]
    )
    img = Image.open(tmp_path / "colmap" / "images" / "view_0.png")
    assert img.size == (40, 24)


# ------------------------------------------------------------------------------------------- masks
def test_masks_are_16bit_ids_and_overlays_at_original_resolution(scene: Scene, tmp_path: Path) -> None:
    out = tmp_path / "masks"
    export_scene(scene, "masks", out)
    meta = json.loads((out / "instances.json").read_text())
    assert [d["id"] for d in meta["instances"]] == [1, 2, 3]
    for s in range(scene.n_views):
        file = meta["views"][s]["file"]
        ids_img = Image.open(out / "ids" / file)
        assert ids_img.mode.startswith("I;16") or ids_img.mode == "I"
        ids = np.asarray(ids_img).astype(np.int64)
        assert ids.shape == scene.views[s].original_size
        np.testing.assert_array_equal(ids, expected_original_labels(scene, s))
        over = np.asarray(Image.open(out / "overlay" / file).convert("RGB")).astype(int)
        orig = upright_original(scene, s).astype(int)
        np.testing.assert_array_equal(over[ids == 0], orig[ids == 0])
        for iid, colour in scene.instance_colours().items():
            blend = np.rint(0.5 * orig[ids == iid] + 0.5 * np.array(colour))
            np.testing.assert_allclose(over[ids == iid], blend, atol=1)


def test_masks_keep_large_ids_exactly(scene: Scene, tmp_path: Path) -> None:
    from app.scene import Instance

    labels = np.array(scene.labels)
    labels[labels == 3] = 60000
    scene.set_labels(labels, [*(i for i in scene.instances.values() if i.id != 3), Instance.new(60000)])
    export_scene(scene, "masks", tmp_path / "m")
    ids = np.asarray(Image.open(tmp_path / "m" / "ids" / "view_0.png")).astype(np.int64)
    assert ids.max() == 60000


# -------------------------------------------------------------------------------------------- COCO
def test_coco_masks_decode_with_pycocotools(scene: Scene, tmp_path: Path) -> None:
    from pycocotools.coco import COCO

    out = tmp_path / "coco.json"
    export_scene(scene, "coco", out)
    coco = COCO(str(out))
    assert {c["name"] for c in coco.loadCats(coco.getCatIds())} == {"chair", "table", "object"}
    seen_ids: dict[int, set[str]] = {}
    for s in range(scene.n_views):
        truth = expected_original_labels(scene, s)
        info = coco.loadImgs(s + 1)[0]
        assert (info["height"], info["width"]) == scene.views[s].original_size
        anns = coco.loadAnns(coco.getAnnIds(imgIds=[s + 1]))
        assert sorted(a["instance_id"] for a in anns) == sorted(set(np.unique(truth)) - {0})
        for a in anns:
            m = coco.annToMask(a).astype(bool)
            np.testing.assert_array_equal(m, truth == a["instance_id"])
            assert a["area"] == m.sum()
            ys, xs = np.nonzero(m)
            assert a["bbox"] == [xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1]
            seen_ids.setdefault(a["instance_id"], set()).add(coco.loadCats(a["category_id"])[0]["name"])
    assert seen_ids == {1: {"chair"}, 2: {"table"}, 3: {"object"}}  # same id and category in every view


# ------------------------------------------------------------------------------------------- table
@pytest.mark.parametrize("suffix", [".csv", ".json"])
def test_instance_table_counts_match_labels(scene: Scene, tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"table{suffix}"
    export_scene(scene, "table", out)
    if suffix == ".csv":
        rows = list(csv.DictReader(io.StringIO(out.read_text())))
    else:
        rows = json.loads(out.read_text())["instances"]
    assert [int(r["id"]) for r in rows] == [1, 2, 3]
    for row in rows:
        iid = int(row["id"])
        sel = scene.point_labels == iid
        assert int(row["points"]) == sel.sum()
        assert int(row["pixels"]) == int((scene.labels == iid).sum())
        assert int(row["views"]) == sum(bool((scene.labels[s] == iid).any()) for s in range(3))
        assert row["name"] == scene.instances[iid].name
        np.testing.assert_allclose(float(row["centroid_x"]), scene.points[sel, 0].mean(), rtol=1e-5)
        np.testing.assert_allclose(
            float(row["mean_confidence"]), scene.point_confidence[sel].mean(), rtol=1e-5
        )
    assert rows[0]["category"] == "chair" and rows[2]["category"] in ("", None)


def test_table_rejects_unknown_suffix(scene: Scene, tmp_path: Path) -> None:
    from app.errors import UserError

    with pytest.raises(UserError, match=r"\.csv or \.json"):
        export_scene(scene, "table", tmp_path / "table.xlsx")
