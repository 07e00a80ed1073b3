"""The viewer driven like a user: open a scene, colour modes, confidence filter, picking, the Instance
panel, the instance list, the image browser, cancel, errors, save."""

from __future__ import annotations

import time

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt, QTimer
from PySide6.QtWidgets import QApplication, QDockWidget, QLineEdit, QMessageBox
from scene_factory import synthetic_scene

from app.progress import Progress
from app.scene_io import load_scene, save_scene
from viewer.colouring import COLOUR_MODES
from viewer.panels.instances import ID_ROLE
from viewer.workers import Job

OPEN_TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def scene_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("scenes") / "room.iggt"
    save_scene(synthetic_scene(seed=0, views=6), path)
    return path


@pytest.fixture
def opened(window, scene_path, qtbot):
    """The main window with the test scene opened through File > Open (a background job)."""
    assert window.open_path(scene_path)
    qtbot.waitUntil(lambda: window.document.scene is not None and window.job is None, timeout=OPEN_TIMEOUT_MS)
    yield window
    window.document.set_modified(False)  # no unsaved-changes prompt at teardown


def visible_pixel(scene, view: int, instance_id: int) -> tuple[int, int]:
    """A pixel well inside the instance's mask in ``view`` (the most interior one)."""
    from scipy.ndimage import distance_transform_edt

    inside = np.pad(scene.labels[view] == instance_id, 1)  # the image border counts as outside
    dist = distance_transform_edt(inside)[1:-1, 1:-1]
    r, c = np.unravel_index(np.argmax(dist), dist.shape)
    return int(r), int(c)


def answer_modal(button: QMessageBox.StandardButton) -> str:
    """Press ``button`` in the open modal message box; returns its text."""
    box = QApplication.activeModalWidget()
    assert isinstance(box, QMessageBox), f"no message box is open ({box})"
    text = box.text()
    box.button(button).click()
    return text


def largest_instance(scene, view: int = 0) -> int:
    counts = np.bincount(scene.labels[view].ravel())
    counts[0] = 0
    return int(counts.argmax())


def test_open_scene_shows_cloud_panels_and_title(opened, scene_path):
    w = opened
    scene = w.document.scene
    assert w.stack.currentWidget() is w.view
    assert w.view.n_points == scene.n_points == 6 * 112 * 140
    assert w.instances_panel.model.rowCount() == len(scene.instances)
    assert w.images_panel.strip.count() == scene.n_views
    assert scene_path.name in w.windowTitle()
    assert w.settings.recent_paths()[0] == str(scene_path.resolve())
    assert not w.error_dialogs


def test_colour_modes_write_the_drawn_colours(opened, qtbot):
    w, view = opened, opened.view
    scene = w.document.scene
    for n, mode in enumerate(COLOUR_MODES, start=1):
        qtbot.keyClick(w, str(n))  # the View > Colour by shortcuts
        assert view.colour_mode == mode == w.display_panel.colour_mode.currentData()
        np.testing.assert_array_equal(view.displayed_colours(), view.base_colours(mode))
    w.display_panel.set_colour_mode("instance")
    labels = scene.point_labels
    some = np.flatnonzero(labels == largest_instance(scene))[:50]
    expected = scene.instances[largest_instance(scene)].colour
    assert (view.displayed_colours()[some] == expected).all()
    assert w.settings.get("view/colour_mode", "") == "instance"


def test_confidence_slider_filters_live(opened):
    w, view = opened, opened.view
    conf = w.document.scene.point_confidence
    w.display_panel.threshold.setValue(50)
    expected = int((conf >= view.confidence_threshold_value()).sum())
    assert view.n_visible == expected
    assert abs(view.n_visible / view.n_points - 0.5) < 0.02
    assert view._poly.GetVerts().GetNumberOfCells() == expected  # only the drawn index list changed
    assert f"{expected:,} of" in w.display_panel.visible_label.text()
    w.display_panel.threshold.setValue(0)
    assert view.n_visible == view.n_points


