"""Questions to the person at the terminal: call approvals, plan review, feedback.

Prompts go to stderr (stdout keeps the run's output), answers come from stdin, one line
each; questions are asked one at a time, and the run view pauses while one is open (the
other branches of the plan keep running). A closed input (end of file) answers "no":
the call is denied, the plan cancelled, the feedback skipped.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TextIO

import anyio

from reasoner._approval import Approve, Decision, Deny, Edit
from reasoner._feedback import Feedback
from reasoner.cli._state import call_text
from reasoner.errors import PlanError, ToolError, UsageError

if TYPE_CHECKING:
    from reasoner._explain import Explanation
    from reasoner.cli._view import View
    from reasoner.planner import Node, Plan
    from reasoner.tools import ToolSpec

__all__ = ["Prompter", "TerminalApprover", "ask_feedback", "review_plan"]


class Prompter:
    """One-line questions on ``out``, answers from ``stdin``."""

    def __init__(self, stdin: TextIO, out: TextIO, env: Mapping[str, str] | None = None) -> None:
        self._in = stdin
        self._out = out
        self.env = env or {}

    def say(self, text: str) -> None:
        self._out.write(text + "\n")
        self._out.flush()

    def ask(self, question: str) -> str | None:
        """The answer, stripped; ``None`` when the input is closed."""
        self._out.write(question)
        self._out.flush()
        line = self._in.readline()
        return None if not line else line.strip()

    def choose(self, question: str, choices: Mapping[str, str], *, allow_empty: bool = False) -> str | None:
        """Ask until the answer is one of ``choices`` (a word or its first letter): its value;
        ``""`` for an empty answer when ``allow_empty``; ``None`` when the input is closed."""
        while True:
            answer = self.ask(question)
            if answer is None:
                return None
            if not answer and allow_empty:
                return ""
            key = answer.casefold()
            for word, value in choices.items():
                if key == word or key == word[0]:
                    return value
            self.say(f"  answer one of: {', '.join(choices)}")

    def json_object(self, question: str, check: Callable[[dict[str, Any]], object]) -> dict[str, Any] | None:
        """A JSON object typed on one line, passing ``check`` (which raises to refuse it, with
        the reason shown); ``None`` for an empty answer or a closed input."""
        while True:
            text = self.ask(question)
            if not text:
                return None
            try:
                value = json.loads(text)
            except ValueError as exc:
                self.say(f"  not JSON: {exc}")
                continue
            if not isinstance(value, dict):
                self.say(f"  expected a JSON object {{...}}, got {type(value).__name__}")
                continue
            try:
                check(value)
            except (ToolError, PlanError, UsageError) as exc:
                self.say(f"  {exc}")
                continue
            return value

    def edit_in_editor(self, value: dict[str, Any]) -> dict[str, Any] | None:
        """``value`` edited in ``$VISUAL`` / ``$EDITOR``; ``None`` when neither is set, or the
        editor failed or left something that is not a JSON object."""
        editor = self.env.get("VISUAL") or self.env.get("EDITOR")
        if not editor:
            return None
        fd, path = tempfile.mkstemp(suffix=".json", prefix="reasoner-plan-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(value, f, indent=2, ensure_ascii=False)
            if subprocess.run([*shlex.split(editor), path], check=False).returncode != 0:
                self.say("  the editor failed; the plan is unchanged")
                return None
            with open(path, encoding="utf-8") as f:
                edited = json.load(f)
        except (OSError, ValueError) as exc:
            self.say(f"  cannot use the edited plan: {exc}")
            return None
        finally:
            os.unlink(path)
        return edited if isinstance(edited, dict) else None


_APPROVE = {"approve": "approve", "yes": "approve", "deny": "deny", "no": "deny", "edit": "edit"}


class TerminalApprover:
    """``reasoner run``'s approver on a terminal: approve, deny with a reason, or edit the
    arguments as JSON (checked against the tool's schema before the call runs)."""

    def __init__(self, prompter: Prompter, view: View) -> None:
        self.prompter = prompter
        self.view = view
        self._lock: anyio.Lock | None = None

    async def approve(self, node: Node, spec: ToolSpec) -> Decision:
        if self._lock is None:
            self._lock = anyio.Lock()
        async with self._lock:  # one question at a time; the other branches run on
            self.view.pause()
            try:
                return await anyio.to_thread.run_sync(self._ask, node, spec, abandon_on_cancel=True)
            finally:
                self.view.resume()

    def _ask(self, node: Node, spec: ToolSpec) -> Decision:
        p = self.prompter
        p.say(f"approval needed: #{node.id} {call_text(node.tool, node.args)}")
        p.say(f"  arguments: {json.dumps(node.args, ensure_ascii=False, default=str)}")
        while True:
            choice = p.choose("  [a]pprove, [d]eny or [e]dit the arguments? ", _APPROVE)
            if choice is None:
                return Deny("no answer: the terminal's input was closed")
            if choice == "approve":
                return Approve()
            if choice == "deny":
                return Deny(p.ask("  reason (the planner reads it; Enter: none): ") or "")
            args = p.json_object("  arguments as JSON (Enter: back): ", spec.validate_args)
            if args is not None:
                return Edit(args)


_REVIEW = {"run": "run", "yes": "run", "edit": "edit", "cancel": "cancel", "no": "cancel", "quit": "cancel"}


def review_plan(prompter: Prompter, explanation: Explanation, explain: Callable[[dict[str, Any]], Explanation]) -> Plan | None:
    """Show a plan as ``explain()`` does (with each call) and ask to run, edit or cancel it;
    the plan to run, or ``None`` when cancelled. ``explain`` checks an edited plan."""
    p = prompter
    while True:
        p.say(str(explanation))
        for node in explanation.plan.nodes:
            p.say(f"  #{node.id} {call_text(node.tool, node.args)}")
        choice = p.choose("[r]un this plan, [e]dit it, or [c]ancel? ", _REVIEW)
        if choice in (None, "cancel"):
            return None
        if choice == "run":
            return explanation.plan
        edited = p.edit_in_editor(explanation.plan.to_dict())
        if edited is not None:
            try:
                explanation = explain(edited)
            except (PlanError, UsageError) as exc:
                p.say(f"  {exc}")
            continue
        typed = p.json_object('plan as JSON, {"nodes": [...]} (Enter: back): ', explain)
        if typed is not None:
            explanation = explain(typed)


_FEEDBACK = {"good": "good", "bad": "bad", "correct": "correct", "plan": "plan"}


def ask_feedback(prompter: Prompter, check_plan: Callable[[dict[str, Any]], object]) -> Feedback | None:
    """After an answer: good, bad (with a note), a corrected answer, or a corrected plan."""
    p = prompter
    choice = p.choose("was the answer right? [g]ood, [b]ad, [c]orrect the answer, correct the [p]lan (Enter: skip) ", _FEEDBACK, allow_empty=True)
    if not choice:
        return None
    if choice == "good":
        return Feedback(rating="good")
    if choice == "bad":
        return Feedback(rating="bad", note=p.ask("what was wrong? (Enter: skip) ") or None)
    if choice == "correct":
        answer = p.ask("the correct answer: ")
        return Feedback(rating="bad", answer=answer) if answer else None
    plan = p.json_object("the plan that should have run, as JSON (Enter: skip): ", check_plan)
    return Feedback(rating="bad", plan=plan) if plan is not None else None
