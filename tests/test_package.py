"""The app as another project gets it: the wheel built from this repository, installed into a
fresh virtualenv, used by a minimal host project that is not this site (no allauth, no simplejwt,
session authentication only, its own model with an UploadField): `check`, `migrate`, and an avatar
uploaded straight to the session's emulator, verified by the worker's task and put on the host's
model through a plain ModelForm, a DRF serializer and its admin."""

import json
import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest
from django.conf import settings

from .factories import jpeg_bytes

ROOT = Path(settings.BASE_DIR)
pytestmark = pytest.mark.django_db

SETTINGS = """
import os, sys

# Whatever this project may not need, it cannot have: an import of these fails.
class _Absent:
    BLOCKED = {"allauth", "rest_framework_simplejwt", "config"}

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.BLOCKED:
            raise ImportError(f"{name} is not installed in this host")

sys.meta_path.insert(0, _Absent())

SECRET_KEY = "host-test-key-long-enough-for-anything-0123456789"
DEBUG = False
ALLOWED_HOSTS = ["testserver"]
INSTALLED_APPS = [
    "django.contrib.admin", "django.contrib.auth", "django.contrib.contenttypes", "django.contrib.sessions",
    "django.contrib.messages", "django.contrib.staticfiles", "rest_framework", "uploader", "shop",
]
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware", "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware", "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "host.urls"
TEMPLATES = [{"BACKEND": "django.template.backends.django.DjangoTemplates", "APP_DIRS": True, "OPTIONS": {
    "context_processors": ["django.template.context_processors.request",
                           "django.contrib.auth.context_processors.auth",
                           "django.contrib.messages.context_processors.messages"]}}]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["HOST_DB"]}}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "static/"
# The host's own authentication; DRF's default permission (anyone) is left as it is.
REST_FRAMEWORK = {"DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"]}
CELERY_TASK_ALWAYS_EAGER = True
UPLOADER_OUTBOX_EAGER = True
# The app's settings: the bucket, where AWS is (the test's emulator), one destination.
UPLOADER_BUCKET = os.environ["HOST_BUCKET"]
AWS_ENDPOINT_URL_S3 = AWS_ENDPOINT_URL_SQS = AWS_ENDPOINT_URL_DYNAMODB = os.environ["AWS_ENDPOINT_URL"]
AWS_ACCESS_KEY_ID = AWS_SECRET_ACCESS_KEY = "test"
UPLOADER_DYNAMODB_TABLE = os.environ["HOST_TABLE"]
UPLOADER_SCANNER = "off"
UPLOADER_DERIVATIVES = False
UPLOADER_DESTINATIONS = {"avatars": {"types": ["image/jpeg", "image/png"], "max_size": 1024 * 1024}}
"""

URLS = """
from django.contrib import admin
from django.urls import include, path

urlpatterns = [path("admin/", admin.site.urls), path("files/api/", include("uploader.api.urls"))]
"""

CELERY = """
import os
from celery import Celery
from uploader import worker

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "host.settings")
app = Celery("host")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
worker.install(app)
"""

MODELS = """
from django.conf import settings
from django.db import models
from uploader.fields import UploadField


class Customer(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    avatar = UploadField(destination="avatars")
"""

ADMIN = """
from django.contrib import admin
from .models import Customer

admin.site.register(Customer)
"""

