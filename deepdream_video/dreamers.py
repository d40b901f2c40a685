"""The networks a run dreams with, and what this machine's memory decides for them: graph mode, tiles, estimate.

`dreamer(network, dream_layers, channels)` builds a `dream.Dreamer` once per process for each
resolved network (`plan.Network`), layer tuple and channel tuple. `Budget` is the memory a video
run may use (measured when it first starts, then kept in its state) and what follows from it: one
graph per frame or one call per step, untiled or the largest tiles that fit, and the estimate
printed before the run.
"""
import dataclasses
import functools
import os
import pathlib

from deepdream_video import dream
from deepdream_video import guide as guide_lib
from deepdream_video import layers as layers_lib
from deepdream_video import models
from videocore import errors
from videocore import steptimes

# Rough sustained GFLOP/s of the dream step, for the estimate printed before the first run of a workload
# on a machine (later runs print the seconds per frame measured here, videocore.steptimes). float32:
# bench/bench_dream.py on the 2-core development machine (58 GFLOP/s for one frame, 55 in a whole flow run
# at 540x304; 250 had been assumed and made the estimate ~4x short). The 16-bit figures are not measured
# (that machine has no bf16 instructions): twice float32, what bf16 kernels give where they exist.
_ESTIMATED_GFLOPS = {"float32": 55.0, "bfloat16": 110.0, "float16": 110.0}
# Peak memory of a gradient step is about this many times the forward activations (kept for the
# backward pass, which makes gradients of the same sizes), plus a fixed part for TF and the traced
# graphs; measured at 1920x1080 (1.5 GB for layers mixed3 + mixed5 in bfloat16).
MEMORY_PER_ACTIVATION_BYTE = 2.6
MEMORY_FIXED_BYTES = 0.6 * 2**30


def keras_network(model, weights, compute_dtype):
    """The Keras network `model` with `weights` ("random" = random init, for tests and tables)."""
    if model == "inception_v3":
        return models.inception_v3(None if weights in ("random", "none") else weights)
    from deepdream_video import applications  # deferred: only other models need it

    return applications.network(model, weights, compute_dtype)


@functools.lru_cache(maxsize=8)
def dreamer(network, dream_layers, channels):
    """The Dreamer of a `plan.Network` for resolved `dream_layers` and `channels` (tuples).

    Dreamers outlive a run, so their traced graphs serve the next run in the same process
    (`one_graph_per_frame` is set per run). The guide's content hash is part of the network, so a
    changed guide file is read again. Loads the weights; ConfigError for a channel a layer lacks.
    """
    guide_image = None
    if network.guide:
        need = max(layers_lib.min_side(network.model, layer) for layer in dream_layers)
        guide_image = guide_lib.prepare(network.guide, network.guide_size, need)
    return dream.Dreamer(keras_network(network.model, network.weights, network.compute_dtype), dream_layers,
                         channels, network.objective, network.compute_dtype, model_name=network.model,
                         guide=guide_image)


def _available_memory():
    """Bytes of memory available now (MemAvailable), or the physical memory if unknown."""
    try:
        for line in pathlib.Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


