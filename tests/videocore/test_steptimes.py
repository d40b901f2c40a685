"""The step-time cache behind every printed estimate: keyed by workload, longest measurement kept, read back."""

import logging

from tests.videocore import tiny_task
from videocore import loop
from videocore import machine
from videocore import steptimes


def test_the_key_changes_with_what_decides_a_steps_cost_and_nothing_else():
    info = machine.describe()
    config = tiny_task.tiny_config()
    key = steptimes.workload_key(config, "float32", 1, info=info)
    assert key == steptimes.workload_key(tiny_task.tiny_config(), "float32", 1, info=info)
    assert key == steptimes.workload_key(tiny_task.tiny_config(num_steps=999), "float32", 1, info=info)
    wider = tiny_task.tiny_config()
    wider.filters = 16  # any field outside the run-only blocks changes the workload
    assert key != steptimes.workload_key(wider, "float32", 1, info=info)
    assert key != steptimes.workload_key(tiny_task.tiny_config(batch_size=8), "float32", 1, info=info)
    assert key != steptimes.workload_key(config, "mixed_bfloat16", 1, info=info)
    assert key != steptimes.workload_key(config, "float32", 2, info=info)


def test_record_keeps_the_newest_median_and_survives_a_damaged_file(tmp_path):
    assert steptimes.lookup("k", tmp_path) is None
    first = steptimes.record("k", [0.3, 0.1, 0.2, 0.9], tmp_path)
    assert (first.seconds, first.steps) == (0.25, 4)
    assert steptimes.lookup("k", tmp_path) == first
    newer = steptimes.record("k", [5.0, 6.0], tmp_path)
    assert steptimes.lookup("k", tmp_path) == newer and (newer.seconds, newer.steps) == (5.5, 2)
    assert steptimes.lookup("other", tmp_path) is None
    (tmp_path / "k.json").write_text("{not json")
    assert steptimes.lookup("k", tmp_path) is None
    assert steptimes.record("k", [], tmp_path) is None


def test_the_loop_logs_and_caches_its_median_step_time(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("NEURAL_VIDEO_STEP_TIMES", str(tmp_path / "cache" / "steps"))
    config = tiny_task.tiny_config(num_steps=steptimes.WARM_UP_STEPS + steptimes.RECORD_AFTER + 3)
    with caplog.at_level(logging.INFO, logger="absl"):  # whatever verbosity an earlier test left
        loop.train(lambda setup: tiny_task.TinyTask(config, setup), config, tmp_path / "work")
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("measured ")]
    assert len(lines) == 1 and lines[0].endswith("for the remaining 3 steps")
    key = steptimes.workload_key(config, "float32", 1)
    measured = steptimes.lookup(key)
    # Recorded after RECORD_AFTER steps, then again at the end with every timed step.
    assert measured.steps == steptimes.RECORD_AFTER + 3 and 0 < measured.seconds < 5
    assert len(list((tmp_path / "cache" / "steps").glob("*.json"))) == 1


def test_a_model_named_by_a_string_has_a_key_too():
    # relive's config.model is the model's name ("wgan"), not a block of fields.
    info = machine.describe()
    config = tiny_task.tiny_config()
    config.model = "wgan"
    other = tiny_task.tiny_config()
    other.model = "conditional"
    assert steptimes.workload_key(config, "float32", 1, info=info) != steptimes.workload_key(other, "float32", 1,
                                                                                              info=info)
