"""The reconstruction pipeline with a stand-in network that returns a synthetic room's ground truth."""

from __future__ import annotations

import threading
import time
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from app.clustering import ClusterConfig, adjusted_rand_index, synthetic_features
from app.errors import UserError
from app.images import PreprocessConfig
from app.progress import Cancelled, run_generator
from app.reconstruct import ReconstructConfig, iter_reconstruct, recluster, reconstruct

VIEWS, H, W = 4, 112, 168


class GroundTruthPredictor:
    """Implements app.inference.Predictor: depth, cameras and features from ground truth."""

    model_id = "ground-truth"

    def __init__(self, room, cap: int = 100, delay_s: float = 0.0) -> None:
        self.room, self.cap, self.delay_s = room, cap, delay_s
        self.loaded = False
        self.cancelled = threading.Event()

    def load(self) -> None:
        self.loaded = True

    def max_views(self, height: int, width: int) -> tuple[int, str]:
        return self.cap, "test cap"

    def predict(self, images, progress, cancel):
        from model.geometry import unproject_depth_map_to_point_map

        s, h, w = self.room.depth.shape
        assert images.shape == (s, 3, h, w) and images.dtype == np.float32
        assert images.min() >= 0.0 and images.max() <= 1.0
        steps = 10
        for i in range(steps):
            if cancel():
                self.cancelled.set()
                from model.errors import Cancelled as ModelCancelled

                raise ModelCancelled("stop")
            progress("aggregator", i / steps)
            time.sleep(self.delay_s / steps)
        r = self.room
        pts = unproject_depth_map_to_point_map(r.depth, r.extrinsic, r.intrinsic)
        return SimpleNamespace(
            extrinsic=r.extrinsic,
            intrinsic=r.intrinsic,
            depth=r.depth,
            depth_conf=np.full(r.depth.shape, 2.0, np.float32)
            + np.linspace(0, 1, r.depth.size).reshape(r.depth.shape),
            world_points=pts + 0.01,
            world_points_conf=np.full(r.depth.shape, 3.0, np.float32),
            points_from_depth=pts,
            features=synthetic_features(r.instance_ids, pts, seed=1),
        )


@pytest.fixture(scope="module")
def room_dir(tmp_path_factory):
    from training.synthetic import render_room

    room = render_room(3, VIEWS, H, W)
    folder = tmp_path_factory.mktemp("room")
    for i, img in enumerate(room.images):
        Image.fromarray(img).save(folder / f"view_{i}.png")
    (folder / "notes.txt").write_text("not an image")
    return room, folder


CONFIG = ReconstructConfig(preprocess=PreprocessConfig(width=W), cluster=ClusterConfig(sample_size=2000))


def test_pipeline_builds_a_consistent_scene(room_dir) -> None:
    room, folder = room_dir
    events = []
    scene = reconstruct([folder], CONFIG, GroundTruthPredictor(room), on_progress=events.append)
    assert scene.n_views == VIEWS and scene.image_size == (H, W)
    stages = [e.stage for e in events]
    assert (
        stages.index("images")
        < stages.index("inference")
        < stages.index("clustering")
        < stages.index("instances")
    )
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[-1] == pytest.approx(1.0)
    # the demo's 0.3 percentile filter drops the least confident 0.3 % of points
    assert 0.99 < scene.point_mask.mean() < 0.999
    v, r, c = scene.point_pixels.T
    np.testing.assert_allclose(scene.points, scene.point_map[v, r, c])
    # instances follow the ground truth
    assert adjusted_rand_index(scene.labels, room.instance_ids) > 0.9
    sizes = [sum(i.stats.view_pixels.values()) for i in scene.instances.values()]
    assert sizes == sorted(sizes, reverse=True)
    big = [i for i in scene.instances.values() if i.stats.point_count > 2000]
    assert big and all(i.stats.consistency is not None and i.stats.consistency > 0.8 for i in big)
    assert scene.settings.skipped_files[0].reason == "not an image file type"
    assert scene.model_id == "ground-truth"


def test_pointmap_source_and_percentile(room_dir) -> None:
    room, folder = room_dir
    cfg = ReconstructConfig(
        preprocess=PreprocessConfig(width=W),
        points_source="pointmap",
        conf_percentile=50,
        cluster=ClusterConfig(sample_size=2000),
    )
    scene = reconstruct([folder], cfg, GroundTruthPredictor(room))
    assert scene.settings.points_source == "pointmap"
    np.testing.assert_allclose(scene.point_conf, 3.0)
    cfg = ReconstructConfig(
        preprocess=PreprocessConfig(width=W), conf_percentile=50, cluster=ClusterConfig(sample_size=2000)
    )
    scene = reconstruct([folder], cfg, GroundTruthPredictor(room))
    assert scene.point_mask.mean() == pytest.approx(0.5, abs=0.01)


