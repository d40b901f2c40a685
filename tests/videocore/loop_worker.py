"""Runs the loop on the tiny task in its own process (for kill / signal / multi-worker tests).

Writes the final weights of every network and optimizer to --output (.npz) and prints one line
`RESULT {json}` with the step, data position and the signal that stopped it, if any.
"""
import argparse
import json
import os
import sys

from absl import logging


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--num_steps", type=int, default=20)
    parser.add_argument("--checkpoint_every", type=int, default=5)
    parser.add_argument("--distribute", default="default")
    parser.add_argument("--cpu_replicas", type=int, default=1)
    parser.add_argument("--batch_size", type=int, default=4)
    parser.add_argument("--dropout", type=float, default=0.25)
    parser.add_argument("--deterministic", action="store_true")
    # The noise is drawn per replica, so runs over different replica counts differ unless it is off.
    parser.add_argument("--no_noise", action="store_true")
    parser.add_argument("--clip_value", type=float, default=0.0)
    parser.add_argument("--sample_sleep", type=float, default=0.0, help="seconds slept after each step")
    args = parser.parse_args()
    logging.set_verbosity(logging.INFO)

    # Imported after argument parsing so that --help is quick; the strategy is still the first TF work.
    import numpy as np

    from tests.videocore import tiny_task
    from videocore import loop

    config = tiny_task.tiny_config(
        num_steps=args.num_steps, checkpoint_every_steps=args.checkpoint_every,
        distribute=args.distribute, cpu_replicas=args.cpu_replicas, batch_size=args.batch_size,
        deterministic=args.deterministic, log_every_steps=5)
    config.dropout = args.dropout
    config.clip_value = args.clip_value
    if args.sample_sleep:
        config.sample_sleep = args.sample_sleep
        config.loop.sample_every_steps = 1
    if args.no_noise:
        config.noise_schedule = [0.0]
    result = loop.train(lambda setup: tiny_task.TinyTask(config, setup), config, args.workdir)
    arrays = tiny_task.weights(result.task)
    temp = args.output + ".tmp.npz"
    np.savez(temp, **arrays)
    os.replace(temp, args.output)
    summary = dict(step=result.step, position=list(result.position), stopped_by=result.stopped_by,
                   checkpoint=result.checkpoint, traces=result.traces,
                   positions_started=[list(p) for p in result.task.positions_started])
    print("RESULT " + json.dumps(summary), flush=True)


if __name__ == "__main__":
    sys.exit(main())
