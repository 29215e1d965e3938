"""A client generated from the server's own schema works as it comes (issue 29): the schema is a
valid OpenAPI document, openapi-python-client generates a package from it that imports, and that
package, with no hand edits, runs the whole flow against a live server and the emulator. Only the
PUTs to S3 go around it (they are S3's, not ours)."""

import base64
import hashlib
import importlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import requests
from django.core.cache import cache
from drf_spectacular.generators import SchemaGenerator
from openapi_spec_validator import validate

from uploader.api.schema import OPERATION_IDS

from .factories import jpeg_bytes, make_user
from .helpers import MiB, built_by_npm

pytestmark = pytest.mark.django_db(transaction=True)


def _schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def test_the_schema_is_valid_openapi_and_says_json_only_with_readable_names():
    schema = json.loads(json.dumps(_schema(), default=str))
    validate(schema)  # openapi-spec-validator: the OpenAPI 3 document is well formed
    operations = [op for path in schema["paths"].values() for op in path.values()]
    assert {op["operationId"] for op in operations} == set(OPERATION_IDS.values())
    for operation in operations:
        if "requestBody" in operation:
            assert list(operation["requestBody"]["content"]) == ["application/json"], operation["operationId"]
        if "429" in operation["responses"]:
            assert "Retry-After" in operation["responses"]["429"]["headers"], operation["operationId"]
    start = schema["components"]["schemas"]["UploadStartOutput"]
    assert not {"upload", "multipart"} & set(start.get("required", []))  # one or the other is sent


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """The package openapi-python-client makes of the running code's schema, imported."""
    out = tmp_path_factory.mktemp("generated")
    (out / "schema.json").write_text(json.dumps(_schema(), default=str))
    bin_dir = f"{sys.prefix}/bin"
    subprocess.run(
        [f"{bin_dir}/openapi-python-client", "generate", "--path", str(out / "schema.json"), "--meta", "none",
         "--output-path", str(out / "uploads_client")],
        check=True, capture_output=True, env={"PATH": f"{bin_dir}:/usr/bin:/bin"}, timeout=300,
    )  # fmt: skip
    sys.path.insert(0, str(out))
    try:
        yield importlib.import_module("uploads_client")
    finally:
        sys.path.remove(str(out))
        for name in [n for n in sys.modules if n == "uploads_client" or n.startswith("uploads_client.")]:
            del sys.modules[name]