def test_view_cap_is_a_warning_not_a_refusal(room_dir) -> None:
    """The per-view memory estimate is rough (#22): over it, the run goes on with a note."""
    room, folder = room_dir
    events = []
    scene = reconstruct([folder], CONFIG, GroundTruthPredictor(room, cap=3), on_progress=events.append)
    assert scene.n_views == VIEWS
    note = next(n for n in scene.settings.notes if "may not fit" in n)
    assert "the memory estimate allows 3" in note and "--views 3" in note
    assert any("may not fit" in e.message for e in events)
    from app.reconstruct import view_cap_note

    with pytest.raises(UserError, match="more than 200"):
        view_cap_note(201, 500, "", (224, 308))


def test_cancel_stops_the_network_thread(room_dir) -> None:
    room, folder = room_dir
    pred = GroundTruthPredictor(room, delay_s=5.0)
    seen = []

    def cancel() -> bool:
        return any(e.stage == "inference" for e in seen)

    t = time.perf_counter()
    with pytest.raises(Cancelled):
        reconstruct([folder], CONFIG, pred, on_progress=seen.append, cancel=cancel)
    assert pred.cancelled.wait(2.0) and time.perf_counter() - t < 4.0


def test_closing_the_generator_cancels(room_dir) -> None:
    room, folder = room_dir
    pred = GroundTruthPredictor(room, delay_s=5.0)
    gen = iter_reconstruct([folder], CONFIG, pred)
    for event in gen:
        if event.stage == "inference":
            break
    gen.close()
    assert pred.cancelled.is_set()


def test_recluster_keeps_names_of_unchanged_instances(room_dir) -> None:
    room, folder = room_dir
    scene = run_generator(iter_reconstruct([folder], CONFIG, GroundTruthPredictor(room)))
    scene.update_instance(1, name="the big one")
    before = scene.labels.copy()
    edit = recluster(scene, ClusterConfig(sample_size=3000, seed=5))
    assert scene.instances[1].name == "the big one"
    assert adjusted_rand_index(scene.labels, before) > 0.9
    assert scene.settings.cluster.sample_size == 3000
    edit.revert(scene)
    np.testing.assert_array_equal(scene.labels, before)
    assert scene.settings.cluster.sample_size == CONFIG.cluster.sample_size


def scene_statistics_of(scene, labels):
    from app.instances import instance_statistics

    return instance_statistics(labels, scene.point_map, scene.point_mask, scene.depth, scene.extrinsic,
                               scene.intrinsic)


def test_compute_recluster_never_touches_the_scene(room_dir) -> None:
    from app.clustering import ClusterCache
    from app.reconstruct import ReclusterSource, compute_recluster

    room, folder = room_dir
    scene = run_generator(iter_reconstruct([folder], CONFIG, GroundTruthPredictor(room)))
    big = max(scene.instances, key=lambda i: scene.instances[i].stats.point_count)
    scene.update_instance(big, locked=True)
    events = []
    for name in ("points", "labels", "instances", "instance_changed", "layers", "edit_log", "settings"):
        getattr(scene.events, name).connect(lambda *a, name=name: events.append(name))
    labels, table, settings = scene.labels, dict(scene.instances), scene.settings
    cache = ClusterCache()
    source = ReclusterSource.of(scene)
    coarse = compute_recluster(source, ClusterConfig(sample_size=2000, min_cluster_size=30_000), cache=cache)
    fine = compute_recluster(scene, ClusterConfig(sample_size=2000, epsilon=0.0), cache=cache)
    assert events == [] and scene.labels is labels and scene.instances == table and scene.settings == settings
    assert cache.hits > 0 and coarse.n_instances != fine.n_instances
    for result in (coarse, fine):
        assert result.based_on is labels
        np.testing.assert_array_equal(result.labels == big, labels == big)  # locked: same pixels
        assert set(np.unique(result.labels)) - {0} == set(result.stats)
    # the statistics from the cached cross-view correspondences are those computed from scratch
    assert fine.stats == scene_statistics_of(scene, fine.labels)
    edit = coarse.edit(scene)
    edit.apply(scene)
    assert len(scene.instances) == coarse.n_instances
    assert scene.instances[big] == replace(table[big], stats=coarse.stats[big])  # locked: kept as it was
    edit.revert(scene)
    np.testing.assert_array_equal(scene.labels, labels)
    assert scene.instances == table and scene.settings == settings


