"""The local backend leaves OpenMP's wait policy to the user (and the runtime): it no longer
sets OMP_WAIT_POLICY, since the thread count follows the load (tests/models/test_models_threads.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CODE = "import os\nfrom reasoner import Engine\nfrom reasoner.models import TransformersModel\nprint(os.environ.get('OMP_WAIT_POLICY'))"


@pytest.mark.parametrize(("given", "expected"), [(None, "None"), ("PASSIVE", "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_the_wait_policy_is_the_users(given: str | None, expected: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    out = subprocess.run([sys.executable, "-P", "-c", CODE], cwd=tmp_path, env=env, capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == expected