def test_click_on_object_selects_it_and_fills_instance_panel(opened, qtbot):
    w, view = opened, opened.view
    scene = w.document.scene
    view.go_to_view(0)
    iid = largest_instance(scene, 0)
    r, c = visible_pixel(scene, 0, iid)
    x, y = view.world_to_widget(scene.point_map[0, r, c])
    t0 = time.perf_counter()
    view.click(x, y)  # a real press/release on the render widget
    pick_s = time.perf_counter() - t0
    assert w.selection.instance == iid, f"picked {w.selection.instance}, not {iid} ({pick_s * 1e3:.0f} ms)"
    inst = scene.instances[iid]
    panel = w.instance_panel
    assert inst.name in panel.name.text()
    assert panel.points.text() == f"{inst.stats.point_count:,}"
    assert panel.views.text() == f"seen in {len(inst.stats.views)} of {scene.n_views}"
    assert panel.strip.count() == scene.n_views
    # the 3D view highlights the instance and dims the others
    colours = view.displayed_colours()
    base = view.base_colours()
    chosen = scene.point_labels == iid
    np.testing.assert_array_equal(colours[chosen], base[chosen])
    assert (colours[~chosen] != base[~chosen]).any()
    # the instance list follows
    current = w.instances_panel.table.currentIndex()
    assert w.instances_panel.proxy.data(current, ID_ROLE) == iid
    # clicking empty space clears the selection
    view.click(3, 3)
    assert w.selection.instance is None


def test_views_where_an_instance_is_missing_are_marked(opened):
    w = opened
    scene = w.document.scene
    partial = [i for i, inst in scene.instances.items() if 0 < len(inst.stats.views) < scene.n_views]
    assert partial, "the test room should have an instance seen in only some views"
    w.selection.select(partial[0])
    strip = w.instance_panel.strip
    missing = [strip.item(i) for i in range(strip.count()) if "missing" in strip.item(i).text()]
    assert len(missing) == scene.n_views - len(scene.instances[partial[0]].stats.views)


