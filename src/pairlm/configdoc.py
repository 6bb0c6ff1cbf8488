"""Config keys documented from the code: each dataclass field's key, type, default and meaning.

A field's meaning is its attribute docstring, the string literal on the line under it:

```python
@dataclass
class LexicalConfig(TrainableConfig):
    C: float = 1.0
    \"\"\"Inverse L2 strength of the logistic regression (liblinear).\"\"\"
```

`field_docs` reads them from the class's source (and its dataclass bases'), so the reference
pages (`pairlm.report.docs`), `pairlm models FAMILY` and the test that every key is
documented all read the same text. Imports nothing of pairlm: any layer may use it.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import json
import re
import textwrap
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldDoc:
    """One config key as a user writes it."""

    key: str
    type: str
    """The annotation as written (a `Literal` as its values joined by "|")."""
    default: str
    """The default as TOML ("required" when there is none)."""
    doc: str
    """The attribute docstring on one line ("" when the field has none)."""
    owner: str
    """The class that declares the field (a base class for inherited keys)."""
    formerly: str = ""
    """The key's earlier name, still read (field metadata "stored_as"; "" when none)."""


def _docstrings(cls: type) -> tuple[dict[str, str], dict[str, str]]:
    """(key -> docstring, key -> annotation source) of the fields `cls` itself declares."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}, {}
    node = ast.parse(source).body[0]
    if not isinstance(node, ast.ClassDef):
        return {}, {}
    docs: dict[str, str] = {}
    types: dict[str, str] = {}
    body = node.body
    for i, stmt in enumerate(body):
        if not (isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name)):
            continue
        types[stmt.target.id] = _annotation(stmt.annotation)
        nxt = body[i + 1] if i + 1 < len(body) else None
        if (
            isinstance(nxt, ast.Expr)
            and isinstance(nxt.value, ast.Constant)
            and isinstance(nxt.value.value, str)
        ):
            docs[stmt.target.id] = " ".join(inspect.cleandoc(nxt.value.value).split())
    return docs, types


def _annotation(node: ast.expr) -> str:
    if isinstance(node, ast.Subscript) and ast.unparse(node.value) in ("Literal", "typing.Literal"):
        elts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        return " | ".join(_toml(ast.literal_eval(e)) for e in elts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return f"{_annotation(node.left)} | {_annotation(node.right)}"
    if isinstance(node, ast.Constant) and isinstance(node.value, str):  # a string annotation
        return _annotation(ast.parse(node.value, mode="eval").body)
    return ast.unparse(node)


def _toml(value: Any) -> str:
    """`value` as it is written in a TOML file (None, which TOML lacks, as `None`)."""
    if value is None:
        return "None"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, int):
        return f"{value:_}" if abs(value) >= 10_000 else str(value)
    return repr(value)


def _default(f: dataclasses.Field[Any]) -> str:
    if f.default is not dataclasses.MISSING:
        return _toml(f.default)
    if f.default_factory is not dataclasses.MISSING:
        return _toml(f.default_factory())
    return "required"


def field_docs(cls: type) -> list[FieldDoc]:
    """Every field of dataclass `cls`: the keys it declares first (in source order), then the
    ones it inherits, nearest base first."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls!r} is not a dataclass")
    own: dict[str, tuple[int, str, str, str]] = {}  # key -> (MRO depth, owner, doc, type)
    for depth, klass in enumerate(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        docs, types = _docstrings(klass)
        for key in types:
            if key not in own:
                own[key] = (depth, klass.__name__, docs.get(key, ""), types[key])
    fields = dataclasses.fields(cls)
    order = {f.name: i for i, f in enumerate(fields)}
    out = []
    for f in sorted(fields, key=lambda f: (own.get(f.name, (99,))[0], order[f.name])):
        _, owner, doc, typ = own.get(f.name, (99, cls.__name__, "", str(f.type)))
        old = f.metadata.get("stored_as") or ""
        out.append(FieldDoc(f.name, typ, _default(f), doc, owner, "" if old == f.name else old))
    return out


def undocumented(cls: type) -> list[str]:
    """Keys of `cls` whose field has no docstring."""
    return [d.key for d in field_docs(cls) if not d.doc]


def _cell(text: str) -> str:
    """`text` for a Markdown table cell: pipes escaped, except inside code spans (where
    Python-Markdown's tables, which MkDocs uses, read them as text)."""
    parts = re.split(r"(`[^`]*`)", text)
    return "".join(p if p.startswith("`") else p.replace("|", "\\|") for p in parts)


def markdown_table(cls: type) -> str:
    """The keys of `cls` as a Markdown table: key, type, default, meaning."""
    lines = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for d in field_docs(cls):
        default = "*required*" if d.default == "required" else f"`{d.default}`"
        doc = d.doc + (f" Formerly `{d.formerly}` (still read)." if d.formerly else "")
        lines.append(f"| `{d.key}` | `{d.type}` | {default} | {_cell(doc)} |")
    return "\n".join(lines)
