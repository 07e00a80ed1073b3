"""The Find panel: debounced open-vocabulary queries, ranked list with scores, heat highlight, Label all,
and its wiring into the main window and the 3D view."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from app.semantics.ground_truth import scene_from_synthetic
from viewer.panels.query import QueryPanel, apply_overlay, install_query_panel


@pytest.fixture(scope="module")
def gt():
    import torch

    from training.synthetic import render_room

    torch.set_num_threads(1)
    return scene_from_synthetic(render_room(950_003, 3, 112, 140))


@pytest.fixture
def panel(qtbot, gt):
    selected = []
    edits = []

    def push(edit):
        edits.append(edit)
        edit.apply(gt.scene)

    p = QueryPanel(select=selected.append, push_edit=push)
    p.selected, p.edits = selected, edits
    qtbot.addWidget(p)
    p.set_scene(gt.scene)
    return p


def _wait_ready(qtbot, panel) -> None:
    qtbot.waitUntil(lambda: panel.ready() and panel.job is None, timeout=120_000)


def test_typing_ranks_all_objects_and_lights_up_matches(qtbot, panel, gt) -> None:
    overlays = []
    panel.highlight_changed.connect(overlays.append)
    qtbot.keyClicks(panel.edit, "plant")
    _wait_ready(qtbot, panel)
    qtbot.waitUntil(lambda: panel.table.rowCount() > 0, timeout=10_000)
    ids = panel.ranked_ids()
    assert sorted(ids) == sorted(int(i) for i in panel.embeddings.instance_ids)
    scores = [float(panel.table.item(r, 2).text()) for r in range(panel.table.rowCount())]
    assert scores == sorted(scores, reverse=True)
    overlay = overlays[-1]
    verdicts = panel.verdicts()
    assert set(overlay) == {i for i, v in zip(ids, verdicts, strict=True) if v == "match"} != set()
    assert set(overlay) == set(panel.result.matched())
    assert all(len(c) == 3 and all(0 <= v <= 255 for v in c) for c in overlay.values())
    assert panel.backend.model_id in gt.scene.embeddings  # cached in the scene for the next time
    panel.table.selectRow(0)
    assert panel.selected[-1] == ids[0]


def test_typing_is_debounced_to_one_query(qtbot, panel, monkeypatch) -> None:
    qtbot.keyClicks(panel.edit, "x")
    _wait_ready(qtbot, panel)
    panel.edit.clear()
    calls = []
    import viewer.panels.query as mod

    real = mod.run_query
    monkeypatch.setattr(mod, "run_query", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    qtbot.keyClicks(panel.edit, "red sofa")
    qtbot.waitUntil(lambda: len(calls) >= 1, timeout=5_000)
    qtbot.wait(300)
    assert calls == ["red sofa"]


def test_bad_and_empty_queries_clear_the_highlight_with_a_message(qtbot, panel) -> None:
    qtbot.keyClicks(panel.edit, "lamp")
    _wait_ready(qtbot, panel)
    qtbot.waitUntil(lambda: panel.table.rowCount() > 0, timeout=10_000)
    overlays = []
    panel.highlight_changed.connect(overlays.append)
    panel.edit.setText(" , ,")
    panel.run_now()
    assert panel.table.rowCount() == 0 and overlays[-1] == {}
    assert "separators" in panel.status.text()
    panel.edit.setText("椅子" * 6000)
    panel.run_now()
    assert panel.table.rowCount() == len(panel.embeddings.instance_ids)
    assert "cut" in panel.status.text()
    panel.edit.clear()
    panel.run_now()
    assert overlays[-1] == {} and panel.table.rowCount() == 0


def test_several_phrases_are_listed_with_their_phrase(qtbot, panel) -> None:
    qtbot.keyClicks(panel.edit, "chair, table")
    _wait_ready(qtbot, panel)
    qtbot.waitUntil(lambda: panel.table.rowCount() > 0, timeout=10_000)
    names = [panel.table.item(r, 1).text() for r in range(panel.table.rowCount())]
    assert all(n.endswith("(chair)") or n.endswith("(table)") for n in names)


def test_label_all_then_accept_sets_categories_through_an_edit(qtbot, panel, gt) -> None:
    panel.vocabulary.setCurrentIndex(panel.vocabulary.findData("synthetic"))
    panel.label_all()
    _wait_ready(qtbot, panel)
    qtbot.waitUntil(lambda: panel.accept_button.isEnabled(), timeout=10_000)
    suggested = {i: inst.extra["semantic_label"]["label"] for i, inst in gt.scene.instances.items()
                 if "semantic_label" in inst.extra}  # fmt: skip
    assert set(suggested) == {int(i) for i in panel.embeddings.instance_ids}
    weak = {i for i, inst in gt.scene.instances.items() if inst.extra.get("semantic_label", {}).get("weak")}
    assert len(weak) < len(suggested)
    panel.accept_all()
    assert len(panel.edits) == 1 and panel.edits[0].op == "accept_labels"
    assert all(gt.scene.instances[i].category == label for i, label in suggested.items() if i not in weak)
    assert all(gt.scene.instances[i].category != label for i, label in suggested.items() if i in weak)
    panel.edits[0].revert(gt.scene)


def test_overlay_colours_matching_points_and_dims_the_rest(gt) -> None:
    class FakeView:
        scene = gt.scene
        colour_mode = "rgb"

        def __init__(self):
            self.colours = np.asarray(gt.scene.point_rgb).copy()
            self.rendered = 0
            self.modes = []

        def displayed_colours(self):
            return self.colours

        def base_colours(self):
            return np.asarray(gt.scene.point_rgb)

        def _background_rgb(self):
            return (0, 0, 0)

        def request_render(self):
            self.rendered += 1

        def set_colour_mode(self, mode):
            self.modes.append(mode)

    view = FakeView()
    target = int(next(iter(gt.scene.instances)))
    apply_overlay(view, {target: (255, 0, 0)})
    labels = np.asarray(gt.scene.point_labels)
    assert (view.colours[labels == target] == [255, 0, 0]).all()
    others = labels != target
    assert (
        view.colours[others].astype(int).sum(1) <= np.asarray(gt.scene.point_rgb)[others].astype(int).sum(1)
    ).all()
    assert view.rendered == 1
    apply_overlay(view, {})
    assert view.modes == ["rgb"]


def test_installs_into_the_main_window(window, gt, qtbot) -> None:
    panel = install_query_panel(window)
    assert window.findChild(QueryPanel, "query_panel") is panel
    window.document.set_scene(gt.scene)
    assert panel.scene is gt.scene and panel.edit.isEnabled()


def test_a_model_change_during_the_features_job_discards_its_result(qtbot, panel, monkeypatch) -> None:
    """Features computed for the previous CLIP model are not installed; the new model's are computed."""
    import viewer.panels.query as query
    from app.paths import WEIGHTS_DIR

    specs = []
    real_step = query._prepare_step

    def recording_step(scene, spec, backend):
        specs.append(spec)
        return real_step(scene, spec, backend)

    monkeypatch.setattr(query, "_prepare_step", recording_step)
    panel.set_model(lambda: "bundled")
    qtbot.keyClicks(panel.edit, "table")
    qtbot.waitUntil(lambda: panel.job is not None, timeout=10_000)
    new_spec = str(WEIGHTS_DIR / "clip-tiny.safetensors")
    panel.set_model(lambda: new_spec)  # the setting changes while the first job runs
    qtbot.waitUntil(lambda: len(specs) == 2 and panel.ready() and panel.job is None, timeout=120_000)
    assert specs == ["bundled", new_spec]
    qtbot.waitUntil(lambda: panel.table.rowCount() > 0, timeout=10_000)


