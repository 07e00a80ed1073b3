"""Ask the scene through a VLM (#21), against a real OpenAI-compatible server on 127.0.0.1 that answers by
looking at the pictures it gets (tests/vlm_server.py): the right crops reach the model, and every way a
server can fail ends in a clear message."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

import pytest
from vlm_server import VlmServer

from app.cli import EXIT_USER_ERROR, main
from app.semantics.ask import AnswerCache, ask, iter_ask, name_suggestions, rank_candidates
from app.semantics.ground_truth import scene_from_synthetic
from app.semantics.vlm_client import KEY_ENV, VlmClient, VlmConfig, VlmError

SEED = 950_014  # a synthetic room with three red boxes among seven objects
KEY = "sk-test-7f3a9c1e5b2d4a6f8e0c"


@pytest.fixture(scope="module")
def room():
    from training.synthetic import render_room

    return scene_from_synthetic(render_room(SEED, 3, 112, 140))


@pytest.fixture
def red(room) -> list[int]:
    ids = sorted(i for i, colour in room.colours.items() if colour == "red")
    assert 0 < len(ids) < len(room.scene.instances)
    return ids


def client_for(server: VlmServer, **kw) -> VlmClient:
    return VlmClient(VlmConfig(server.url, "looker", **kw))


def test_is_this_red_finds_exactly_the_red_instances(room, red) -> None:
    with VlmServer() as server:
        client = client_for(server)
        result = ask(room.scene, "is this red?", client, rank_candidates(room.scene, 16))
    assert sorted(result.yes) == red
    assert {a.instance for a in result.answers} == set(room.scene.instances)
    assert all(a.answer in ("yes", "no") and a.reason and 1 <= len(a.views) <= 3 for a in result.answers)
    assert result.requests == server.seen.chat_requests == len(room.scene.instances)
    assert server.seen.images == sum(len(a.views) for a in result.answers)
    assert set(server.seen.models) == {"looker"}


def test_views_are_the_ones_where_the_mask_is_largest(room) -> None:
    import numpy as np

    with VlmServer() as server:
        result = ask(room.scene, "is this red?", client_for(server), rank_candidates(room.scene, 16))
    for a in result.answers:
        areas = (room.scene.labels == a.instance).sum(axis=(1, 2))
        assert a.views == [int(v) for v in np.argsort(-areas, kind="stable")[: len(a.views)]]


def test_repeated_questions_cost_nothing(room, red) -> None:
    cache = AnswerCache()
    with VlmServer() as server:
        client = client_for(server)
        first = ask(room.scene, "is this red?", client, rank_candidates(room.scene, 16), cache=cache)
        again = ask(room.scene, "is  this red?", client, rank_candidates(room.scene, 16), cache=cache)
        other = ask(room.scene, "is this blue?", client, rank_candidates(room.scene, 2), cache=cache)
    assert first.requests == len(room.scene.instances) and again.requests == 0
    assert sorted(again.yes) == red and all(a.cached for a in again.answers)
    assert other.requests == 2  # another question is another key
    assert server.seen.chat_requests == len(room.scene.instances) + 2


def test_clip_preranks_when_there_are_more_objects_than_top(room, tmp_path, capsys) -> None:
    from app.scene_io import save_scene

    path = save_scene(room.scene, tmp_path / "room.iggt")
    before = path.read_bytes()
    with VlmServer() as server:
        code = main(["ask", str(path), "is it a box?", "--endpoint", server.url, "--model", "looker",
                     "--top", "2", "--json"])  # fmt: skip
    assert code == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert server.seen.chat_requests == 2 and len(out["answers"]) == 2
    # a question reads the scene file only: the CLIP features are kept only with --save, and it says so
    assert path.read_bytes() == before and "left unchanged (--save keeps them" in captured.err

    from app.scene_io import load_scene
    from app.semantics import ensure_embeddings, load_backend
    from app.semantics.ask import clip_order

    backend = load_backend("bundled", device="cpu")
    emb, _ = ensure_embeddings(load_scene(path), backend)
    assert [a["instance"] for a in out["answers"]] == clip_order(emb, "is it a box?", backend)[:2]


def test_cli_json_schema_and_the_key_goes_only_in_the_header(room, red, tmp_path, capsys, monkeypatch):
    from app.logging_setup import log_file_path
    from app.scene_io import save_scene

    monkeypatch.setenv(KEY_ENV, KEY)
    path = save_scene(room.scene, tmp_path / "room.iggt")
    try:
        with VlmServer(key=KEY) as server:
            code = main(["--debug", "ask", str(path), "is this red?", "--endpoint", server.url + "/v1",
                         "--model", "looker", "--json"])  # fmt: skip
    finally:  # the app attaches its log handlers once per process: later tests get the default levels
        root = logging.getLogger()
        for handler in [h for h in root.handlers if getattr(h, "_iggt", False)]:
            root.removeHandler(handler)
            handler.close()
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"question", "answers"} and out["question"] == "is this red?"
    assert all({"instance", "answer", "reason"} <= set(a) for a in out["answers"])
    assert sorted(a["instance"] for a in out["answers"] if a["answer"] == "yes") == red
    assert set(server.seen.auth) == {f"Bearer {KEY}"}
    assert server.seen.paths and all(p == "/v1/chat/completions" for p in server.seen.paths)
    log = log_file_path()
    assert log.is_file() and "asking looker at http://127.0.0.1" in log.read_text(errors="replace")
    assert KEY not in log.read_text(errors="replace")
    assert KEY.encode() not in path.read_bytes()


def test_a_wrong_key_is_one_clear_line(room, tmp_path, capsys, monkeypatch) -> None:
    from app.scene_io import save_scene

    monkeypatch.setenv(KEY_ENV, "sk-wrong")
    path = save_scene(room.scene, tmp_path / "room.iggt")
    with VlmServer(key=KEY) as server:
        code = main(["ask", str(path), "is this red?", "--endpoint", server.url, "--model", "looker"])
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR and "refused the credentials (HTTP 401)" in err and KEY_ENV in err
    assert "sk-wrong" not in err


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("malformed", "no answer: the reply was not the JSON asked for"),
        ("refuse", "no answer: the model refused: I can't help"),
    ],
)
def test_unusable_answers_are_no_answer(room, mode, message) -> None:
    with VlmServer(mode=mode) as server:
        result = ask(room.scene, "is this red?", client_for(server), rank_candidates(room.scene, 3))
    assert result.error is None and result.yes == []
    assert [a.answer for a in result.answers] == [None] * 3
    assert all(a.reason.startswith(message) for a in result.answers), result.answers


@pytest.mark.parametrize(
    ("mode", "message", "tries"),
    [
        ("error", "answered HTTP 500", 2),  # one retry, then the error
        ("garbage", "sent a reply that is not a chat completion", 1),
    ],
)
def test_server_failures_are_one_clear_line(room, tmp_path, capsys, mode, message, tries) -> None:
    from app.scene_io import save_scene

    path = save_scene(room.scene, tmp_path / "room.iggt")
    with VlmServer(mode=mode) as server:
        code = main(["ask", str(path), "is this red?", "--endpoint", server.url, "--model", "looker",
                     "--top", "2", "--retries", "1"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == EXIT_USER_ERROR and len(err) == 1 and message in err[0], err
    assert server.seen.chat_requests == 2 * tries


def test_a_slow_server_times_out_with_a_message(room) -> None:
    with VlmServer(mode="slow", delay_s=3.0) as server:
        client = client_for(server, timeout_s=0.5, retries=0)
        started = time.monotonic()
        result = ask(room.scene, "is this red?", client, rank_candidates(room.scene, 2))
        took = time.monotonic() - started
    assert result.error and "did not answer within 0.5 s" in result.error
    assert [a.answer for a in result.answers] == [None, None]
    assert took < 3.0  # did not wait for the server


def test_cancel_sends_no_further_request(room) -> None:
    with VlmServer(mode="slow", delay_s=1.0) as server:
        client = client_for(server, max_concurrent=1)
        gen = iter_ask(room.scene, "is this red?", client, rank_candidates(room.scene, 16))
        next(gen)  # started
        next(gen)
        gen.close()  # what Cancel does
        time.sleep(2.5)
    assert 1 <= server.seen.chat_requests <= 2 < len(room.scene.instances)


def test_naming_with_the_vlm_goes_through_accept_and_undo(room, red) -> None:
    from app.semantics.labeling import accept_labels, store_suggestions

    scene = room.scene
    with VlmServer() as server:
        result = ask(scene, "", client_for(server), rank_candidates(scene, 16), kind="name")
    suggestions = name_suggestions(result)
    assert {s.instance_id for s in suggestions if s.label == "red object"} == set(red)
    before = {i: inst.category for i, inst in scene.instances.items()}
    store_suggestions(scene, suggestions, "vlm", "vlm:looker")
    edit = accept_labels(scene)
    edit.apply(scene)
    assert all(scene.instances[i].category == "red object" for i in red)
    edit.revert(scene)
    assert {i: inst.category for i, inst in scene.instances.items()} == before


def test_naming_from_a_vocabulary_drops_names_outside_it(room) -> None:
    with VlmServer() as server:
        result = ask(room.scene, "", client_for(server), rank_candidates(room.scene, 16), kind="name",
                     vocabulary=["Red Object", "chair"])  # fmt: skip
    assert {a.answer for a in result.answers} == {"Red Object", None}
    assert "Choose one of: Red Object, chair" in server.seen.prompts[0]


def test_endpoint_urls_and_bad_settings() -> None:
    assert VlmConfig("http://h:8000", "m").chat_url == "http://h:8000/v1/chat/completions"
    assert VlmConfig("http://h:8000/v1/", "m").chat_url == "http://h:8000/v1/chat/completions"
    assert VlmConfig("http://h/api/v1/chat/completions", "m").models_url == "http://h/api/v1/models"
    bad_ones = (VlmConfig("ftp://h", "m"), VlmConfig("http://h", " "), VlmConfig("http://h", "m", retries=-1))
    for bad in bad_ones:
        with pytest.raises(VlmError):
            bad.validate()


def test_unreachable_server_is_one_line(room, tmp_path, capsys) -> None:
    import socket

    from app.scene_io import save_scene

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    path = save_scene(room.scene, tmp_path / "room.iggt")
    code = main(["ask", str(path), "is this red?", "--endpoint", f"http://127.0.0.1:{port}", "--model", "m",
                 "--retries", "0", "--top", "1"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == EXIT_USER_ERROR and "cannot reach the VLM server" in err and "Traceback" not in err


def test_doctor_shows_the_endpoint_and_whether_it_answers(capsys, monkeypatch) -> None:
    monkeypatch.delenv("IGGT_VLM_ENDPOINT", raising=False)
    main(["doctor", "--no-weights"])
    assert "VLM endpoint" in capsys.readouterr().out
    with VlmServer() as server:
        monkeypatch.setenv("IGGT_VLM_ENDPOINT", server.url)
        monkeypatch.setenv("IGGT_VLM_MODEL", "looker")
        main(["doctor", "--no-weights"])
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("VLM endpoint"))
    assert "model looker (listed)" in line and line.endswith("reachable")
    assert server.seen.chat_requests == 0 and server.seen.paths == ["/v1/models"]  # no images, no chat
    monkeypatch.setenv("IGGT_VLM_ENDPOINT", "http://127.0.0.1:9")
    assert main(["doctor", "--no-weights"]) == 1
    assert "NOT reachable" in capsys.readouterr().out


def test_a_scene_file_never_holds_vlm_settings(room, tmp_path: Path, monkeypatch) -> None:
    from app.scene_io import load_scene, save_scene

    monkeypatch.setenv(KEY_ENV, KEY)
    with VlmServer(key=KEY) as server:
        result = ask(room.scene, "is this red?", client_for(server), rank_candidates(room.scene, 16))
    assert result.yes
    path = save_scene(room.scene, tmp_path / "after.iggt")
    assert KEY.encode() not in path.read_bytes() and load_scene(path).instances