class Budget:
    """The memory a video run may use, and the graph mode and tiles it decides for the run's dreamers.

    Args:
      plan: the run's `plan.Plan`.
      memory_budget: bytes the run planned with when it first started (from its saved state, so a
        resumed run tiles and traces as before), or None: memory_budget_gb, or half the memory
        available now.
    """

    def __init__(self, plan, memory_budget=None):
        self.plan = plan
        if memory_budget is not None:
            self.bytes = float(memory_budget)
        else:
            gigabytes = plan.memory_budget_gb
            self.bytes = gigabytes * 2**30 if gigabytes > 0 else _available_memory() / 2
        self._tiles = {}
        self._one_graph_per_frame = None

    def one_graph_per_frame(self):
        """Whether the frame graphs of all the run's layer sets fit in half the memory budget
        (else each step is its own call: a little slower, far less memory)."""
        if self._one_graph_per_frame is None:
            plan = self.plan
            needs = sum(dreamer(plan.network, layers, plan.channels).frame_graph_bytes(plan.num_octaves,
                                                                                      plan.num_iterations)
                        for layers in plan.layer_sets)
            self._one_graph_per_frame = needs <= self.bytes / 2
        return self._one_graph_per_frame

    def tiles(self, frame_dreamer):
        """(tile_size, tile_margin) for the frame size: the plan's, or untiled if the frame fits in
        the memory budget, or the largest square tiles that do. ConfigError if none do."""
        key = id(frame_dreamer)
        if key in self._tiles:
            return self._tiles[key]
        plan = self.plan
        width, height = plan.size
        frame_dreamer.check_tiling(plan.tile_size, plan.tile_margin)

        def needs(h, w):
            return MEMORY_PER_ACTIVATION_BYTE * frame_dreamer.net.activation_bytes(h, w) + MEMORY_FIXED_BYTES

        if plan.tile_size:
            tiles = (plan.tile_size, plan.tile_margin)
        elif needs(height, width) <= self.bytes:
            tiles = (0, 0)
        else:
            stride = frame_dreamer.net.stride()
            tile = (max(height, width) // stride) * stride
            while tile > 2 * plan.tile_margin + stride and needs(tile, tile) > self.bytes:
                tile -= stride
            if needs(tile, tile) > self.bytes or tile <= 2 * plan.tile_margin:
                raise errors.ConfigError(
                    f"a {width}x{height} frame does not fit in {self.bytes / 2**30:.1f} GB even in tiles; "
                    "set a smaller size, or a larger memory_budget_gb")
            tiles = (tile, plan.tile_margin)
        self._tiles[key] = tiles
        return tiles

    def workload_key(self):
        """The steptimes key of this run's seconds per frame on this machine: what decides a frame's cost
        (the network, size, layers, octaves, iterations, mode; not the memory-dependent tiling)."""
        plan = self.plan
        return steptimes.key_for({
            "method": "deepdream", "network": dataclasses.asdict(plan.network), "size": list(plan.size),
            "layer_sets": [list(layers) for layers in plan.layer_sets], "channels": list(plan.channels),
            "num_iterations": plan.num_iterations, "num_octaves": plan.num_octaves, "octave_scale": plan.octave_scale,
            "keyframes": len(plan.keyframes), "mode": plan.mode, "flow_method": plan.flow_method})

    def describe(self, frames):
        """The memory and time estimate printed before a run of `frames` frames."""
        plan = self.plan
        values = plan.frame_values(0)
        frame_dreamer = dreamer(plan.network, values["dream_layers"], values["channels"])
        tile_size, tile_margin = self.tiles(frame_dreamer)
        width, height = plan.size
        sizes = dream.octave_sizes(height, width, values["num_octaves"], values["octave_scale"])
        gflop = 2 * values["num_iterations"] * sum(frame_dreamer.net.flops(h, w) for h, w in sizes) / 1e9
        measured = steptimes.lookup(self.workload_key())
        seconds = measured.seconds if measured else gflop / _ESTIMATED_GFLOPS[plan.network.compute_dtype]
        basis = (f"measured here over {measured.steps} frames" if measured else
                 f"at ~{_ESTIMATED_GFLOPS[plan.network.compute_dtype]:.0f} GFLOP/s, not yet measured here")
        spans = dream.tile_spans(height, tile_size, tile_margin), dream.tile_spans(width, tile_size, tile_margin)
        tile_h = max(end - start for *_, start, end in spans[0])
        tile_w = max(end - start for *_, start, end in spans[1])
        memory = MEMORY_PER_ACTIVATION_BYTE * frame_dreamer.net.activation_bytes(tile_h, tile_w) + MEMORY_FIXED_BYTES
        if self.one_graph_per_frame() and not tile_size:
            memory += sum(dreamer(plan.network, layers, values["channels"]).frame_graph_bytes(
                values["num_octaves"], values["num_iterations"]) for layers in plan.layer_sets)
        tiling = (f"{len(spans[0]) * len(spans[1])} tiles of <= {tile_w}x{tile_h}" if tile_size else
                  "untiled, one graph per frame" if self.one_graph_per_frame() else "untiled, one call per step")
        return (f"{plan.video.name}: {frames} frames at {width}x{height}, {plan.info.fps} fps, "
                f"mode {plan.mode}, "
                f"{plan.network.compute_dtype}; ~{gflop:.0f} GFLOP/frame, ~{seconds:.2f} s/frame ({basis}), "
                f"~{frames * seconds / 60:.1f} min; ~{memory / 2**30:.1f} GB of memory ({tiling})")
