"""A small hand-made scene with exact geometry and real original image files, for exporter and edit tests.

Three views (model grid 12x16). Views 0 and 1 were resized from 24x40 originals (non-uniform scale,
like the demo's resize mode), view 2 is a crop of a 28x40 original stored as a JPEG with an EXIF
rotation. Points are the exact unprojection of the depth maps, so re-projecting them must hit their pixels.
Instances: 1 "chair" (left half), 2 "table" (top right), 3 no category (bottom right).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from PIL import Image

from app.instances import refresh_statistics
from app.scene import Instance, Scene, ViewInfo, ViewTransform

H, W = 12, 16


def rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * k @ k


def unproject(depth: np.ndarray, k: np.ndarray, ext: np.ndarray) -> np.ndarray:
    """World points of a (H, W) depth map; pixel centres at integer coordinates."""
    rows, cols = np.meshgrid(np.arange(depth.shape[0]), np.arange(depth.shape[1]), indexing="ij")
    cam = (
        np.stack([(cols - k[0, 2]) / k[0, 0], (rows - k[1, 2]) / k[1, 1], np.ones_like(depth)], -1)
        * depth[..., None]
    )
    return (cam - ext[:, 3]) @ ext[:, :3]


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_export_scene(folder: Path, seed: int = 0) -> Scene:
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    s = 3
    views, images = [], np.zeros((s, H, W, 3), np.uint8)
    for i in range(s):
        if i < 2:
            h0, w0 = 24, 40
            upright = rng.integers(0, 256, (h0, w0, 3), dtype=np.uint8)
            path = folder / f"view {i}.png"
            Image.fromarray(upright).save(path)
            transform = ViewTransform.resize((h0, w0), (H, W))
        else:
            h0, w0 = 28, 40
            upright = np.zeros((h0, w0, 3), np.uint8)
            upright[..., 0] = np.linspace(0, 255, w0)[None, :]
            upright[..., 1] = np.linspace(0, 255, h0)[:, None]
            upright[..., 2] = 90
            path = folder / "view_2.jpg"
            # stored sideways, EXIF orientation 6 says "rotate 90° clockwise to view"
            stored = Image.fromarray(upright).transpose(Image.Transpose.ROTATE_90)
            exif = Image.Exif()
            exif[0x0112] = 6
            stored.save(path, quality=98, exif=exif.tobytes())
            transform = ViewTransform((4.0, 2.0, 36.0, 26.0), (H, W), (h0, w0))
        images[i] = (
            np.asarray(Image.fromarray(upright).resize((W, H)), np.uint8)
            if i < 2
            else rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        )
        views.append(ViewInfo(path.name, str(path), _sha(path), (h0, w0), transform))
    k = np.array([[14.0, 0, W / 2], [0, 13.0, H / 2], [0, 0, 1]])
    extrinsic = np.zeros((s, 3, 4))
    for i in range(s):
        r = rotation(rng.normal(size=3), 0.3 * i)
        extrinsic[i] = np.concatenate([r, rng.normal(scale=0.5, size=(3, 1)) * (i > 0)], axis=1)
    depth = rng.uniform(2.0, 4.0, (s, H, W)).astype(np.float32)
    point_map = np.stack([unproject(depth[i], k, extrinsic[i]) for i in range(s)]).astype(np.float32)
    labels = np.zeros((s, H, W), np.int32)
    labels[:, 2:10, 1:7] = 1
    labels[:, 1:6, 9:15] = 2
    labels[:, 7:11, 9:15] = 3
    labels[2, :, 12:] = 0  # instances 2 and 3 are partly out of view 2
    mask = np.ones((s, H, W), bool)
    mask[:, 0, :] = False  # a filtered row
    mask[1, 5:7, 3:5] = False
    scene = Scene(
        views=views,
        images=images,
        extrinsic=extrinsic.astype(np.float32),
        intrinsic=np.tile(k, (s, 1, 1)).astype(np.float32),
        depth=depth,
        depth_conf=rng.uniform(1, 5, (s, H, W)).astype(np.float32),
        point_map=point_map,
        point_conf=rng.uniform(1, 5, (s, H, W)).astype(np.float32),
        point_mask=mask,
        features=rng.normal(size=(s, H, W, 8)).astype(np.float16),
        labels=labels,
        instances=[
            Instance.new(1, name="chair 1", category="chair"),
            Instance.new(2, name="table", category="table"),
            Instance.new(3, name="thing"),
        ],
        settings={"points_source": "depth"},
        model_id="test-model",
    )
    refresh_statistics(scene)
    return scene


def upright_original(scene: Scene, view: int) -> np.ndarray:
    """The original image as a user sees it (independent of the exporters' loader)."""
    from PIL import ImageOps

    with Image.open(scene.views[view].path) as im:
        return np.asarray(ImageOps.exif_transpose(im).convert("RGB"))


def test_fixture_points_reproject_onto_their_pixels(tmp_path: Path) -> None:
    scene = make_export_scene(tmp_path)
    v, r, c = scene.point_pixels.T
    for s in range(scene.n_views):
        sel = v == s
        ext, k = scene.extrinsic[s].astype(float), scene.intrinsic[s].astype(float)
        cam = scene.points[sel] @ ext[:, :3].T + ext[:, 3]
        uv = cam @ k.T
        np.testing.assert_allclose(uv[:, 0] / uv[:, 2], c[sel], atol=1e-3)
        np.testing.assert_allclose(uv[:, 1] / uv[:, 2], r[sel], atol=1e-3)


def test_fixture_exif_view_is_upright_at_the_declared_size(tmp_path: Path) -> None:
    scene = make_export_scene(tmp_path)
    img = upright_original(scene, 2)
    assert img.shape[:2] == scene.views[2].original_size
    assert img[0, -1, 0] > 200 and img[-1, 0, 1] > 200  # red grows to the right, green downwards