FLOW = """
import json, sys
import django
django.setup()
import requests
from django import forms
from django.contrib.auth.models import User
from django.test import Client
import uploader
from shop.models import Customer

out = {"uploader_from": uploader.__file__}
client = Client()
out["anonymous"] = client.post("/files/api/uploads/", {}, content_type="application/json").status_code
user = User.objects.create_user("hana", password="pw-hana-12345")
client.force_login(user)
body = open(sys.argv[1], "rb").read()
start = {"filename": "hana.jpg", "content_type": "image/jpeg", "size": len(body), "destination": "avatars"}
refused = client.post("/files/api/uploads/", {**start, "content_type": "application/pdf", "filename": "x.pdf"},
                      content_type="application/json")
out["pdf_for_avatars"] = refused.status_code
started = client.post("/files/api/uploads/", start, content_type="application/json").json()
put = started["upload"]
out["put"] = requests.put(put["url"], data=body, headers=put["headers"], timeout=30).status_code
out["complete"] = client.post(f"/files/api/uploads/{started['id']}/complete/").status_code
record = client.get(f"/files/api/uploads/{started['id']}/").json()
out["status"], out["key"] = record["status"], record["key"]


class CustomerForm(forms.ModelForm):
    class Meta:
        model = Customer
        fields = ["avatar"]


form = CustomerForm({"avatar": record["field_value"]}, instance=Customer(user=user))
out["form_valid"] = form.is_valid()
out["saved_avatar"] = str(form.save().avatar_id) if out["form_valid"] else str(form.errors)
out["widget"] = 'data-destination="avatars"' in form.as_div()

# The host's own API: a serializer with an UploadSerializerField.
from rest_framework import serializers
from rest_framework.test import APIRequestFactory
from uploader.api.fields import UploadSerializerField


class CustomerSerializer(serializers.ModelSerializer):
    avatar = UploadSerializerField(destination="avatars")

    class Meta:
        model = Customer
        fields = ["avatar"]


request = APIRequestFactory().get("/")
request.user = user
mine = Customer.objects.get(user=user)
written = CustomerSerializer(mine, data={"avatar": started["id"]}, context={"request": request})
out["serializer_valid"] = written.is_valid()
out["serializer_read"] = CustomerSerializer(written.save(), context={"request": request}).data["avatar"]["status"]
stranger = User.objects.create_user("ivan", password="pw-ivan-12345")
request.user = stranger
theirs = CustomerSerializer(data={"avatar": started["id"]}, context={"request": request})
out["stranger_refused"] = not theirs.is_valid()

# The host's admin, with no upload-specific code, shows the widget.
root = User.objects.create_superuser("root", "root@example.com", "pw-root-12345")
client.force_login(root)
out["admin_widget"] = 'data-destination="avatars"' in client.get("/admin/shop/customer/add/").content.decode()
print(json.dumps(out))
"""


def test_the_wheel_installs_into_a_fresh_project_that_uploads_through_it(tmp_path, aws_resources):
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", dist, ROOT],
        check=True,
        cwd=tmp_path,
    )
    (wheel,) = dist.glob("*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index", wheel], check=True)
    # The third-party packages the app depends on come from this project's environment (no
    # download); the host's settings refuse allauth, simplejwt and this site's own code.
    site = subprocess.run(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], capture_output=True, text=True
    ).stdout.strip()
    ours = next(p for p in sys.path if p.endswith("site-packages") and Path(p, "django").is_dir())
    Path(site, "project-dependencies.pth").write_text(ours + "\n")

    host = tmp_path / "project"
    for name, text in {
        "host/__init__.py": "from .celery import app as celery_app\n",
        "host/settings.py": SETTINGS,
        "host/urls.py": URLS,
        "host/celery.py": CELERY,
        "shop/__init__.py": "",
        "shop/models.py": MODELS,
        "shop/admin.py": ADMIN,
        "flow.py": FLOW,
    }.items():
        (host / name).parent.mkdir(parents=True, exist_ok=True)
        (host / name).write_text(textwrap.dedent(text))
    photo = tmp_path / "hana.jpg"
    photo.write_bytes(jpeg_bytes(80, 80))
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "PYTHON", "COVERAGE"))
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="host.settings",
        HOST_DB=str(tmp_path / "host.sqlite3"),
        HOST_BUCKET=settings.UPLOADER_BUCKET,
        HOST_TABLE=settings.UPLOADER_DYNAMODB_TABLE,
    )

    def run(*args):
        result = subprocess.run([python, *args], cwd=host, env=environment, capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    run("-m", "django", "check", "--fail-level", "WARNING")
    run("-m", "django", "makemigrations", "shop")
    run("-m", "django", "migrate", "--noinput")
    outcome = json.loads(run("flow.py", str(photo)).splitlines()[-1])
    assert outcome["uploader_from"].startswith(str(env_dir))  # the installed wheel, not this checkout
    assert outcome["anonymous"] == 403  # fails closed under the host's permissive DRF default
    assert outcome["pdf_for_avatars"] == 415
    assert (outcome["put"], outcome["complete"]) == (200, 202)
    assert outcome["status"] == "available" and outcome["key"].startswith("uploads/avatars/")
    assert outcome["form_valid"] and outcome["widget"], outcome
    assert outcome["serializer_valid"] and outcome["serializer_read"] == "available", outcome
    assert outcome["stranger_refused"] and outcome["admin_widget"], outcome
