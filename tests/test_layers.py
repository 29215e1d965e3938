"""The layering the architecture promises, checked on the source: the admin and the API depend on
services and selectors only (never on a module that talks to AWS), and the Celery app imports no
app code."""

import ast
from pathlib import Path

import pytest
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
AWS_MODULES = {"aws", "mirror", "signing", "objects", "multipart", "boto3", "botocore", "localaws"}


def _imported(path):
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            names.add(base)
            names |= {f"{base}.{alias.name}".strip(".") for alias in node.names}
    return {part for name in names for part in name.split(".")}


@pytest.mark.parametrize(
    "path",
    [
        *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "uploader" / "admin").glob("*.py")),
        *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "uploader" / "api").glob("*.py")),
    ],
)
def test_the_admin_and_the_api_import_no_aws_module(path):
    assert _imported(ROOT / path) & AWS_MODULES == set()


def test_the_celery_app_imports_no_app_code_but_the_workers_bootstep_list():
    assert _imported(ROOT / "config" / "celery.py") - {"celery", "Celery", "os"} == {"uploader", "worker"}
    assert _imported(ROOT / "uploader" / "worker" / "__init__.py") == {"sys"}  # no Django, nothing of the app


def _modules():
    """Every module of the package, by dotted name, and what of the package it imports (lazy
    imports inside functions included: a circle closed in a function is still a circle)."""
    package = ROOT / "uploader"
    paths = {}
    for path in package.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        paths[name] = path
    edges = {}
    for name, path in paths.items():
        here = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = here.split(".")[: len(here.split(".")) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                found |= {f"{base}.{a.name}" if f"{base}.{a.name}" in paths else base for a in node.names}
        edges[name] = {target for target in found if target in paths and target != name}
    return edges


def _reachable(edges, start):
    seen, todo = set(), [start]
    while todo:
        for target in edges[todo.pop()]:
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def test_the_package_has_no_import_circle():
    edges = _modules()
    circles = sorted(name for name in edges if name in _reachable(edges, name))
    assert circles == [], f"modules on an import circle: {circles}"


def test_services_never_reach_the_worker_and_the_relay_never_imports_a_service():
    edges = _modules()
    worker = {"uploader.tasks", "uploader.worker.relay", "uploader.worker.consumer"}
    for name in edges:
        if name.startswith("uploader.services"):
            assert _reachable(edges, name) & worker == set(), name
    assert not any(target.startswith("uploader.services") for target in edges["uploader.worker.relay"])
    # What a change owes is data: the recording side knows no task and no service.
    known = _reachable(edges, "uploader.services.outbox")
    assert not any(name.startswith("uploader.services") or name in worker for name in known), known


def test_every_task_name_is_registered_once_and_the_schedule_names_registered_ones():
    from celery import current_app

    from uploader import tasks  # noqa: F401
    from uploader.domain import tasknames

    registered = {name for name in current_app.tasks if name.startswith("uploader.")}
    assert registered == set(tasknames.ALL)
    assert {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()} <= tasknames.ALL


# Calls that reach AWS from the services: their modules' functions, but for the pure ones.
NETWORK_MODULES = {"objects", "multipart", "aws", "mirror", "scanning", "storage"}
PURE = {"multipart.check_parts", "multipart.check_open_parts", "multipart.composite_checksum", "multipart.PartsError"}


def _called(call):
    func = call.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return f"{func.value.id}.{func.attr}"
    return func.id if isinstance(func, ast.Name) else ""


def _network_under_lock():
    """Every service function that calls AWS (itself, or through a helper of the services) inside
    a transaction that has taken a row lock: {"module.function"}."""
    functions = {}
    for path in (ROOT / "uploader" / "services").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef):
                functions[node.name] = (path.stem, node)

    def direct(name):
        return name.split(".")[0] in NETWORK_MODULES and name not in PURE

    reaching = {name for name, (_, node) in functions.items() if any(
        direct(_called(c)) for c in ast.walk(node) if isinstance(c, ast.Call))}  # fmt: skip
    grew = True
    while grew:  # through the services' own helpers
        before = len(reaching)
        reaching |= {name for name, (_, node) in functions.items() if any(
            _called(c) in reaching for c in ast.walk(node) if isinstance(c, ast.Call))}  # fmt: skip
        grew = len(reaching) > before
    found = set()
    for name, (module, node) in functions.items():
        for block in ast.walk(node):
            if not (isinstance(block, ast.With) and "atomic" in ast.unparse(block.items[0].context_expr)):
                continue
            calls = [c for statement in block.body for c in ast.walk(statement) if isinstance(c, ast.Call)]
            if not any(_called(c) in ("locked", "lock_owner") or "select_for_update" in ast.unparse(c) for c in calls):
                continue
            if any(direct(_called(c)) or _called(c) in reaching for c in calls):
                found.add(f"{module}.{name}")
    return found


def test_no_network_call_under_a_row_lock_but_the_named_exceptions():
    from uploader.services import common

    assert _network_under_lock() == set(common.NETWORK_UNDER_LOCK)


def _layout_block():
    readme = (ROOT / "README.md").read_text()
    start = readme.index("## Layout")
    return readme[readme.index("```", start) + 3 : readme.index("```", readme.index("```", start) + 3)]


def test_every_module_of_the_package_is_in_the_readmes_layout():
    """The layout names each module under the package it sits in (by indentation), so a new module
    without a line there, or a line for one that is gone, fails here."""
    named, parents = set(), []
    for line in _layout_block().splitlines():
        stripped = line.lstrip()
        if not stripped or line.startswith(" " * 19):  # a description's continuation
            continue
        depth = (len(line) - len(stripped)) // 2
        word = stripped.split()[0]
        parents = [*parents[:depth], word]
        if word.endswith(".py") and parents[0] == "uploader/":
            named.add("".join(parents[1:]))
    modules = {
        str(path.relative_to(ROOT / "uploader"))
        for path in (ROOT / "uploader").rglob("*.py")
        if "migrations" not in path.parts and path.name != "__init__.py"
    }
    assert modules - named == set(), "modules the layout leaves out"
    assert named - modules == set(), "modules the layout names that are not there"


def test_every_module_says_what_it_is_for_and_a_long_one_why_it_is_long():
    for path in (ROOT / "uploader").rglob("*.py"):
        if "migrations" in path.parts or not path.read_text().strip():
            continue
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        assert doc, f"{path.relative_to(ROOT)} does not say what it is for"
        if len(path.read_text().splitlines()) > 260:
            assert "Why it is long" in doc, f"{path.relative_to(ROOT)} is long and does not say why"