def test_status_follows_the_scene(qtbot, gt) -> None:
    p = QueryPanel(select=lambda i: None, push_edit=lambda e: None)
    qtbot.addWidget(p)
    p.set_scene(None)
    assert p.status.text() == "Open a scene with instances to search it." and not p.edit.isEnabled()
    p.set_scene(gt.scene)  # a scene with instances: no stale "open a scene" message
    assert p.status.text() == "Type a phrase to find objects." and p.edit.isEnabled()


# ------------------------------------------------------------------------ real photos (#17 item 12)
@pytest.fixture(scope="module")
def real_scene():
    from real_photos import room_png_3

    return room_png_3()


@pytest.fixture
def real_panel(qtbot, real_scene):
    p = QueryPanel(select=lambda i: None, push_edit=lambda e: e.apply(real_scene))
    qtbot.addWidget(p)
    p.set_scene(real_scene)
    p.show()
    return p


def _query(qtbot, panel, text: str) -> list[dict]:
    overlays = []
    panel.highlight_changed.connect(overlays.append)
    panel.edit.setText(text)
    qtbot.waitUntil(lambda: panel.ready() and panel.job is None, timeout=180_000)
    panel.run_now()
    qtbot.waitUntil(lambda: panel.table.rowCount() > 0, timeout=10_000)
    return overlays


def test_real_photos_chair_says_no_confident_match_and_lights_nothing(qtbot, real_panel) -> None:
    overlays = _query(qtbot, real_panel, "chair")
    n = real_panel.table.rowCount()
    assert overlays[-1] == {}  # was: 15 of 24 objects lit up
    assert real_panel.status.text().startswith("No confident match for “chair”")
    verdicts = real_panel.verdicts()
    assert "match" not in verdicts and 1 <= verdicts.count("weak") <= 3
    assert verdicts[: verdicts.count("weak")] == ["weak"] * verdicts.count("weak")  # best guesses first
    assert n == len(real_panel.embeddings.instance_ids)  # the whole ranking is still shown
    # the guesses do not look less sure than the rows below them (weak rows were the greyed ones)
    grey = [real_panel.table.item(r, 1).foreground().color().name() == "#8c8c8c" for r in range(n)]
    k = verdicts.count("weak")
    assert not any(grey[:k]) and all(grey[k:])