def test_thumbnail_click_opens_view_and_moves_camera(opened, qtbot):
    w = opened
    scene = w.document.scene
    w.selection.select(largest_instance(scene))
    strip = w.instance_panel.strip
    item = strip.item(2)
    rect = strip.visualItemRect(item)
    qtbot.mouseClick(strip.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert w.images_panel.current_view == 2
    assert w.view.current_view == 2
    centre = -scene.extrinsic[2, :, :3].T @ scene.extrinsic[2, :, 3]
    np.testing.assert_allclose(w.view.plotter.camera.position, centre, atol=1e-4)


def test_camera_frustum_click_moves_to_that_view(opened):
    w, view = opened, opened.view
    view.reset_view()
    pts = view._frustum_points[3]
    mid = (pts[0] + pts[2]) / 2  # halfway along an edge of camera 3's frustum
    x, y = view.world_to_widget(mid)
    assert view.pick(x, y).view == 3
    view.handle_click(x, y)
    assert view.current_view == 3 and w.images_panel.current_view == 3


def test_instance_list_search_visibility_isolate_and_rename(opened, qtbot):
    w, view = opened, opened.view
    scene = w.document.scene
    panel = w.instances_panel
    iid = largest_instance(scene)
    inst = scene.instances[iid]
    word = inst.name.split()[-2]  # the category word, e.g. "bed"
    qtbot.keyClicks(panel.search, word)
    assert 0 < panel.proxy.rowCount() < len(scene.instances)
    names = [panel.proxy.index(r, 0).data() for r in range(panel.proxy.rowCount())]
    assert all(word in n for n in names)
    panel.search.clear()

    w.selection.select(iid)
    n_all = view.n_visible
    qtbot.keyClick(w, Qt.Key.Key_H)  # hide the selected instance
    assert not scene.instances[iid].visible
    assert view.n_visible == n_all - int((scene.point_labels == iid).sum())
    qtbot.keyClick(w, Qt.Key.Key_H)
    assert scene.instances[iid].visible and view.n_visible == n_all

    panel.isolate_button.setChecked(True)
    assert view.n_visible == int((scene.point_labels == iid).sum())
    panel.isolate_button.setChecked(False)
    assert view.n_visible == n_all

    # rename in place: F2 opens the editor in the table, type, Enter
    qtbot.keyClick(w, Qt.Key.Key_F2)
    editor = panel.table.viewport().findChild(QLineEdit)
    assert editor is not None and editor.text() == inst.name
    editor.selectAll()
    qtbot.keyClicks(editor, "reading bed")
    qtbot.keyClick(editor, Qt.Key.Key_Return)  # Qt commits the edit from the event loop
    qtbot.waitUntil(lambda: scene.instances[iid].name == "reading bed")
    assert w.document.modified and w.isWindowModified()
    assert "reading bed" in w.instance_panel.name.text()


def test_keyboard_navigation_in_list_moves_selection(opened, qtbot):
    w = opened
    panel = w.instances_panel
    panel.table.setFocus()
    panel.table.setCurrentIndex(panel.proxy.index(0, 0))
    first = w.selection.instance
    qtbot.keyClick(panel.table, Qt.Key.Key_Down)
    second = w.selection.instance
    assert first and second and first != second
    assert second == panel.proxy.data(panel.proxy.index(1, 0), ID_ROLE)


def test_image_browser_hover_names_instance_and_click_selects(opened, qtbot):
    w = opened
    scene = w.document.scene
    browser = w.images_panel
    browser.show()
    browser.raise_()
    browser.show_view(1)
    qtbot.waitExposed(browser.canvas)
    iid = largest_instance(scene, 1)
    r, c = visible_pixel(scene, 1, iid)
    pos = browser.canvas.widget_pos_of(r, c).toPoint()
    qtbot.mouseMove(browser.canvas, pos)
    qtbot.waitUntil(lambda: browser.hover_label.text() == scene.instances[iid].name)
    qtbot.mouseClick(browser.canvas, Qt.MouseButton.LeftButton, pos=pos)
    assert w.selection.instance == iid
    before = browser.canvas._pixmap.toImage()
    browser.opacity.setValue(0)
    assert browser.canvas._pixmap.toImage() != before


def test_cancel_a_running_job_keeps_the_scene(opened, qtbot):
    w = opened
    scene_before = w.document.scene
    closed = []

    def slow(cancelled):
        try:
            for i in range(400):
                time.sleep(0.025)
                if cancelled():
                    return None
                yield Progress("inference", f"block {i}", i / 400, i / 400, eta_s=10.0)
            return synthetic_scene(seed=1, views=2)
        finally:
            closed.append(True)

    assert w.run_job(Job("reconstruct", slow, w), lambda s: w.document.set_scene(s), "Testing", "failed")
    qtbot.waitUntil(lambda: w.jobs.progress.value() > 0 and w.jobs.cancel_button.isVisible())
    assert w.jobs.eta_label.text().startswith("ETA")
    t0 = time.perf_counter()
    qtbot.mouseClick(w.jobs.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.job is None, timeout=1000)
    assert time.perf_counter() - t0 < 1.0
    assert w.jobs.last_outcome == "cancelled"
    assert not w.jobs.cancel_button.isVisible()
    qtbot.waitUntil(lambda: closed == [True], timeout=1000)  # the step itself stopped too
    assert w.document.scene is scene_before
    assert "Cancelled" in w.statusBar().currentMessage()


def test_failing_job_shows_error_dialog_with_details(opened, qtbot):
    w = opened

    def broken(_cancelled):
        yield Progress("images", "reading", 0.1, 0.1)
        raise RuntimeError("CUDA error: device-side assert triggered")

    before = w.document.scene
    w.run_job(Job("reconstruct", broken, w), lambda s: None, "Testing", "Reconstruction failed")
    qtbot.waitUntil(lambda: w.job is None)
    assert w.error_dialogs and "RuntimeError" in w.error_dialogs[-1].text()
    assert "device-side assert" in w.error_dialogs[-1].detailedText()
    assert w.document.scene is before


def test_broken_folder_shows_readable_error(window, fast_run, tmp_path, qtbot):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "photo.jpg").write_bytes(b"this is not a jpeg")
    (folder / "notes.txt").write_text("hello")
    window.open_path(folder)
    qtbot.waitUntil(lambda: bool(window.error_dialogs) and window.job is None, timeout=OPEN_TIMEOUT_MS)
    dialog = window.error_dialogs[-1]
    assert "photo.jpg" in dialog.text()  # the loader's message names the bad file
    assert "Traceback" in dialog.detailedText()
    assert window.document.scene is None and window.stack.currentWidget() is window.empty_state


def test_empty_folder_is_refused_at_once(window, tmp_path):
    window.open_path(tmp_path)
    assert window.job is None and "No images found" in window.error_dialogs[-1].text()


