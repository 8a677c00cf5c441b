"""Plans: the Plan/Node/Ref model, the per-registry plan schema, validation, streaming parser.

A plan is compact JSON (DESIGN.md section 3)::

    {"nodes":[{"id":1,"tool":"stock_price","args":{"ticker":"MSFT"}},
              {"id":2,"tool":"chart","args":{"values":[{"$ref":1,"path":"close"}]}}]}

* :meth:`Plan.from_json` parses the structure; :func:`validate` checks it against a
  :class:`~reasoner.tools.ToolRegistry`; :func:`plan_schema` is the JSON Schema the
  planner decodes under; :func:`resolve_args` substitutes refs at run time.
* :class:`PlanStreamParser` / :func:`iter_plan_nodes` turn streamed text into nodes
  as each node's object closes, so execution can start while the plan is decoding.

Every problem is a :class:`~reasoner.errors.PlanError` whose ``node_id`` names the node.
"""

from reasoner.planner._plan import Node as Node
from reasoner.planner._plan import Plan as Plan
from reasoner.planner._plan import Ref as Ref
from reasoner.planner._schema import plan_schema as plan_schema
from reasoner.planner._stream import PlanStreamParser as PlanStreamParser
from reasoner.planner._stream import iter_plan_nodes as iter_plan_nodes
from reasoner.planner._validate import resolve_args as resolve_args
from reasoner.planner._validate import validate as validate
from reasoner.planner._validate import validate_node as validate_node

__all__ = [
    "Node",
    "Plan",
    "PlanStreamParser",
    "Ref",
    "iter_plan_nodes",
    "plan_schema",
    "resolve_args",
    "validate",
    "validate_node",
]