def test_real_photos_a_clear_best_below_the_threshold_is_lit(qtbot, real_panel) -> None:
    overlays = _query(qtbot, real_panel, "banana")
    best = real_panel.ranked_ids()[0]
    assert float(real_panel.table.item(0, 2).text()) < 0.5  # below the fixed threshold: was "0 of N match"
    assert set(overlays[-1]) == {best} and real_panel.verdicts()[0] == "match"
    assert real_panel.status.text().startswith(f"1 of {real_panel.table.rowCount()} objects matches “banana”")


def test_real_photos_label_all_marks_weak_labels(qtbot, real_panel, real_scene) -> None:
    real_panel.vocabulary.setCurrentIndex(real_panel.vocabulary.findData("scannet20"))
    real_panel.label_all()
    qtbot.waitUntil(lambda: real_panel.ready() and real_panel.job is None, timeout=180_000)
    qtbot.waitUntil(lambda: "labelled" in real_panel.status.text(), timeout=10_000)
    labels = {i: inst.extra["semantic_label"] for i, inst in real_scene.instances.items()
              if "semantic_label" in inst.extra}  # fmt: skip
    confident = {i: x["label"] for i, x in labels.items() if not x["weak"]}
    assert len(confident) <= len(labels) // 4
    assert not set(confident.values()) & {"table", "chair", "sofa", "bed"}
    shown = real_panel.verdicts()
    assert shown.count("weak") == len(labels) - len(confident) and shown[-1] == "weak"
    assert "weak" in real_panel.status.text()


def test_real_photos_banner_names_the_synthetic_models_and_links_to_models(qtbot, real_panel) -> None:
    assert real_panel.banner.isVisible()
    assert "trained on synthetic rooms only" in real_panel.banner.text()
    with qtbot.waitSignal(real_panel.models_requested, timeout=1_000):
        real_panel.banner.linkActivated.emit("models")


def test_banner_is_hidden_for_real_models(qtbot, gt) -> None:
    real_clip = "ViT-B-16:laion2b_s34b_b88k"
    p = QueryPanel(select=lambda i: None, push_edit=lambda e: None, model_spec=lambda: real_clip)
    qtbot.addWidget(p)
    p.show()
    p.set_scene(gt.scene)  # ground-truth masks, not the bundled IGGT
    assert not p.banner.isVisible()
    p.set_model(lambda: "bundled")
    assert p.banner.isVisible() and "bundled CLIP model was" in p.banner.text()


def test_banner_link_opens_settings_models(window, qtbot) -> None:
    from viewer.models_page import ModelsDialog

    panel = install_query_panel(window)
    panel.models_requested.emit()  # what the banner's link does
    qtbot.waitUntil(lambda: any(d.isVisible() for d in window.findChildren(ModelsDialog)), timeout=5_000)
    for d in window.findChildren(ModelsDialog):
        d.close()
    window.settings_dialog.close()


def test_changed_objects_clear_the_result_instead_of_searching_again(qtbot, monkeypatch) -> None:
    """#17 item 4: a re-clustering or an edit does not re-run the last query by itself."""
    from app.edits import merge
    from training.synthetic import render_room

    scene = scene_from_synthetic(render_room(950_003, 3, 112, 140)).scene  # its own: this test edits it
    panel = QueryPanel(select=lambda _i: None, push_edit=lambda e: e.apply(scene))
    qtbot.addWidget(panel)
    panel.set_scene(scene)
    overlays = []
    panel.highlight_changed.connect(overlays.append)
    qtbot.keyClicks(panel.edit, "plant")
    _wait_ready(qtbot, panel)
    qtbot.waitUntil(lambda: panel.table.rowCount() > 0, timeout=10_000)
    import viewer.panels.query as mod

    calls = []
    real = mod.run_query
    monkeypatch.setattr(mod, "run_query", lambda *a, **k: calls.append(a[1]) or real(*a, **k))
    merge(scene, sorted(scene.instances)[:2]).apply(scene)
    qtbot.wait(600)  # longer than the typing debounce
    assert calls == [] and panel.job is None  # no search and no feature job started by itself
    assert panel.table.rowCount() == 0 and overlays[-1] == {}
    assert "press Enter" in panel.status.text()
    qtbot.keyClick(panel.edit, Qt.Key.Key_Return)  # the user asks again: it searches the new objects
    _wait_ready(qtbot, panel)
    qtbot.waitUntil(lambda: panel.table.rowCount() > 0, timeout=10_000)
    assert calls == ["plant"]
    panel.set_scene(None)