def test_sample_reconstructs_in_the_background_and_cancel_keeps_it(window, fast_run, qtbot):
    """The real pipeline (tiny random network) on the bundled sample room, then a cancelled re-run."""
    fractions = []
    window.jobs.progress.valueChanged.connect(fractions.append)
    assert window.open_sample()
    qtbot.waitUntil(lambda: window.job is None, timeout=240_000)
    assert window.jobs.last_outcome == "succeeded", [d.text() for d in window.error_dialogs]
    scene = window.document.scene
    assert scene is not None and scene.n_views == 3 and window.view.n_points == scene.n_points > 0
    assert len(set(fractions)) >= 5  # the progress bar moved while the network ran
    assert window.document.modified and "not saved" in window.windowTitle()
    from viewer.pipeline import seconds_per_mpx

    assert seconds_per_mpx(window.settings, "cpu") > 0  # remembered for the next run's time estimate
    assert window.scenes.expected_run_seconds(window.document.source, fast_run) > 0

    # reconstruct again (not saving the first result), then cancel during the network pass
    QTimer.singleShot(300, lambda: answer_modal(QMessageBox.StandardButton.Discard))
    qtbot.keyClick(window, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: window.job is not None and window.jobs.progress.value() > 150, timeout=120_000)
    t0 = time.perf_counter()
    qtbot.mouseClick(window.jobs.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.job is None, timeout=1000)
    assert time.perf_counter() - t0 < 1.0 and window.jobs.last_outcome == "cancelled"
    assert window.document.scene is scene and window.view.n_points == scene.n_points


def test_save_as_then_reopen_keeps_the_rename(opened, tmp_path, qtbot):
    w = opened
    scene = w.document.scene
    iid = largest_instance(scene)
    w.edit_instance(iid, name="my sofa")
    assert w.document.modified
    target = tmp_path / "saved.iggt"
    assert w.scenes.save_to(target)
    assert not w.document.modified and w.document.path == target
    assert load_scene(target).instances[iid].name == "my sofa"


def test_unsaved_changes_prompt_on_close_can_cancel(opened, qtbot):
    w = opened
    w.edit_instance(largest_instance(w.document.scene), name="changed")
    answers = []
    QTimer.singleShot(200, lambda: answers.append(answer_modal(QMessageBox.StandardButton.Cancel)))
    assert not w.close()
    assert w.isVisible() and answers and "Save the changes" in answers[0]
    QTimer.singleShot(200, lambda: answer_modal(QMessageBox.StandardButton.Discard))
    assert w.close()


def test_presentation_mode_and_screenshot(opened, qtbot, tmp_path):
    w = opened
    qtbot.keyClick(w, Qt.Key.Key_F11)
    assert w.presenting and w.isFullScreen()
    assert not w.instances_panel.isVisible() and not w.menuBar().isVisible()
    camera = tuple(w.view.plotter.camera.position)
    qtbot.waitUntil(lambda: tuple(w.view.plotter.camera.position) != camera, timeout=3000)  # orbiting
    qtbot.keyClick(w, Qt.Key.Key_Escape)
    assert not w.presenting and w.instances_panel.isVisible() and w.menuBar().isVisible()
    png = w.view.save_screenshot(tmp_path / "shot.png")
    from PIL import Image

    image = np.asarray(Image.open(png))
    assert image.shape[0] > 100 and image.std() > 5  # a real picture, not a blank frame


