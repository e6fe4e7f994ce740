"""The layout holds: no module imports another that (through others) imports it back, and
no import hides inside a function, where a cycle would go unseen. (A type hint's import
under `if TYPE_CHECKING:` never runs: the fake rack's request handler names the rack it
serves that way.)

`racks` reaches into `notifications` only through its seams: the intake and the console's
own events call `record_event`, and membership calls `notifications.members`.
"""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("console", "notifications", "racks")
# Where racks may import notifications, and what.
RACKS_SEAMS = {
    "racks.intake.receive": {"notifications.envelope", "notifications.pipeline"},
    "racks.intake.envelope": {"notifications.envelope"},
    "racks.intake.state": {"notifications.envelope"},
    "racks.events": {"notifications.envelope", "notifications.models",
                     "notifications.pipeline"},
    "racks.membership": {"notifications.members"},
    "racks.invitations": {"notifications.members"},
}


def _modules() -> dict[str, Path]:
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _target(name: str) -> str | None:
    """The project module an import name lands in, if it is one of ours."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _hints_only(tree: ast.Module) -> set[ast.stmt]:
    """Imports under `if TYPE_CHECKING:`: read by type checkers, never run."""
    return {node for block in ast.walk(tree) if isinstance(block, ast.If)
            and ast.unparse(block.test) == "TYPE_CHECKING"
            for statement in block.body for node in ast.walk(statement)}


def _imports(tree: ast.Module, module: str) -> list[tuple[str, ast.stmt]]:
    found = []
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    hints = _hints_only(tree)
    for node in ast.walk(tree):
        if node in hints:
            continue
        if isinstance(node, ast.Import):
            found += [(alias.name, node) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1]
                                + ([base] if base else []))
            found += [(f"{base}.{alias.name}", node) for alias in node.names]
    return found


def _graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        edges = {_target(name) for name, _ in _imports(tree, module)}
        graph[module] = {edge for edge in edges if edge and edge != module}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_back_through_others():
    assert _cycles(_graph()) == []


def test_racks_reach_notifications_only_through_their_seams():
    crossings = {(module, target) for module, targets in _graph().items()
                 if module.startswith("racks") for target in targets
                 if target.startswith("notifications")}
    allowed = {(module, target) for module, targets in RACKS_SEAMS.items()
               for target in targets}
    assert crossings - allowed == set()


def test_no_import_hides_inside_a_function():
    """Except an AppConfig's `ready`, where Django says signal handlers are connected."""
    hidden = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(), str(path))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            if function.name == "ready" and module.endswith(".apps"):
                continue
            for node in ast.walk(function):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    hidden.append(f"{module}:{node.lineno}")
    assert hidden == []


def test_the_checker_sees_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
