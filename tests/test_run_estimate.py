"""The first run of the full IGGT on a CPU is announced with its expected time (app.run_estimate), in the
CLI's log and in the settings dialog's estimate; GPUs and the small bundled model get no warning."""

from __future__ import annotations

from app.run_estimate import cpu_seconds, cpu_warning


def test_full_model_on_cpu_warns_with_the_expected_time():
    # the prior is the measured 4 views at 336x504 in about 88 s on 2 threads
    assert 80 < cpu_seconds(4, 336, 504, threads=2) < 95
    assert cpu_seconds(8, 336, 504, threads=2) == 2 * cpu_seconds(4, 336, 504, threads=2)
    warning = cpu_warning("full", "cpu", 4, 336, 504)
    assert warning is not None and "4 views at 504x336" in warning and "about" in warning
    assert cpu_warning("full", "cuda:0", 4, 336, 504) is None
    assert cpu_warning("tiny", "cpu", 4, 336, 504) is None


def test_settings_estimate_names_the_cpu_time_before_the_first_run():
    from viewer.pipeline import estimate_text

    text = estimate_text("iggt-full:model.safetensors:5000", "cpu", 4, (336, 504), 1e9, 8e9, 6, "", None)
    assert "the full iggt runs on the cpu" in text.lower() and "about 1m28s (estimate)" in text
    tiny = estimate_text("iggt-tiny:abc", "cpu", 4, (336, 504), 1e8, 8e9, 6, "", None)
    assert "measured on the first run" in tiny
