"""Tool registration: ``@tool``, :class:`ToolSpec`, :class:`ToolRegistry`.

Third-party packages expose tools through the entry-point group ``reasoner.tools``
(see :meth:`ToolRegistry.from_entry_points`).
"""

from reasoner.tools._decorator import tool as tool
from reasoner.tools._registry import ToolRegistry as ToolRegistry
from reasoner.tools._spec import ToolSpec as ToolSpec

__all__ = ["ToolRegistry", "ToolSpec", "tool"]
