"""Plans: the Plan/Node/Ref model, the per-registry plan schema, validation, streaming parser."""

from reasoner.planner._plan import Node as Node
from reasoner.planner._plan import Plan as Plan
from reasoner.planner._plan import Ref as Ref

__all__ = ["Node", "Plan", "Ref"]
