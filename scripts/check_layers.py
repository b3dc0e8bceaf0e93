#!/usr/bin/env python3
"""Fail when a module of a domain package imports a package above its own layer.

The layers, bottom up, are those of the design: a package may import only packages at or below
its own layer. Interface rooms (a domain's `router.py` and `commands.py`) and composition
(`app/main.py`, `lifespan.py`, `deps.py`, `cli.py`) sit on top and may import anything, but no
other module may import them. The sandbox simulator imports nothing of the gateway.

Usage: python scripts/check_layers.py [repository root]. Exit status 1 lists every offending import.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

# Bottom up. "kernel" is every top-level module of app/ and app/db/.
LAYERS = ("kernel", "observability", "upstream", "quotas", "cache", "audit", "tenants", "notify", "facecheck", "ledger",
          "console")
ISOLATED = "sandbox"
INTERFACE = frozenset({"router.py", "commands.py"})
COMPOSITION = frozenset({"main.py", "lifespan.py", "deps.py", "cli.py"})
KERNEL_PACKAGES = frozenset({"db"})


def package_of(app: Path, parts: list[str]) -> str:
    """The layer name of `app.<parts...>` (a module or a package)."""
    if len(parts) < 2 or parts[1] in KERNEL_PACKAGES or not (app / parts[1]).is_dir():
        return "kernel"
    return parts[1]


def is_on_top(rel: Path) -> bool:
    return rel.name in INTERFACE or (len(rel.parts) == 1 and rel.name in COMPOSITION)


def on_top(app: Path, parts: list[str]) -> bool:
    """Whether `app.<parts...>` is (or is inside) an interface room or a composition module."""
    return any((app.joinpath(*parts[1:n]).with_suffix(".py")).is_file()
               and is_on_top(Path(*parts[1:n]).with_suffix(".py")) for n in range(2, len(parts) + 1))


def imported_modules(tree: ast.AST, module: list[str]) -> list[tuple[int, list[str]]]:
    """(line, dotted parts) of every `app.` import, relative ones resolved against `module`. For
    `from a.b import c` the parts are a.b.c: `c` may be a module, which decides the package."""
    found: list[tuple[int, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name.split(".")) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = module[: len(module) - node.level] if node.level else []
            target = base + (node.module.split(".") if node.module else [])
            found += [(node.lineno, [*target, alias.name]) for alias in node.names]
    return [(line, parts) for line, parts in found if parts and parts[0] == "app"]


def violations(root: Path) -> list[str]:
    app = root / "app"
    problems: list[str] = []
    for path in sorted(app.rglob("*.py")):
        rel = path.relative_to(app)
        if is_on_top(rel):
            continue
        module = ["app", *rel.with_suffix("").parts]
        source = package_of(app, module)
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        seen: set[tuple[int, str]] = set()
        for line, parts in imported_modules(tree, module):
            if (line, ".".join(parts[:-1])) in seen:
                continue
            seen.add((line, ".".join(parts[:-1])))
            where = f"{path.relative_to(root)}:{line}"
            name = ".".join(parts)
            target = package_of(app, parts)
            if on_top(app, parts):
                problems.append(f"{where} imports {name}: only the interface and composition may import it")
            elif source == ISOLATED or target == ISOLATED:
                if source != target:
                    problems.append(f"{where} imports {name}: the sandbox and the gateway import nothing of each other")
            elif target not in LAYERS:
                problems.append(f"{where} imports {name}: package '{target}' has no layer in scripts/check_layers.py")
            elif LAYERS.index(target) > LAYERS.index(source):
                problems.append(f"{where} imports {name}: '{target}' is above '{source}' "
                                f"(layers bottom up: {' < '.join(LAYERS)})")
    return problems


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
    problems = violations(root)
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        print(f"{len(problems)} import(s) point up a layer; move the shared piece down or invert the call.",
              file=sys.stderr)
        return 1
    print("layers: every import points down")
    return 0


if __name__ == "__main__":
    sys.exit(main())
