"""The local backend chooses OpenMP's wait policy before torch loads, in every entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

CODE = "import os\nfrom reasoner import Engine\nfrom reasoner.models import TransformersModel\nprint(os.environ.get('OMP_WAIT_POLICY'))"


@pytest.mark.parametrize(("given", "expected"), [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_the_library_sets_a_passive_wait_policy_unless_the_user_chose(given: str | None, expected: str, tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given is not None:
        env["OMP_WAIT_POLICY"] = given
    out = subprocess.run([sys.executable, "-P", "-c", CODE], cwd=tmp_path, env=env, capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip() == expected
