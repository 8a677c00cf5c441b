"""Tool registration: ``@tool``, :class:`ToolSpec`, :class:`ToolRegistry`.

Third-party packages expose tools through the entry-point group ``reasoner.tools``
(see :meth:`ToolRegistry.from_entry_points`). :func:`http_get` is the one network tool
(public addresses only, bounded size and time); the offline demo toolkit lives in
:mod:`reasoner.tools.demo`.
"""

from reasoner.tools._decorator import tool as tool
from reasoner.tools._http import HttpResponse as HttpResponse
from reasoner.tools._http import http_get as http_get
from reasoner.tools._http import make_http_get as make_http_get
from reasoner.tools._registry import ToolRegistry as ToolRegistry
from reasoner.tools._spec import ToolSpec as ToolSpec

__all__ = ["HttpResponse", "ToolRegistry", "ToolSpec", "http_get", "make_http_get", "tool"]
