"""The loop's evaluate hook: when it runs, where its figures go, what the Result holds."""
import numpy as np
import pytest

from tests.videocore import events
from tests.videocore import tiny_task
from videocore import loop


class EvaluatedTask(tiny_task.TinyTask):
    """TinyTask with an evaluate hook: the mean squared error on its first 8 images, and the step."""

    def __init__(self, config, setup):
        super().__init__(config, setup)
        self.evaluated = []

    def evaluate(self, step):
        self.evaluated.append(step)
        prediction = np.asarray(self.networks["net"](self.images[:8], training=False))
        return {"mse": float(np.mean((prediction - self.targets[:8]) ** 2)), "step": step, "note": "not a number"}


def train(config, workdir, task_class=EvaluatedTask):
    return loop.train(lambda setup: task_class(config, setup), config, workdir)


def test_evaluate_runs_every_n_steps_and_after_the_last_and_writes_eval_scalars(tmp_path):
    config = tiny_task.tiny_config(num_steps=10, eval_every_steps=4)
    result = train(config, tmp_path)
    assert result.task.evaluated == [4, 8, 10]
    assert result.evaluation["step"] == 10 and result.evaluation["note"] == "not a number"
    written = events.read(tmp_path / "tensorboard")
    assert [step for step, _ in written["eval/step"]] == [4, 8, 10]
    assert [float(value) for _, value in written["eval/step"]] == [4.0, 8.0, 10.0]
    assert written["eval/mse"][-1][1] == pytest.approx(result.evaluation["mse"])
    assert "eval/note" not in written  # only numbers become scalars


def test_evaluate_is_not_repeated_on_the_last_step_and_runs_again_on_resume(tmp_path):
    config = tiny_task.tiny_config(num_steps=8, eval_every_steps=4)
    assert train(config, tmp_path).task.evaluated == [4, 8]
    # A finished run started again trains no step but still gives its figures.
    again = train(config, tmp_path)
    assert again.step == 8 and again.task.evaluated == [8] and again.evaluation["step"] == 8


def test_eval_at_start_scores_a_new_run_before_its_first_step_but_not_a_resumed_one(tmp_path):
    config = tiny_task.tiny_config(num_steps=4, eval_every_steps=2, eval_at_start=True)
    first = train(config, tmp_path)
    assert first.task.evaluated == [0, 2, 4]
    assert [step for step, _ in events.read(tmp_path / "tensorboard")["eval/step"]] == [0, 2, 4]
    config.loop.num_steps = 6
    assert train(config, tmp_path).task.evaluated == [6]


def test_without_the_hook_the_evaluation_is_empty_and_zero_means_only_at_the_end(tmp_path):
    config = tiny_task.tiny_config(num_steps=5)
    assert config.loop.eval_every_steps == 0
    assert train(config, tmp_path / "plain", tiny_task.TinyTask).evaluation == {}
    assert train(config, tmp_path / "hooked").task.evaluated == [5]


def test_evaluate_returning_no_dict_is_a_type_error(tmp_path):
    class Broken(EvaluatedTask):
        def evaluate(self, step):
            return 1.0

    with pytest.raises(TypeError, match="evaluate must return a dict"):
        train(tiny_task.tiny_config(num_steps=2), tmp_path, Broken)