def test_click_versus_drag(opened, qtbot):
    """A drag rotates the camera and does not pick."""
    view = opened.view
    picks = []
    view.picked.connect(picks.append)
    camera = tuple(view.plotter.camera.position)
    centre = QPoint(view.plotter.width() // 2, view.plotter.height() // 2)
    qtbot.mousePress(view.plotter, Qt.MouseButton.LeftButton, pos=centre)
    qtbot.mouseMove(view.plotter, centre + QPoint(60, 10))
    qtbot.mouseRelease(view.plotter, Qt.MouseButton.LeftButton, pos=centre + QPoint(60, 10))
    assert not picks
    assert tuple(view.plotter.camera.position) != camera


def test_clustering_presets_recluster_stored_features_and_recolour(opened, qtbot):
    w = opened
    scene = w.document.scene
    panel = w.clustering_panel
    assert panel.isEnabled()
    w.display_panel.set_colour_mode("instance")
    before = scene.labels.copy()
    t0 = time.perf_counter()
    qtbot.mouseClick(panel.preset_buttons["small"], Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: w.job is None and w.jobs.last_outcome == "succeeded", timeout=60_000)
    seconds = time.perf_counter() - t0
    assert scene.settings.cluster.epsilon == 0.005 and scene.settings.cluster.min_samples == 50
    assert not np.array_equal(scene.labels, before) or scene.settings.cluster_params
    assert len(scene.instances) >= 1 and w.instances_panel.model.rowCount() == len(scene.instances)
    labels = scene.point_labels
    colours = w.view.displayed_colours()
    some = np.flatnonzero(labels == next(iter(scene.instances)))[:20]
    assert (colours[some] == scene.instances[next(iter(scene.instances))].colour).all()
    assert "instances" in panel.status.text(), f"{panel.status.text()} after {seconds:.1f} s"
    assert w.document.modified
    # slider changes are debounced into one re-clustering with the slider values
    panel.epsilon.setValue(0.1)
    panel.min_size.setValue(800)
    qtbot.waitUntil(lambda: w.job is None and scene.settings.cluster.epsilon == 0.1, timeout=60_000)
    assert scene.settings.cluster.min_cluster_size == 800
    assert not any(b.isChecked() for b in panel.preset_buttons.values())


def test_settings_dialog_checks_weights_with_the_loader(window, tiny_weights, qtbot, tmp_path):
    from viewer.run_settings import RunSettings

    dialog = window.show_settings()
    dialog.weights_file_radio.setChecked(True)
    dialog.weights_file.setText(str(tmp_path / "missing.safetensors"))
    dialog.apply()
    qtbot.waitUntil(lambda: dialog.check_job is None)
    assert "not found" in dialog.status.text() and "missing.safetensors" in dialog.status.text()
    assert RunSettings.load(window.settings).weights_source == "bundled"  # nothing saved

    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    dialog.weights_file.setText(str(broken))
    dialog.apply()
    qtbot.waitUntil(lambda: dialog.check_job is None, timeout=30_000)
    assert "broken.safetensors" in dialog.status.text() and "saved" not in dialog.status.text()

    dialog.weights_file.setText(str(tiny_weights))
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    dialog.width.setValue(280)
    dialog.apply()
    qtbot.waitUntil(lambda: dialog.check_job is None, timeout=60_000)
    assert "saved" in dialog.status.text(), dialog.status.text()
    assert "views at 280×196" in dialog.estimate.text() and "GB" in dialog.estimate.text()
    run = RunSettings.load(window.settings)
    assert (run.weights_source, run.weights_file, run.image_width) == ("file", str(tiny_weights), 280)
    dialog.reject()


def test_command_line_path_opens_the_scene(qapp, scene_path, qtbot):
    from viewer.main import main

    seen = {}

    def check_then_close():
        windows = [w for w in QApplication.topLevelWidgets()
                   if w.objectName() == "main_window" and w.isVisible()]
        if not windows or windows[0].job is not None or windows[0].document.scene is None:
            QTimer.singleShot(200, check_then_close)
            return
        w = windows[0]
        seen["views"] = w.document.scene.n_views
        seen["title"] = w.windowTitle()
        seen["panels"] = sorted(d.objectName() for d in w.findChildren(QDockWidget) if d.objectName())
        w.close()
        qapp.quit()

    QTimer.singleShot(300, check_then_close)
    assert main([str(scene_path)]) == 0
    assert seen["views"] == 6 and scene_path.name in seen["title"]
    # the feature modules are installed next to the viewer's own panels
    assert {"instances_panel", "instance_panel", "images_panel", "display_panel", "clustering_panel"} <= set(
        seen["panels"])


def test_a_one_photo_scene_opens_and_its_camera_can_be_looked_through(window, tmp_path, qtbot):
    """Looking through the only camera leaves no frustum to draw; opening such a scene used to raise."""
    path = tmp_path / "one.iggt"
    save_scene(synthetic_scene(seed=1, views=1), path)
    assert window.open_path(path)
    qtbot.waitUntil(lambda: window.document.scene is not None and window.job is None, timeout=OPEN_TIMEOUT_MS)
    view = window.view
    assert view.n_points > 0
    view.go_to_view(0)
    assert view._frustum_poly.n_lines == 0  # looking through camera 0: nothing else to draw
    window.document.set_modified(False)
