"""Issue #17 item 10: isolating frames the instance and hides the camera frusta (back when isolation ends);
the view image at 2x with a legend of instance names."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage
from scene_factory import synthetic_scene

from app.scene_io import save_scene
from viewer import view_image
from viewer.view_image import install_view_image


def test_isolate_frames_the_instance_and_view_image_at_2x_with_legend(
    make_window, tmp_path, monkeypatch, qtbot
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path = tmp_path / "room.iggt"
    save_scene(synthetic_scene(seed=5, views=3), path)
    window = make_window()
    images = install_view_image(window)
    assert window.open_path(path)
    qtbot.waitUntil(lambda: window.document.scene is not None and window.job is None, timeout=30_000)
    scene, view = window.document.scene, window.view
    window.actions_["cameras"].setChecked(True)
    assert view.frustums_drawn
    labels = np.asarray(scene.point_labels)
    small = min((i for i in scene.instances if np.count_nonzero(labels == i) >= 30),
                key=lambda i: np.count_nonzero(labels == i))  # fmt: skip
    pts = np.asarray(scene.points)[labels == small]
    focal_before = np.array(view.camera.focal_point)
    window.selection.select(small)
    window.actions_["isolate"].trigger()
    centre = (np.percentile(pts, 1, axis=0) + np.percentile(pts, 99, axis=0)) / 2
    focal = np.array(view.camera.focal_point)
    assert np.linalg.norm(focal - centre) < 1e-3 < np.linalg.norm(focal_before - centre)
    assert not view.frustums_drawn and view.frustums_visible  # no cameras over it; Show cameras stays
    # the framed instance fills a good part of the view: its points project inside the widget
    xy = np.array([view.world_to_widget(p) for p in pts[:: max(1, len(pts) // 50)]])
    w, h = view.plotter.width(), view.plotter.height()
    assert ((xy[:, 0] >= 0) & (xy[:, 0] <= w) & (xy[:, 1] >= 0) & (xy[:, 1] <= h)).all()
    spread = np.ptp(xy, axis=0)
    assert spread.max() > 0.3 * min(w, h)
    window.actions_["isolate"].trigger()  # showing everything again brings the cameras back
    assert view.frustums_drawn

    target = tmp_path / "shot.png"
    monkeypatch.setattr(view_image, "ask_view_image", lambda _p, start: (target, 2, True))
    assert images.save() == target
    image = QImage(str(target))
    ratio = view.plotter.devicePixelRatioF()
    size = view.plotter.ren_win.GetSize()
    assert (image.width(), image.height()) == (2 * size[0], 2 * size[1]), (ratio, size)
    biggest = max(scene.instances, key=lambda i: scene.instances[i].stats.point_count)
    # the legend's first swatch is the biggest instance's colour
    assert image.pixelColor(2 * 8 * 2 + 4, 2 * 8 * 2 + 4) == QColor(*scene.instances[biggest].colour)
    window.document.set_modified(False)


def test_presentation_keeps_the_whole_scene_in_view_as_it_turns(make_window, tmp_path, monkeypatch,
                                                                qtbot) -> None:
    """Presentation mode cropped the scene (framed to fill the view from the first photo, then turned);
    leaving it gives back the camera and the selection."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    path = tmp_path / "room.iggt"
    save_scene(synthetic_scene(seed=5, views=3), path)
    window = make_window()
    assert window.open_path(path)
    qtbot.waitUntil(lambda: window.document.scene is not None and window.job is None, timeout=30_000)
    scene, view = window.document.scene, window.view
    iid = next(iter(scene.instances))
    window.selection.select(iid)
    pose = view.camera_pose()
    window.actions_["presentation"].setChecked(True)
    camera = tuple(view.camera.position)
    qtbot.waitUntil(lambda: tuple(view.camera.position) != camera, timeout=3000)  # turning
    pts = np.asarray(scene.points)[:: max(1, len(scene.points) // 400)]
    for _step in range(8):  # all the way round
        view.orbit(45)
        xy = np.array([view.world_to_widget(p) for p in pts])
        w, h = view.plotter.width(), view.plotter.height()
        inside = (xy[:, 0] >= 0) & (xy[:, 0] <= w) & (xy[:, 1] >= 0) & (xy[:, 1] <= h)
        assert inside.all(), f"{np.count_nonzero(~inside)} of {len(pts)} points out of view"
    window.actions_["presentation"].setChecked(False)
    assert view.camera_pose() == pose and window.selection.instance == iid
    window.document.set_modified(False)
