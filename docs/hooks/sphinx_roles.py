"""MkDocs hook: the package's docstrings use Sphinx roles (``:func:`name```), which
mkdocstrings leaves as text ("into a :class:`RunResults`"). Drop the role and keep the code
span, with Sphinx's ``~`` meaning "show only the last name"."""
import re

_ROLE = re.compile(r":(?:func|class|mod|data|meth|attr|obj|exc|py:\w+):(?=<code>)")
_TILDE = re.compile(r"<code>~(?:[\w.]+\.)?(\w+)</code>")


def on_page_content(html, **kwargs):
    return _TILDE.sub(r"<code>\1</code>", _ROLE.sub("", html))
