"""Tool registration: ``@tool``, :class:`ToolSpec`, :class:`ToolRegistry`."""

from reasoner.tools._registry import ToolRegistry as ToolRegistry
from reasoner.tools._spec import ToolSpec as ToolSpec

__all__ = ["ToolRegistry", "ToolSpec"]