def test_eta_uses_the_current_stage_rate_and_expected_later_stages() -> None:
    from app.progress import StagePlan

    now = [0.0]
    plan = StagePlan([("a", 1.0), ("b", 1.0)], clock=lambda: now[0])
    plan.set_expected("b", 10.0)
    now[0] = 1.0
    plan.event("a", 0.0, "start")
    now[0] = 5.0
    e = plan.event("a", 0.5, "half")  # 4 s for half of a: 4 s left of a, then b's expected 10 s
    assert e.eta_s == pytest.approx(14.0) and e.fraction == pytest.approx(0.25)
    now[0] = 6.0
    e = plan.event("b", 0.01, "b started")
    assert e.eta_s == pytest.approx(9.9)
    assert plan.event("a", 0.1, "late event").fraction >= e.fraction  # never goes backwards


def test_user_masks_and_background_filter(room_dir, tmp_path) -> None:
    room, folder = room_dir
    masks = tmp_path / "masks"
    masks.mkdir()
    keep = np.full((H, W), 255, np.uint8)
    keep[: H // 4] = 0  # "sky": the top quarter of view 0
    Image.fromarray(keep).save(masks / "view_0.png")
    cfg = ReconstructConfig(preprocess=PreprocessConfig(width=W), mask_dir=str(masks), conf_percentile=0,
                            background_filter="white", cluster=ClusterConfig(sample_size=2000))  # fmt: skip
    scene = reconstruct([folder], cfg, GroundTruthPredictor(room))
    assert not scene.point_mask[0, : H // 4].any() and scene.point_mask[0, H // 2 :].mean() > 0.5
    white = (room.images > 240).all(axis=-1)
    assert not scene.point_mask[white].any()
    assert any("no mask for view_1.png" in n for n in scene.settings.notes)


def test_degenerate_predictions_are_repaired_with_a_note() -> None:
    from app.geometry import sanitize_prediction

    s, h, w = 2, 28, 42
    pred = SimpleNamespace(
        extrinsic=np.stack([np.eye(4)[:3], np.full((3, 4), np.nan)]),
        intrinsic=np.stack([np.diag([30.0, 30.0, 1.0]), np.diag([np.inf, np.inf, 1.0])]),
        depth=np.ones((s, h, w)), depth_conf=np.full((s, h, w), 2.0), world_points=np.zeros((s, h, w, 3)),
        world_points_conf=np.full((s, h, w), np.nan), points_from_depth=np.full((s, h, w, 3), np.nan),
        features=np.ones((s, h, w, 8)),
    )  # fmt: skip
    out, notes = sanitize_prediction(pred)
    assert all(np.isfinite(a).all() for a in out.values())
    assert out["intrinsic"][1, 0, 0] == pytest.approx((w / 2) / np.tan(np.deg2rad(30)))
    np.testing.assert_array_equal(out["extrinsic"][1], np.eye(4)[:3])
    assert np.isfinite(out["points_from_depth"]).all() and (out["points_from_depth"][..., 2] == 1).all()
    assert (out["world_points_conf"] == 0).all()
    assert any("field of view for view(s) 1" in n for n in notes) and any(
        "pose for view(s) 1" in n for n in notes
    )


def test_cancel_reaches_the_real_network(room_dir, tmp_path) -> None:
    """With the real (random tiny) network, a cancel during inference stops it between blocks."""
    import torch

    from app.inference import InferenceConfig
    from model import IGGTConfig, build_iggt, save_iggt

    _, folder = room_dir
    torch.manual_seed(0)
    weights = save_iggt(build_iggt(IGGTConfig.tiny()), tmp_path / "random.safetensors")
    cfg = ReconstructConfig(preprocess=PreprocessConfig(width=W),
                            inference=InferenceConfig(weights=str(weights), device="cpu"))  # fmt: skip
    seen = []
    before = {t.name for t in threading.enumerate()}
    def cancel() -> bool:
        return any(e.stage == "inference" and e.stage_fraction > 0 for e in seen)

    with pytest.raises(Cancelled):
        reconstruct([folder], cfg, on_progress=seen.append, cancel=cancel)
    assert not any(e.stage == "points" for e in seen)
    assert {t.name for t in threading.enumerate()} - before == set()  # the network thread has ended
