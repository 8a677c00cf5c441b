"""The installed package: one `reasoner` namespace, every subpackage importable from outside
the checkout, nothing top-level of ours, a light `import reasoner`, and the checkout never
shadowing installed packages (transformers imports a top-level `kernels` of its own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib.metadata import distribution
from pathlib import Path

import pytest

SUBPACKAGES = ["tools", "planner", "grammars", "models", "kernels", "evals"]
CHECKOUT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _editable() -> bool:
    text = distribution("reasoner").read_text("direct_url.json") or "{}"
    return bool(json.loads(text).get("dir_info", {}).get("editable", False))


def _python(code: str, cwd: Path) -> dict[str, object]:
    out = subprocess.run([sys.executable, "-P", "-c", code], cwd=cwd, capture_output=True, text=True, check=True, timeout=120)
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_subpackages_import_from_outside_the_checkout(tmp_path: Path) -> None:
    code = (
        "import importlib, importlib.util, json, reasoner\n"
        f"names = {SUBPACKAGES!r}\n"
        "files = {n: importlib.import_module('reasoner.' + n).__file__ for n in names}\n"
        "files['reasoner'] = reasoner.__file__\n"
        "top = {}\n"
        "for n in names:\n"
        "    spec = importlib.util.find_spec(n)\n"
        "    top[n] = spec.origin if spec is not None else None\n"
        "print(json.dumps({'files': files, 'top': top}))\n"
    )
    result = _python(code, tmp_path)
    files = {k: Path(v) for k, v in result["files"].items()}  # type: ignore[attr-defined]
    ours = {str(f.parent) for f in files.values()} | {str(CHECKOUT / n) for n in SUBPACKAGES}
    # A top-level `kernels` (Hugging Face's, pulled in by transformers) may exist; it must not be ours.
    for name, origin in result["top"].items():  # type: ignore[attr-defined]
        if origin is not None:
            assert str(Path(origin).parent) not in ours, f"top-level {name!r} comes from reasoner: {origin}"
    for name in SUBPACKAGES:
        if _editable():
            assert files[name].parent == CHECKOUT / name
        else:
            assert files[name].parent == files["reasoner"].parent / name
            assert "site-packages" in files[name].parts, f"{name} imported from the checkout: {files[name]}"


def test_distribution_installs_only_the_reasoner_namespace() -> None:
    dist = distribution("reasoner")
    tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith(("reasoner-", "..", "/"))}
    tops.discard("__editable__")
    tops = {t for t in tops if not t.startswith("__editable__")}
    if _editable():  # an editable install maps reasoner.* onto the checkout through a finder module
        assert not tops & set(SUBPACKAGES), tops
        return
    assert tops <= {"reasoner", "bin"}, tops
    assert "py.typed" in {Path(str(f)).name for f in dist.files or []}, "py.typed is not shipped"


HEAVY = ("torch", "transformers", "llguidance", "xgrammar", "outlines", "matplotlib")


@pytest.mark.parametrize(
    "code",
    [
        "import reasoner",
        "from reasoner import Engine, tool, reason, Plan, ToolRegistry",
        "import reasoner.cli",
    ],
)
def test_import_is_light(code: str, tmp_path: Path) -> None:
    check = f"import json, sys\n{code}\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    out = subprocess.run([sys.executable, "-P", "-c", check], cwd=tmp_path, capture_output=True, text=True, check=True, timeout=120)
    assert json.loads(out.stdout) == [], f"{code!r} imported {out.stdout.strip()}"


def test_an_engine_with_remote_models_never_loads_torch(tmp_path: Path) -> None:
    """Plan, run and answer through an OpenAI-compatible model (a mock transport): no torch."""
    code = textwrap.dedent(
        """
        import json, sys
        import anyio, httpx
        from reasoner import Engine
        from reasoner.models import OpenAIModel
        from reasoner.tools.demo import demo_tools

        replies = iter([
            '{"nodes":[{"id":1,"tool":"convert_units","args":{"value":10,"from_unit":"mi","to_unit":"km"}}]}',
            '{"action":"finish"}',
            '10 miles is 16.09 km.',
        ])

        def handle(request: httpx.Request) -> httpx.Response:
            body = {"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": next(replies)}}],
                    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}
            return httpx.Response(200, json=body)

        async def main() -> str:
            async with httpx.AsyncClient(transport=httpx.MockTransport(handle)) as client:
                model = OpenAIModel("http://127.0.0.1:9/v1", "m", client=client, structured="none", max_retries=0)
                engine = Engine(tools=demo_tools(), planner=model, joiner=model, answerer=model)
                result = await engine.reason("Convert 10 miles to kilometres.")
                return str(result.answer)

        answer = anyio.run(main)
        print(json.dumps({"answer": answer, "heavy": sorted(m for m in HEAVY if m in sys.modules)}))
        """
    ).replace("HEAVY", repr(HEAVY))
    result = _python(code, tmp_path)
    assert "16.09" in str(result["answer"])
    assert result["heavy"] == []


def test_help_and_tools_commands_never_load_torch(tmp_path: Path) -> None:
    code = (
        "import json, sys, contextlib, io\n"
        "from reasoner.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    codes = [main(['tools', '--json'])]\n"
        "    try:\n"
        "        codes.append(main(['--help']))\n"
        "    except SystemExit as exc:\n"
        "        codes.append(exc.code)\n"
        f"print(json.dumps({{'codes': codes, 'heavy': sorted(m for m in {HEAVY!r} if m in sys.modules)}}))\n"
    )
    result = _python(code, tmp_path)
    assert result == {"codes": [0, 0], "heavy": []}


_MODULE = '''
from reasoner import tool

@tool
def double(x: int) -> int:
    """Twice a number.

    Args:
        x: the number to double.
    """
    return 2 * x

TOOLS = [double]
'''


@pytest.mark.slow
@pytest.mark.parametrize("where", ["outside", "checkout", "path"])
def test_run_with_user_tools_from_inside_and_outside_the_checkout(where: str, tmp_path: Path) -> None:
    """`reasoner run --tools mod:ATTR` with the embedded model: transformers imports its own
    top-level `kernels`, which the checkout's `kernels/` folder must never shadow."""
    (tmp_path / "mytools_double.py").write_text(_MODULE)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    spec, cwd = "mytools_double:TOOLS", tmp_path
    if where == "checkout":
        cwd, env["PYTHONPATH"] = CHECKOUT, str(tmp_path)
    elif where == "path":
        cwd, spec = CHECKOUT, f"{tmp_path / 'mytools_double.py'}:TOOLS"
    argv = [str(BIN / "reasoner"), "run", "--json", "--no-demo", "--no-plugins", "--max-iterations", "1"]
    done = subprocess.run([*argv, "--tools", spec, "What is twice 21?"], cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    types = [json.loads(line)["type"] for line in done.stdout.splitlines() if line.startswith("{")]
    assert types[0] == "run.started" and types[-1] == "run.completed", types
