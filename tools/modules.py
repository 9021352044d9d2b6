#!/usr/bin/env python3
"""The module graph of Gantry's crates: which module uses which, and whether any cycle
exists; and the storage seam: that only the stores run SQL. `make lint` runs it and fails
on a cycle or on a query outside a store.

A module is a file (`app/src/nodes/server.rs` is `crate::nodes::server`). A uses B when A
names B or an item of B (`use crate::live;`, `crate::time::unix_now()`, `use super::store`).
Edges between a module and its own ancestors or descendants are not counted: a child using
its parent's types, or a parent's server function calling its child, is Rust's namespace
at work, not a dependency between parts. A cycle is then a set of modules that no order
can put one after the other: `live` using `nodes` while `nodes` uses `live`.

Usage: tools/modules.py [--graph] [CRATE_SRC ...]   (default: app/src server/src)
"""

import re
import sys
from pathlib import Path


def module_of(root: Path, file: Path) -> tuple:
    parts = list(file.relative_to(root).with_suffix("").parts)
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return tuple(parts)


def expand(tree: str) -> list:
    """`a::{b, c::{d, e}}` → [a::b, a::c::d, a::c::e]."""
    tree = re.sub(r"\s+", "", tree)
    depth, start = 0, None
    for i, c in enumerate(tree):
        if c == "{":
            if depth == 0:
                start = i
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                prefix, inner = tree[:start], tree[start + 1 : i]
                items, level, last = [], 0, 0
                for j, d in enumerate(inner + ","):
                    if d in "{":
                        level += 1
                    elif d == "}":
                        level -= 1
                    elif d == "," and level == 0:
                        if inner[last:j]:
                            items.append(inner[last:j])
                        last = j + 1
                return [p for item in items for p in expand(prefix + item)]
    return [tree]


def references(source: str, here: tuple) -> list:
    """The paths a file names, as tuples from the crate's root."""
    source = re.sub(r"//[^\n]*", "", source)
    found = []
    for statement in re.findall(r"\buse\s+([^;]+);", source):
        found.extend(expand(statement))
    found.extend(re.findall(r"\b(?:crate|super|self)(?:::\w+)+", source))
    paths = []
    for path in found:
        parts = [p.split(" as ")[0] for p in re.sub(r"\bas\b\w+", "", path).split("::")]
        parts = [p for p in parts if p and p != "*"]
        if not parts:
            continue
        if parts[0] == "crate":
            base, rest = (), parts[1:]
        elif parts[0] in ("super", "self"):
            base = list(here)
            while parts and parts[0] in ("super", "self"):
                if parts.pop(0) == "super" and base:
                    base.pop()
            base, rest = tuple(base), parts
        else:
            # A sibling or child named directly (`use store::x` in 2018 paths) is rare here;
            # paths through external crates are not Gantry's modules.
            continue
        paths.append(base + tuple(rest))
    return paths


def graph(root: Path) -> tuple:
    files = {module_of(root, f): f for f in root.rglob("*.rs")}
    edges = {m: set() for m in files}
    for module, file in files.items():
        here = module if file.stem in ("mod", "lib", "main") else module[:-1]
        # `super` in a file module is its parent; in a mod.rs it is the folder's parent.
        here_for_super = module if file.stem not in ("mod", "lib", "main") else module
        for path in references(file.read_text(), here_for_super if file.stem in ("mod", "lib", "main") else module):
            target = max(
                (m for m in files if path[: len(m)] == m), key=len, default=None
            )
            if target is None or target == module:
                continue
            related = target[: len(module)] == module or module[: len(target)] == target
            if not related:
                edges[module].add(target)
        del here
    return files, edges


def cycles(edges: dict) -> list:
    """Tarjan's strongly connected components with more than one module."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


# The modules that may run SQL, each for its own tables (see app/src/db.rs): these files,
# and an area's store split into a `store/` folder by table group.
STORES = ("store.rs", "accounts.rs", "token_store.rs", "server/src/db.rs")
STORE_FOLDER = "/store/"


def queries_outside_stores(root: Path) -> list:
    """Files that run a query but are not stores (tests may do as they like)."""
    found = []
    for file in sorted(root.rglob("*.rs")):
        if str(file).endswith(STORES) or STORE_FOLDER in str(file):
            continue
        text = re.sub(r"#\[cfg\(test\)\]\s*mod tests \{.*", "", file.read_text(), flags=re.S)
        if re.search(r"\bsqlx::query", text):
            found.append(file)
    return found


def name(module: tuple) -> str:
    return "::".join(("crate",) + module)


def main() -> int:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    show = "--graph" in sys.argv
    failed = False
    for src in args or ["app/src", "server/src"]:
        root = Path(src)
        files, edges = graph(root)
        found = cycles(edges)
        count = sum(len(e) for e in edges.values())
        print(f"{src}: {len(files)} modules, {count} uses between unrelated modules, "
              f"{len(found)} cycles")
        if show:
            for module in sorted(edges):
                targets = ", ".join(name(t) for t in sorted(edges[module]))
                print(f"  {name(module)} -> {targets or '(nothing)'}")
        for component in found:
            failed = True
            print("  cycle: " + " <-> ".join(name(m) for m in component))
        for file in queries_outside_stores(root):
            failed = True
            print(f"  SQL outside a store: {file}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
