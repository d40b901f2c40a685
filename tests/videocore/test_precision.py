"""Precision policy: the choice from the hardware, loss scaling, and the loop under each policy."""
import re

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.videocore import tiny_task
from videocore import errors
from videocore import loop
from videocore import precision


@pytest.fixture(autouse=True)
def keep_global_policy():
    before = keras.mixed_precision.global_policy().name
    yield
    keras.mixed_precision.set_global_policy(before)


def test_auto_follows_the_device():
    assert precision.choose_policy("auto", gpu=True, flags=()) == "mixed_float16"
    assert precision.choose_policy("auto", gpu=False, flags={"avx512f", "amx_bf16"}, onednn=True) == "mixed_bfloat16"
    assert precision.choose_policy("auto", gpu=False, flags={"avx512_bf16"}, onednn=True) == "mixed_bfloat16"
    # Without oneDNN TensorFlow's Eigen kernels emulate bf16 (slower than float32): float32.
    assert precision.choose_policy("auto", gpu=False, flags={"avx512_bf16"}, onednn=False) == "float32"
    assert precision.choose_policy("auto", gpu=False, flags={"avx512f", "avx2"}) == "float32"


def test_explicit_choices_win_and_unknown_is_a_config_error():
    assert precision.choose_policy("float32", gpu=True) == "float32"
    assert precision.choose_policy("mixed_bfloat16", gpu=False, flags=()) == "mixed_bfloat16"
    with pytest.raises(errors.ConfigError, match="bfloat16x"):
        precision.choose_policy("bfloat16x")


def test_cpu_flags_reads_cpuinfo(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Test\nflags\t\t: fpu sse avx512_bf16 amx_tile\n\n"
                       "processor\t: 1\nflags\t\t: fpu\n")
    assert precision.cpu_flags(cpuinfo) == {"fpu", "sse", "avx512_bf16", "amx_tile"}
    assert precision.cpu_flags(tmp_path / "missing") == set()


def test_auto_on_this_machine_matches_its_flags():
    # Read from the machine directly, not through precision's own helpers.
    with open("/proc/cpuinfo") as cpuinfo:
        first_flags = re.search(r"^flags\s*:(.*)$", cpuinfo.read(), re.MULTILINE)
    bf16 = first_flags is not None and re.search(r"\b(amx_bf16|avx512_bf16)\b", first_flags.group(1)) is not None
    expected = ("mixed_float16" if tf.config.list_physical_devices("GPU") else
                "mixed_bfloat16" if bf16 else "float32")
    assert precision.apply_policy("auto") == expected
    assert keras.mixed_precision.global_policy().name == expected


def test_loss_scaling_only_for_float16():
    adam = keras.optimizers.Adam()
    assert isinstance(precision.wrap_optimizer(adam, "mixed_float16"), keras.optimizers.LossScaleOptimizer)
    assert precision.wrap_optimizer(adam, "mixed_bfloat16") is adam
    assert precision.wrap_optimizer(adam, "float32") is adam


@pytest.mark.parametrize("policy", ["mixed_bfloat16", "mixed_float16"])
def test_loop_trains_under_mixed_policies(tmp_path, policy):
    before = keras.mixed_precision.global_policy().name
    config = tiny_task.tiny_config(num_steps=30, precision=policy, checkpoint_every_steps=30)
    config.noise_schedule = [0.0] * 5
    config.dropout = 0.0
    result = loop.train(lambda setup: tiny_task.TinyTask(config, setup), config, tmp_path)
    network = result.task.networks["net"]
    assert network.layers[0].compute_dtype == policy.replace("mixed_", "")
    assert network.layers[0].kernel.dtype == "float32"  # variables stay float32
    optimizer = result.task.optimizers["net"]
    assert isinstance(optimizer, keras.optimizers.LossScaleOptimizer) == (policy == "mixed_float16")
    # It learned: the loss fell well below the first steps' (targets are image means, ~0.003 variance).
    first = tiny_task.TinyTask(config, result.task.setup)
    assert result.losses["mse"] < 0.5 * float(_initial_loss(first))
    assert keras.mixed_precision.global_policy().name == before  # the loop restores the policy


def _initial_loss(task):
    prediction = np.asarray(task.networks["net"](task.images), np.float32)
    return np.mean((prediction - task.targets) ** 2)


def test_policy_scope_sets_the_policy_inside_and_restores_it_even_on_an_exception():
    keras.mixed_precision.set_global_policy("float32")
    with precision.policy_scope("mixed_bfloat16") as chosen:
        assert chosen == "mixed_bfloat16"
        assert keras.layers.Dense(2).compute_dtype == "bfloat16"
    assert keras.mixed_precision.global_policy().name == "float32"
    with pytest.raises(RuntimeError, match="boom"):
        with precision.policy_scope("mixed_float16"):
            assert keras.mixed_precision.global_policy().name == "mixed_float16"
            raise RuntimeError("boom")
    assert keras.mixed_precision.global_policy().name == "float32"
