"""COLMAP text model plus images, so the scene opens in COLMAP, nerfstudio and gsplat tools.

Layout of the output folder::

    images/<view>.<ext>            the original images, upright (EXIF orientation applied)
    sparse/0/cameras.txt           one PINHOLE camera per view, at the original image size
    sparse/0/images.txt            world-to-camera pose per view + the 2D observation of each 3D point
    sparse/0/points3D.txt          the point cloud; each point is observed by the view it came from

COLMAP's pixel convention puts the centre of the top-left pixel at (0.5, 0.5); intrinsics are converted
from the model grid to the original image accordingly (see ``app.export.cameras.original_intrinsic``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from app.errors import UserError
from app.export.atomic import atomic_folder, check_target
from app.export.base import ExportOptions, ExportResult, require_points, view_stems
from app.export.cameras import original_intrinsic
from app.export.originals import load_original
from app.scene import Scene


def rotation_to_quaternion(r: np.ndarray) -> np.ndarray:
    """COLMAP's (w, x, y, z) unit quaternion of a rotation matrix (re-orthonormalised first), w >= 0."""
    from scipy.spatial.transform import Rotation

    u, _, vt = np.linalg.svd(np.asarray(r, dtype=np.float64))
    r = u @ vt
    if np.linalg.det(r) < 0:
        raise UserError("a camera rotation is a reflection (det < 0); the scene's cameras are invalid")
    x, y, z, w = Rotation.from_matrix(r).as_quat()  # scipy's order is (x, y, z, w)
    q = np.array([w, x, y, z])
    return q if q[0] >= 0 else -q


def _fmt_rows(fmt: str, columns: list[np.ndarray]) -> str:
    rows = zip(*(c.tolist() for c in columns), strict=True)
    return "".join(fmt % row for row in rows)


def cameras_text(scene: Scene) -> str:
    lines = [
        "# Camera list with one line of data per camera:",
        "#   CAMERA_ID, MODEL, WIDTH, HEIGHT, PARAMS[]",
        f"# Number of cameras: {scene.n_views}",
    ]
    for s, view in enumerate(scene.views):
        k = original_intrinsic(scene.intrinsic[s], view.transform)
        h0, w0 = view.transform.original_size
        lines.append(f"{s + 1} PINHOLE {w0} {h0} {k[0, 0]:.17g} {k[1, 1]:.17g} {k[0, 2]:.17g} {k[1, 2]:.17g}")
    return "\n".join(lines) + "\n"


def observations(scene: Scene) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For every point: its view, and its (x, y) in COLMAP coordinates of the original image."""
    v, r, c = scene.point_pixels.T
    xs = np.empty(v.shape[0])
    ys = np.empty(v.shape[0])
    for s, view in enumerate(scene.views):
        sel = v == s
        rows, cols = view.transform.model_to_original(r[sel], c[sel])
        ys[sel] = rows + 0.5
        xs[sel] = cols + 0.5
    return v, xs, ys


def images_text(scene: Scene, names: list[str], options: ExportOptions) -> str:
    v, xs, ys = observations(scene)
    point_ids = np.arange(1, v.shape[0] + 1)
    out = [
        "# Image list with two lines of data per image:",
        "#   IMAGE_ID, QW, QX, QY, QZ, TX, TY, TZ, CAMERA_ID, NAME",
        "#   POINTS2D[] as (X, Y, POINT3D_ID)",
        f"# Number of images: {scene.n_views}",
    ]
    for s in range(scene.n_views):
        options.report("writing images.txt", 0.2 + 0.3 * s / scene.n_views)
        ext = np.asarray(scene.extrinsic[s], np.float64)
        q = rotation_to_quaternion(ext[:, :3])
        t = ext[:, 3]
        out.append(
            f"{s + 1} {q[0]:.17g} {q[1]:.17g} {q[2]:.17g} {q[3]:.17g} "
            f"{t[0]:.17g} {t[1]:.17g} {t[2]:.17g} {s + 1} {names[s]}"
        )
        sel = v == s
        out.append(_fmt_rows("%.6f %.6f %d ", [xs[sel], ys[sel], point_ids[sel]]).rstrip())
    return "\n".join(out) + "\n"


def points3d_text(scene: Scene, options: ExportOptions) -> str:
    pts = np.asarray(scene.points, np.float64)
    rgb = np.asarray(scene.point_rgb, np.int64)
    v = scene.point_pixels[:, 0].astype(np.int64)
    n = pts.shape[0]
    # index of each point among its view's observations (points are ordered by view)
    starts = np.searchsorted(v, np.arange(scene.n_views))
    point2d_idx = np.arange(n) - starts[v]
    header = (
        "# 3D point list with one line of data per point:\n"
        "#   POINT3D_ID, X, Y, Z, R, G, B, ERROR, TRACK[] as (IMAGE_ID, POINT2D_IDX)\n"
        f"# Number of points: {n}\n"
    )
    parts = [header]
    chunk = 200_000
    for a in range(0, n, chunk):
        options.report("writing points3D.txt", 0.5 + 0.4 * a / max(n, 1))
        b = min(a + chunk, n)
        cols = [np.arange(a + 1, b + 1), pts[a:b, 0], pts[a:b, 1], pts[a:b, 2]]
        cols += [rgb[a:b, 0], rgb[a:b, 1], rgb[a:b, 2], v[a:b] + 1, point2d_idx[a:b]]
        parts.append(_fmt_rows("%d %.9g %.9g %.9g %d %d %d 0 %d %d\n", cols))
    return "".join(parts)


def _write_images(
    scene: Scene, folder: Path, stems: list[str], options: ExportOptions
) -> tuple[list[str], list[str]]:
    from PIL import Image

    names, warnings = [], []
    for s, view in enumerate(scene.views):
        options.report("copying images", 0.2 * s / scene.n_views)
        original = load_original(scene, s) if options.with_images else None
        if original is None:
            names.append(stems[s] + (Path(view.name).suffix.lower() or ".png"))
            continue
        if original.warning:
            warnings.append(original.warning)
        if original.source is not None and original.as_stored:
            name = stems[s] + original.source.suffix.lower()
            shutil.copyfile(original.source, folder / name)
        else:
            name = stems[s] + ".png"
            Image.fromarray(original.pixels).save(folder / name)
        names.append(name)
    return names, warnings


def export_colmap(scene: Scene, path: Path, options: ExportOptions | None = None) -> ExportResult:
    options = options or ExportOptions()
    require_points(scene)
    path = check_target(Path(path), options.force, folder=True)
    stems = view_stems(scene)
    with atomic_folder(path, options.force) as tmp:
        images = tmp / "images"
        sparse = tmp / "sparse" / "0"
        images.mkdir()
        sparse.mkdir(parents=True)
        names, warnings = _write_images(scene, images, stems, options)
        (sparse / "cameras.txt").write_text(cameras_text(scene), encoding="utf-8")
        (sparse / "images.txt").write_text(images_text(scene, names, options), encoding="utf-8")
        (sparse / "points3D.txt").write_text(points3d_text(scene, options), encoding="utf-8")
        files = sorted(p.relative_to(tmp) for p in tmp.rglob("*") if p.is_file())
        options.report("finishing", 0.95)
    options.report("done", 1.0)
    return ExportResult(path, files, warnings)
