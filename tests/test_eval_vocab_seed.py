"""`iggt eval-vocab --seed`: the first held-out room can be chosen, as with `iggt eval`."""

from __future__ import annotations

import json

import pytest

from app.cli import main

ARGS = ["eval-vocab", "--scenes", "1", "--views", "2", "--size", "112x140", "--no-baseline", "--json"]


def test_seed_chooses_the_rooms(capsys: pytest.CaptureFixture[str]) -> None:
    results = []
    for seed in (5000, 5001):
        assert main([*ARGS, "--seed", str(seed)]) == 0
        results.append(json.loads(capsys.readouterr().out))
    assert [r["first_seed"] for r in results] == [5000, 5001]
    # other rooms, other objects: the queries or the scores differ
    assert (results[0]["queries"], results[0]["top1"]) != (results[1]["queries"], results[1]["top1"])


@pytest.mark.parametrize("seed", ["-1", "999999"])
def test_training_rooms_and_negative_seeds_are_refused(seed: str, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["eval-vocab", "--scenes", "2", "--views", "2", "--size", "112x140", "--no-baseline"]
    args += ["--seed", seed]
    assert main(args) == 1
    err = capsys.readouterr().err
    assert "--seed" in err and len(err.strip().splitlines()) == 1