def _sha(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def test_a_generated_python_client_runs_the_whole_flow(generated, live_server, worker, settings):
    from uploads_client import AuthenticatedClient, Client
    from uploads_client.api.auth import obtain_token, refresh_token
    from uploads_client.api.uploads import (
        complete_upload,
        download_upload,
        get_upload,
        list_parts,
        list_uploads,
        sign_parts,
        start_upload,
    )
    from uploads_client.models import (
        CompleteInputRequest,
        Error,
        ListUploadsOutcome,
        PartRequestRequest,
        PartsInputRequest,
        TokenObtainPairRequest,
        TokenRefreshRequest,
        UploadStartInputRequest,
    )

    cache.clear()
    make_user("gen", "pw-gen-12345")
    make_user("other", "pw-other-12345")
    anonymous = Client(base_url=live_server.url)
    pair = obtain_token.sync(client=anonymous, body=TokenObtainPairRequest(username="gen", password="pw-gen-12345"))
    refreshed = refresh_token.sync(client=anonymous, body=TokenRefreshRequest(refresh=pair.refresh))
    me = AuthenticatedClient(base_url=live_server.url, token=refreshed.access, follow_redirects=False)

    # A small file: one PUT.
    photo = jpeg_bytes(40, 30)
    small = start_upload.sync(
        client=me,
        body=UploadStartInputRequest(
            filename="a.jpg", content_type="image/jpeg", size=len(photo), checksum_sha256=_sha(photo)
        ),
    )
    assert small.upload and not small.multipart
    put = requests.put(small.upload.url, data=photo, headers=small.upload.headers.to_dict(), timeout=30)
    assert put.status_code == 200

    # 20 MiB in SHA-256-pinned parts: the first part now, the rest after a "resume".
    body = b"PK\x03\x04" + bytes(20 * MiB - 4)
    started = start_upload.sync(
        client=me, body=UploadStartInputRequest(filename="big.zip", content_type="application/zip", size=len(body))
    )
    assert started.multipart and not started.upload
    part_size = started.multipart.part_size
    chunks = [body[i : i + part_size] for i in range(0, len(body), part_size)]
    first = sign_parts.sync(
        upload_id=started.id,
        client=me,
        body=PartsInputRequest(parts=[PartRequestRequest(part_number=1, checksum_sha256=_sha(chunks[0]))]),
    )
    assert requests.put(first.parts[0].url, data=chunks[0], headers=first.parts[0].headers.to_dict(), timeout=60).ok
    held = list_parts.sync(upload_id=started.id, client=me)  # resuming: which parts does S3 hold?
    assert [p.part_number for p in held.parts] == [1] and held.part_count == len(chunks)
    rest = sign_parts.sync(
        upload_id=started.id,
        client=me,
        body=PartsInputRequest(
            parts=[PartRequestRequest(part_number=n, checksum_sha256=_sha(c)) for n, c in enumerate(chunks, 1) if n > 1]
        ),
    )
    for signed in rest.parts:
        data = chunks[signed.part_number - 1]
        assert requests.put(signed.url, data=data, headers=signed.headers.to_dict(), timeout=60).ok
    for upload_id in (small.id, started.id):
        response = complete_upload.sync_detailed(upload_id=upload_id, client=me, body=CompleteInputRequest())
        assert response.status_code == 202, response.content

    deadline = time.monotonic() + 60
    while get_upload.sync(upload_id=started.id, client=me).status != "available" and time.monotonic() < deadline:
        time.sleep(0.3)
    detail = get_upload.sync(upload_id=started.id, client=me)
    assert detail.status == "available" and detail.outcome == "available" and detail.size == len(body)
    listed = list_uploads.sync(client=me, outcome=ListUploadsOutcome.AVAILABLE, search="big")
    assert [u.id for u in listed.results] == [started.id]
    download = download_upload.sync_detailed(upload_id=started.id, client=me)
    assert download.status_code == 302 and "X-Amz-Signature=" in download.headers["location"]

    # Errors come back as the schema's Error, with their codes.
    refused = start_upload.sync(
        client=me, body=UploadStartInputRequest(filename="x.exe", content_type="application/x-msdownload", size=10)
    )
    assert isinstance(refused, Error) and refused.code == "unsupported_type"
    other = obtain_token.sync(
        client=anonymous, body=TokenObtainPairRequest(username="other", password="pw-other-12345")
    )
    stranger = AuthenticatedClient(base_url=live_server.url, token=other.access)
    assert get_upload.sync_detailed(upload_id=started.id, client=stranger).status_code == 404
    settings.UPLOADER_ACTION_RATE = "1/min"
    cache.clear()
    assert list_parts.sync_detailed(upload_id=started.id, client=me).status_code in (200, 409)
    throttled = list_parts.sync_detailed(upload_id=started.id, client=me)
    assert throttled.status_code == 429 and int(throttled.headers["retry-after"]) > 0
    assert isinstance(throttled.parsed, Error) and throttled.parsed.code == "throttled"


def test_real_answers_match_the_schema(api, aws_resources, user):
    """openapi-core checks what the views really send, each shape of it, against the schema:
    required means present, a field that may be null says so."""
    from openapi_core import OpenAPI
    from openapi_core.contrib.django import DjangoOpenAPIRequest, DjangoOpenAPIResponse

    spec = OpenAPI.from_dict(json.loads(json.dumps(_schema(), default=str)))

    def checked(response):
        spec.validate_response(DjangoOpenAPIRequest(response.wsgi_request), DjangoOpenAPIResponse(response))
        return response

    photo = jpeg_bytes(20, 20)
    one = checked(api.post("/api/v1/uploads/", {"filename": "a.jpg", "content_type": "image/jpeg", "size": len(photo)}))
    parts = checked(
        api.post("/api/v1/uploads/", {"filename": "b.zip", "content_type": "application/zip", "size": 40 * MiB})
    )
    assert "upload" in one.json() and "multipart" in parts.json()
    checked(api.get("/api/v1/uploads/"))
    checked(api.get(f"/api/v1/uploads/{one.json()['id']}/"))
    checked(api.get(f"/api/v1/uploads/{parts.json()['id']}/parts/"))
    batch = {
        "uploads": [
            {"filename": "c.jpg", "content_type": "image/jpeg", "size": 5},
            {"filename": "d.exe", "content_type": "x/y", "size": 5},
        ]
    }
    checked(api.post("/api/v1/uploads/batch/", batch))
    checked(api.post("/api/v1/uploads/", {"filename": "x.exe", "content_type": "application/x-msdownload", "size": 10}))
    checked(api.get(f"/api/v1/uploads/{one.json()['id']}/download/"))  # 409: not available yet


NPM = Path(__file__).parent / "e2e" / "npm"
TS_FLOW = Path(__file__).parent / "e2e" / "ts"


def test_a_generated_typescript_client_type_checks_and_runs_the_whole_flow(live_server, worker, settings, tmp_path):
    """openapi-typescript's types of the running code's schema, with openapi-fetch: `tsc --noEmit`
    accepts tests/e2e/ts/flow.ts against them, and the flow, bundled by esbuild, runs in Node."""
    bins = NPM / "node_modules" / ".bin"
    for tool in ("openapi-typescript", "tsc", "esbuild"):
        built_by_npm(bins / tool)
    cache.clear()
    settings.UPLOADER_ACTION_RATE = "40/min"  # the flow ends by running into it
    make_user("ts", "pw-ts-123456")
    make_user("other", "pw-other-12345")
    work = Path(tempfile.mkdtemp(prefix=".work-", dir=NPM))  # beside node_modules, for module resolution
    try:
        (tmp_path / "schema.json").write_text(json.dumps(_schema(), default=str))
        for name in ("flow.ts", "tsconfig.json"):
            shutil.copy(TS_FLOW / name, work / name)

        def run(*command):
            done = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=300)
            assert done.returncode == 0, done.stdout + done.stderr
            return done.stdout

        run(str(bins / "openapi-typescript"), str(tmp_path / "schema.json"), "-o", "api.d.ts")
        run(str(bins / "tsc"), "-p", "tsconfig.json")  # the type check: noEmit
        run(
            str(bins / "esbuild"),
            "flow.ts",
            "--bundle",
            "--platform=node",
            "--format=esm",
            "--outfile=flow.mjs",
            "--log-level=warning",
        )
        seen = json.loads(run("node", "flow.mjs", live_server.url, "ts", "pw-ts-123456", "other", "pw-other-12345"))
    finally:
        shutil.rmtree(work)
    assert seen["single_put"] == 200 and seen["held_after_first"] == [1] and seen["complete"] == [202, 202]
    assert (seen["status"], seen["outcome"], seen["size"]) == ("available", "available", 20 * MiB)
    assert seen["listed"] == [seen["id"]] and seen["download"] == [302, True]
    assert seen["refused"] == [415, "unsupported_type"] and seen["strangers"] == 404
    assert seen["throttled"][0] == "throttled" and seen["throttled"][1] > 0


def test_a_type_error_against_the_schema_is_caught_by_tsc(tmp_path):
    """The type check is real: a call with a field the schema does not have fails it."""
    bins = NPM / "node_modules" / ".bin"
    built_by_npm(bins / "tsc")
    work = Path(tempfile.mkdtemp(prefix=".work-", dir=NPM))
    try:
        (tmp_path / "schema.json").write_text(json.dumps(_schema(), default=str))
        subprocess.run(
            [str(bins / "openapi-typescript"), str(tmp_path / "schema.json"), "-o", str(work / "api.d.ts")],
            check=True,
            capture_output=True,
            timeout=120,
        )
        shutil.copy(TS_FLOW / "tsconfig.json", work / "tsconfig.json")
        wrong = (TS_FLOW / "flow.ts").read_text().replace('filename: "big.zip"', 'file_name: "big.zip"')
        (work / "flow.ts").write_text(wrong)
        done = subprocess.run(
            [str(bins / "tsc"), "-p", "tsconfig.json"], cwd=work, capture_output=True, text=True, timeout=300
        )
    finally:
        shutil.rmtree(work)
    assert done.returncode != 0 and "file_name" in done.stdout
