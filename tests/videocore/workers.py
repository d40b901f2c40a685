"""Starts `loop_worker.py` processes and watches their checkpoints and logs, for the subprocess tests."""
import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parents[2]


class Worker:
    """One `python -m tests.videocore.loop_worker` process; its stdout+stderr go to a log file."""

    def __init__(self, workdir, output, *args, env=None, name="worker"):
        self.output = pathlib.Path(output)
        self.log_path = pathlib.Path(workdir).parent / f"{name}.log"
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "tests.videocore.loop_worker", "--workdir", str(workdir),
                   "--output", str(output), *map(str, args)]
        environment = {key: value for key, value in os.environ.items() if key != "TF_CONFIG"}
        environment.update(env or {})
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                                            env=environment)

    def log(self):
        return self.log_path.read_text()

    def wait(self, timeout=180):
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"worker timed out; log:\n{self.log()[-3000:]}") from None

    def result(self):
        """The worker's RESULT line as a dict; fails with the log's tail if there is none."""
        for line in self.log().splitlines():
            if line.startswith("RESULT "):
                return json.loads(line[len("RESULT "):])
        raise AssertionError(f"no RESULT line; log:\n{self.log()[-3000:]}")


def latest_checkpoint_step(workdir):
    """Step of the newest complete checkpoint in workdir/checkpoints (read without TF), or None."""
    state = pathlib.Path(workdir) / "checkpoints" / "checkpoint"
    try:
        match = re.search(r'^model_checkpoint_path: ".*ckpt-(\d+)"', state.read_text(), re.M)
    except OSError:
        return None
    return int(match.group(1)) if match else None


def wait_until(condition, worker, timeout=120, interval=0.005):
    """Polls `condition()` until true; fails if the worker exits first or the time runs out."""
    deadline = time.monotonic() + timeout
    while not condition():
        if worker.process.poll() is not None:
            raise AssertionError(f"worker exited ({worker.process.returncode}) first; log:\n{worker.log()[-3000:]}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; log:\n{worker.log()[-3000:]}")
        time.sleep(interval)


def free_ports(count):
    """Ports free on 127.0.0.1 right now (bound all at once so they differ)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
