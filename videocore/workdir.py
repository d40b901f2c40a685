"""A run's workdir for every method: its config.json, which method made it, its networks and values from the newest readable checkpoint.

    workdir/config.json     the run's config (what later commands rebuild the networks from)
    workdir/workdir.json    {"kind": "vaegan" | "latent_dream" | "relive"}: which method made it
    workdir/checkpoints/    written by videocore.loop: networks={name: model}, counters, schedules...

Methods call `prepare` and `save_config` when training starts, and `check`, `load_config`,
`restore`, `counter` and `schedule` to use a run: none of them names a checkpoint key or a file.
A path that is not a run of the method asked for (missing, a file, an empty folder, another
method's run) is a WorkdirError whose message is one line naming what was found.
"""

import json
import pathlib
from typing import Optional

from videocore import checkpoint
from videocore import errors
from videocore import files

CONFIG_FILE = "config.json"
KIND_FILE = "workdir.json"
CHECKPOINTS = "checkpoints"
# kind -> (what a user calls such a run, the command that trains one).
KINDS = {
    "vaegan": ("a VAE-GAN run", "run_scripts.vaegan_train"),
    "latent_dream": ("a latent-dream run", "run_scripts.latent_dream_train"),
    "relive": ("a relive run", "run_scripts.relive_train"),
    "deepdream": ("a DeepDream run", "run_scripts.deepdream_video"),
}


class WorkdirError(errors.CheckpointError):
    """A path given as a run's workdir that is not one of the method asked for."""


def describe(kind) -> str:
    """"a VAE-GAN run" for "vaegan"."""
    return KINDS[kind][0] if kind in KINDS else f"a {kind} run"


def kind_of(workdir) -> Optional[str]:
    """Which method made the run in `workdir`: its workdir.json, or for runs older than that file,
    what its config.json and files look like; None when nothing says."""
    workdir = pathlib.Path(workdir)
    try:
        kind = json.loads((workdir / KIND_FILE).read_text()).get("kind")
        if isinstance(kind, str) and kind:
            return kind
    except (OSError, ValueError, AttributeError):
        pass
    if (workdir / "sequence.json").is_file():
        return "latent_dream"
    if (workdir / "state.npz").is_file() and (workdir / "frames").is_dir():
        return "deepdream"
    try:
        saved = json.loads((workdir / CONFIG_FILE).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(saved, dict):
        return None
    if "vaegan_workdir" in saved:
        return "latent_dream"
    if "clip" in saved and "generator" in saved:
        return "relive"
    if "noise_schedule" in saved and isinstance(saved.get("model"), dict):
        return "vaegan"
    return None


def prepare(workdir, kind) -> pathlib.Path:
    """At the start of training: refuses a file or another method's run; returns the path."""
    workdir = pathlib.Path(workdir)
    if workdir.exists() and not workdir.is_dir():
        raise WorkdirError(f"{workdir}: a file, not a folder to train {describe(kind)} in")
    found = kind_of(workdir) if workdir.is_dir() else None
    if found is not None and found != kind:
        raise WorkdirError(f"{workdir}: {describe(found)}, not {describe(kind)} (use another workdir)")
    return workdir


def save_config(config, workdir, kind) -> pathlib.Path:
    """Writes `config` (a ConfigDict) as workdir/config.json and marks the workdir as `kind`'s;
    returns the config's path. Each file is written whole or not at all."""
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / CONFIG_FILE
    with files.atomic_path(path) as temp:
        temp.write_text(config.to_json_best_effort(indent=1))
    with files.atomic_path(workdir / KIND_FILE) as temp:
        temp.write_text(json.dumps({"kind": kind}, indent=1))
    return path


def check(workdir, kind) -> pathlib.Path:
    """Returns `workdir` if it holds `kind`'s run; else a WorkdirError naming what is there.

    A folder with checkpoints but neither config.json nor workdir.json (made by hand, or by an
    old version) is accepted: whether its checkpoint fits is found when restoring.
    """
    workdir = pathlib.Path(workdir)
    wanted = describe(kind)
    if not workdir.exists():
        raise WorkdirError(f"{workdir}: no such folder (give the workdir of {wanted})")
    if not workdir.is_dir():
        raise WorkdirError(f"{workdir}: a file, not the workdir of {wanted}")
    if not any(workdir.iterdir()):
        raise WorkdirError(f"{workdir}: an empty folder, not {wanted}")
    found = kind_of(workdir)
    if found is not None and found != kind:
        raise WorkdirError(f"{workdir}: {describe(found)}, not {wanted}")
    if found is None and not (workdir / CONFIG_FILE).is_file() and not (workdir / CHECKPOINTS).is_dir():
        raise WorkdirError(f"{workdir}: no config.json or checkpoints/, not {wanted}")
    return workdir


def load_config(workdir, kind) -> Optional[dict]:
    """The config `workdir`'s run was trained with, as a dict (after `check`); None if it has no
    config.json. WorkdirError for a config.json that is not JSON."""
    path = check(workdir, kind) / CONFIG_FILE
    try:
        saved = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise WorkdirError(f"{path}: not a readable JSON config ({str(error).splitlines()[0][:200]})") from None
    if not isinstance(saved, dict):
        raise WorkdirError(f"{path}: not a config (a JSON {type(saved).__name__}, not an object)")
    return saved


def latest_checkpoint(workdir) -> Optional[str]:
    """The newest checkpoint's path prefix in `workdir` (not checked for damage), or None."""
    found = checkpoint.candidates(pathlib.Path(workdir) / CHECKPOINTS)
    return found[0] if found else None


def trained_steps(workdir) -> int:
    """The step of the newest checkpoint in `workdir`; 0 without one (or without the folder)."""
    latest = latest_checkpoint(workdir)
    if latest is None:
        return 0
    step = counter(latest, "step")
    return checkpoint.checkpoint_step(latest) if step is None else step


def restore(workdir, networks, kind) -> str:
    """Restores `networks` ({name: built keras.Model}, named as the run's task named them) from the
    newest readable checkpoint of `kind`'s run in `workdir`; returns that checkpoint's path prefix.

    Damaged checkpoints are skipped with one warning each; CheckpointError when there is none, none
    is readable, or the checkpoint does not fit the networks (other sizes, other networks).
    """
    directory = check(workdir, kind) / CHECKPOINTS
    restorer = checkpoint.Checkpointer(directory, {checkpoint.NETWORKS: dict(networks)}, is_chief=False)
    path = restorer.restore()
    if path is None:
        command = KINDS.get(kind, ("", "its training script"))[1]
        raise errors.CheckpointError(f"{directory}: no checkpoint; train first with {command}")
    return path


def counter(checkpoint_path, name) -> Optional[int]:
    """The loop's counter `name` ("step", "epoch": the data epoch, "index": the batch in it) saved in
    the checkpoint at `checkpoint_path`; None if it has none."""
    value = checkpoint.read_value(checkpoint_path, checkpoint.COUNTERS, name)
    return None if value is None else int(value)


def schedule(checkpoint_path, name) -> Optional[list]:
    """The per-epoch table of the task's schedule `name` saved in the checkpoint; None if absent."""
    value = checkpoint.read_value(checkpoint_path, checkpoint.SCHEDULES, name)
    return None if value is None else [float(v) for v in value]
