"""Every test's measured step times go to one temporary folder, never the user's cache (videocore.steptimes)."""

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _step_times_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("step_times")
    before = os.environ.get("NEURAL_VIDEO_STEP_TIMES")
    os.environ["NEURAL_VIDEO_STEP_TIMES"] = str(folder)  # subprocesses the tests start inherit it
    yield folder
    if before is None:
        os.environ.pop("NEURAL_VIDEO_STEP_TIMES", None)
    else:
        os.environ["NEURAL_VIDEO_STEP_TIMES"] = before
