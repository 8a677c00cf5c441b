"""``Engine.explain``: the logical plan plus its physical side, without running anything."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from reasoner._runtime import Runtime
from reasoner.planner import Plan
from reasoner.planner._retrieval import Retrieved

__all__ = ["Explanation", "PhysicalNode", "explain_plan"]


@dataclass(frozen=True, slots=True)
class PhysicalNode:
    """How one node will run: its dependencies and the policy the engine applies to its tool."""

    tool: str
    depends_on: tuple[int, ...]
    timeout: float | None
    retries: int
    cache: bool
    max_concurrency: int | None
    requires_approval: bool


@dataclass(frozen=True, slots=True)
class Explanation:
    """What :meth:`Engine.explain` returns.

    Attributes:
        plan: the validated plan.
        critical_path: node ids of the longest dependency chain, first to last. Each node
            weighs its effective timeout (the tool's, else the engine's default) when it has
            one, else 1, so the path is the chain that can take longest in the worst case,
            and with no timeouts the chain with the most nodes. Ties go to lower node ids.
        critical_path_cost: the summed weight of that chain.
        physical: node id -> :class:`PhysicalNode`.
        levels: node ids by depth: level 0 refs nothing, level d refs at least one node of
            level d - 1. Nodes of one level can all run at once.
        retrieved: the tools tool retrieval showed the planner (best first, with their
            BM25 scores), or ``None`` when the planner saw every tool or the plan was given.
    """

    plan: Plan
    critical_path: list[int]
    critical_path_cost: float
    physical: dict[int, PhysicalNode]
    levels: list[list[int]]
    retrieved: Retrieved | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON data: ``plan``, ``critical_path``, ``critical_path_cost``, ``levels``,
        ``physical`` (by node id), ``retrieved`` (or null) and ``text`` (``str()`` of it)."""
        return {
            "plan": self.plan.to_dict(),
            "critical_path": self.critical_path,
            "critical_path_cost": self.critical_path_cost,
            "levels": self.levels,
            "physical": {str(nid): asdict(p) for nid, p in self.physical.items()},
            "retrieved": self.retrieved.to_dict() if self.retrieved is not None else None,
            "text": str(self),
        }

    def __str__(self) -> str:
        nodes = len(self.plan.nodes)
        path = " -> ".join(map(str, self.critical_path)) or "-"
        header = ["node", "tool", "depends on", "level", "timeout", "retries", "cache", "limit", "approval"]
        level_of = {nid: d for d, ids in enumerate(self.levels) for nid in ids}
        rows = [header]
        for nid, p in self.physical.items():
            rows.append(
                [
                    str(nid),
                    p.tool,
                    ",".join(map(str, p.depends_on)) or "-",
                    str(level_of[nid]),
                    "-" if p.timeout is None else f"{p.timeout:g}s",
                    str(p.retries),
                    "yes" if p.cache else "no",
                    "-" if p.max_concurrency is None else str(p.max_concurrency),
                    "yes" if p.requires_approval else "no",
                ]
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        lines = [
            f"plan: {nodes} node{'s' if nodes != 1 else ''}, {len(self.levels)} level{'s' if len(self.levels) != 1 else ''}, "
            f"critical path {path} (cost {self.critical_path_cost:g})"
        ]
        lines += ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
        if self.retrieved is not None:
            shown = ", ".join(f"{name} ({score:.2f})" for name, score in zip(self.retrieved.tools, self.retrieved.scores))
            lines.append(f"retrieved {len(self.retrieved.tools)} of {self.retrieved.of} tools: {shown}")
        return "\n".join(lines)


def explain_plan(plan: Plan, runtime: Runtime, *, retrieved: Retrieved | None = None) -> Explanation:
    """The physical plan, levels and critical path of a validated plan (nodes in id order)."""
    physical: dict[int, PhysicalNode] = {}
    depth: dict[int, int] = {}
    cost: dict[int, float] = {}
    best_dep: dict[int, int | None] = {}
    levels: list[list[int]] = []
    for node in plan.nodes:
        policy = runtime.policy(node.tool)
        deps = tuple(sorted(node.refs()))
        physical[node.id] = PhysicalNode(
            tool=node.tool,
            depends_on=deps,
            timeout=policy.timeout,
            retries=policy.retries,
            cache=policy.cache,
            max_concurrency=policy.max_concurrency,
            requires_approval=policy.requires_approval,
        )
        d = 1 + max((depth[r] for r in deps), default=-1)
        depth[node.id] = d
        if d == len(levels):
            levels.append([])
        levels[d].append(node.id)
        # the heaviest dependency; sorted deps and a strict ">" keep the lowest id on ties
        heaviest: int | None = None
        for r in deps:
            if heaviest is None or cost[r] > cost[heaviest]:
                heaviest = r
        best_dep[node.id] = heaviest
        weight = policy.timeout if policy.timeout is not None else 1.0
        cost[node.id] = weight + (cost[heaviest] if heaviest is not None else 0.0)

    path: list[int] = []
    end: int | None = None
    for nid in cost:  # plan order, so ties go to the lower id
        if end is None or cost[nid] > cost[end]:
            end = nid
    total = cost[end] if end is not None else 0.0
    while end is not None:
        path.append(end)
        end = best_dep[end]
    path.reverse()
    return Explanation(plan=plan, critical_path=path, critical_path_cost=total, physical=physical, levels=levels, retrieved=retrieved)
