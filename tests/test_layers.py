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
    "path", ["uploader/admin.py", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "uploader" / "api").glob("*.py"))]
)
def test_the_admin_and_the_api_import_no_aws_module(path):
    assert _imported(ROOT / path) & AWS_MODULES == set()


def test_the_celery_app_imports_no_app_code():
    assert "uploader" not in _imported(ROOT / "config" / "celery.py")
