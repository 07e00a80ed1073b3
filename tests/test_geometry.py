"""Camera conventions: pose encoding <-> extrinsics/intrinsics, depth unprojection."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import REFERENCE

from model.geometry import (
    closed_form_inverse_se3,
    extri_intri_to_pose_encoding,
    mat_to_quat,
    pose_encoding_to_extri_intri,
    quat_to_mat,
    unproject_depth_map_to_point_map,
)


@pytest.mark.parametrize("case", ["two_views", "three_views"])
def test_pose_encoding_conversion_matches_official(case) -> None:
    ref = np.load(REFERENCE / f"iggt_{case}.npz")
    h, w = ref["images"].shape[-2:]
    extrinsic, intrinsic = pose_encoding_to_extri_intri(torch.from_numpy(ref["pose_enc_last"]), (h, w))
    np.testing.assert_allclose(extrinsic.numpy(), ref["extrinsic"], atol=1e-6, rtol=1e-6)
    np.testing.assert_allclose(intrinsic.numpy(), ref["intrinsic"], atol=1e-4, rtol=1e-6)
    # numpy in -> numpy out, same values
    ext_np, intr_np = pose_encoding_to_extri_intri(ref["pose_enc_last"], (h, w))
    assert isinstance(ext_np, np.ndarray) and isinstance(intr_np, np.ndarray)
    np.testing.assert_allclose(ext_np, ref["extrinsic"], atol=1e-6)


def test_frame_zero_is_not_forced_to_identity() -> None:
    ref = np.load(REFERENCE / "iggt_two_views.npz")
    extrinsic, _ = pose_encoding_to_extri_intri(ref["pose_enc_last"], ref["images"].shape[-2:])
    assert not np.allclose(extrinsic[0, 0, :, :3], np.eye(3), atol=1e-3)


def test_quaternion_of_any_length_gives_a_rotation() -> None:
    q = torch.tensor([[0.1, -0.3, 0.2, 0.7], [2.0, 0.0, 0.0, 0.0], [0.3, 0.3, 0.3, 0.3]], dtype=torch.float64)
    rot = quat_to_mat(q)
    eye = torch.eye(3, dtype=torch.float64).expand(3, 3, 3)
    torch.testing.assert_close(rot @ rot.transpose(-1, -2), eye)
    torch.testing.assert_close(torch.linalg.det(rot), torch.ones(3, dtype=torch.float64))
    # 180 degrees about x
    torch.testing.assert_close(rot[1], torch.diag(torch.tensor([1.0, -1.0, -1.0], dtype=torch.float64)))


def test_matrix_quaternion_round_trip() -> None:
    gen = torch.Generator().manual_seed(0)
    q = torch.randn(64, 4, generator=gen, dtype=torch.float64)
    q = q / q.norm(dim=-1, keepdim=True)
    q = torch.where(q[:, 3:] < 0, -q, q)
    back = mat_to_quat(quat_to_mat(q))
    torch.testing.assert_close(back, q, atol=1e-9, rtol=0)
    assert (back[:, 3] >= 0).all()


def test_encoding_round_trip() -> None:
    gen = torch.Generator().manual_seed(1)
    q = torch.randn(2, 5, 4, generator=gen, dtype=torch.float64)
    q = q / q.norm(dim=-1, keepdim=True)
    q = torch.where(q[..., 3:] < 0, -q, q)
    t = torch.randn(2, 5, 3, generator=gen, dtype=torch.float64)
    fov = torch.rand(2, 5, 2, generator=gen, dtype=torch.float64) + 0.4
    enc = torch.cat([t, q, fov], dim=-1)
    ext, intr = pose_encoding_to_extri_intri(enc, (112, 168))
    torch.testing.assert_close(intr[..., 0, 2], torch.full((2, 5), 84.0, dtype=torch.float64))
    torch.testing.assert_close(intr[..., 1, 2], torch.full((2, 5), 56.0, dtype=torch.float64))
    torch.testing.assert_close(extri_intri_to_pose_encoding(ext, intr, (112, 168)), enc)


def test_se3_inverse() -> None:
    gen = torch.Generator().manual_seed(2)
    rot = quat_to_mat(torch.randn(4, 4, generator=gen, dtype=torch.float64))
    t = torch.randn(4, 3, 1, generator=gen, dtype=torch.float64)
    m = torch.cat([rot, t], dim=-1)
    inv = closed_form_inverse_se3(m)
    bottom = torch.tensor([[0, 0, 0, 1.0]], dtype=torch.float64).expand(4, 1, 4)
    full, full_inv = torch.cat([m, bottom], 1), torch.cat([inv, bottom], 1)
    torch.testing.assert_close(full @ full_inv, torch.eye(4, dtype=torch.float64).expand(4, 4, 4))


def test_unprojected_points_project_back_to_their_pixels() -> None:
    gen = torch.Generator().manual_seed(3)
    s, h, w = 2, 6, 8
    depth = torch.rand(s, h, w, 1, generator=gen, dtype=torch.float64) + 0.5
    rot = quat_to_mat(torch.randn(s, 4, generator=gen, dtype=torch.float64))
    ext = torch.cat([rot, torch.randn(s, 3, 1, generator=gen, dtype=torch.float64)], dim=-1)
    intr = torch.tensor([[10.0, 0, 4.0], [0, 12.0, 3.0], [0, 0, 1]], dtype=torch.float64).expand(s, 3, 3)
    world = unproject_depth_map_to_point_map(depth, ext, intr)
    assert world.shape == (s, h, w, 3)
    cam = torch.einsum("sij,shwj->shwi", ext[:, :, :3], world) + ext[:, None, None, :, 3]
    torch.testing.assert_close(cam[..., 2], depth[..., 0])
    pix = torch.einsum("sij,shwj->shwi", intr, cam)
    u, v = pix[..., 0] / pix[..., 2], pix[..., 1] / pix[..., 2]
    torch.testing.assert_close(u, torch.arange(w, dtype=torch.float64).expand(s, h, w))
    torch.testing.assert_close(v, torch.arange(h, dtype=torch.float64)[:, None].expand(s, h, w))
    out_np = unproject_depth_map_to_point_map(depth.numpy()[..., 0], ext.numpy(), intr.numpy())
    assert isinstance(out_np, np.ndarray)
    np.testing.assert_allclose(out_np, world.numpy())


def test_unprojection_matches_official_formula_on_reference() -> None:
    """Official: cam = ((u - cx) z / fx, (v - cy) z / fy, z); world = R^T cam - R^T t."""
    ref = np.load(REFERENCE / "iggt_two_views.npz")
    depth, ext, intr = ref["depth"][0, ..., 0], ref["extrinsic"][0], ref["intrinsic"][0]
    ours = unproject_depth_map_to_point_map(depth, ext, intr)
    for i in range(depth.shape[0]):
        u, v = np.meshgrid(np.arange(depth.shape[2]), np.arange(depth.shape[1]))
        cam = np.stack([(u - intr[i, 0, 2]) * depth[i] / intr[i, 0, 0],
                        (v - intr[i, 1, 2]) * depth[i] / intr[i, 1, 1], depth[i]], -1)
        rot_t = ext[i, :, :3].T
        world = cam @ rot_t.T + (-rot_t @ ext[i, :, 3])
        np.testing.assert_allclose(ours[i], world, atol=2e-5, rtol=1e-5)


def test_bad_shapes_are_rejected() -> None:
    with pytest.raises(ValueError, match="depth must be"):
        unproject_depth_map_to_point_map(np.zeros((2, 3)), np.zeros((2, 3, 4)), np.zeros((2, 3, 3)))
    with pytest.raises(ValueError, match="rotation matrices"):
        mat_to_quat(torch.zeros(2, 3, 4))
    with pytest.raises(TypeError, match=r"torch\.Tensor or numpy"):
        pose_encoding_to_extri_intri([0.0] * 9, (28, 28))  # type: ignore[arg-type]
