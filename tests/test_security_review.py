"""The outside security review's attacks, each performed against real processes: the live server
over HTTP, the emulator's S3 and SQS, and a real `celery worker` wherever the pipeline decides.
Every one of them worked before it was fixed; SECURITY.md says what stops each."""

import base64
import datetime as dt
import hashlib
import io
import json
import re
import secrets
import subprocess
import sys
from pathlib import Path

import jwt
import pytest
import requests
from allauth.account.models import EmailAddress
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings as django_settings
from django.core.cache import cache
from PIL import Image
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from config.celery import app as celery_app
from uploader import aws
from uploader.aws import localaws, objects
from uploader.models import ExternalIdentity, Upload, UploadEvent
from uploader.services import selectors

from .factories import jpeg_bytes, make_user
from .helpers import (
    ApiUser,
    answering,
    environment_without_settings,
    production_environment,
    purge_queue,
    put_object,
    start_gunicorn,
    stop_gunicorn,
    wait_for,
)
from .static_server import serving

pytestmark = pytest.mark.django_db(transaction=True)
MiB = 1024**2
PROJECT = Path(__file__).resolve().parents[1]
# The key local settings shipped with, published in the repository: it must sign nothing that counts.
PUBLIC_LOCAL_KEY = "insecure-local-only-key-never-use-in-production"


@pytest.fixture(autouse=True)
def fresh_throttles():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def alice(live_server, aws_resources):
    make_user("alice", "pw-alice-123")
    return ApiUser(live_server.url, "alice", "pw-alice-123")


def _row(key):
    return Upload.objects.get(key=key)


def _stored(key):
    return objects.head(bucket=django_settings.UPLOADER_BUCKET, key=key)


def _gif_bytes():
    buf = io.BytesIO()
    Image.new("RGB", (8, 8), (0, 200, 0)).save(buf, "GIF")
    return buf.getvalue()


def web_session(base_url, username, password):
    """A browser-like session logged in through the sign-in form."""
    http = requests.Session()
    http.get(f"{base_url}/accounts/login/", timeout=10)
    answer = http.post(
        f"{base_url}/accounts/login/",
        timeout=10,
        allow_redirects=False,
        data={"login": username, "password": password, "csrfmiddlewaretoken": http.cookies["csrftoken"]},
        headers={"Referer": f"{base_url}/accounts/login/"},
    )
    assert answer.status_code == 302, answer.text[:500]
    return http


def post_form(http, url, data):
    http.get(url, timeout=10)
    return http.post(
        url,
        data={**data, "csrfmiddlewaretoken": http.cookies["csrftoken"]},
        headers={"Referer": url},
        timeout=10,
        allow_redirects=False,
    )


# --- High 1: the legacy call and the quota ---


def test_legacy_presigns_cannot_hold_more_than_the_quota(alice, settings, start_worker):
    quota, legacy_max = 20 * MiB, 8 * MiB
    settings.UPLOADER_USER_QUOTA, settings.UPLOADER_LEGACY_MAX_SIZE = quota, legacy_max
    start_worker(UPLOADER_USER_QUOTA=str(quota), UPLOADER_LEGACY_MAX_SIZE=str(legacy_max))

    granted = [alice.legacy_presign() for _ in range(3)]
    assert [g.status_code for g in granted] == [200, 200, 413]  # each reserves the legacy maximum
    assert granted[2].json()["code"] == "quota_exceeded"
    big = jpeg_bytes() + bytes(30 * MiB)
    for grant in granted[:2]:
        sent = requests.put(grant.json()["uploadURL"], data=big, headers={"Content-Type": "image/jpeg"}, timeout=120)
        assert sent.status_code == 200  # S3 takes it: a URL cannot pin a length it was never told
    keys = [g.json()["Key"] for g in granted[:2]]
    wait_for(
        lambda: all(_row(k).status == "rejected" and _stored(k) is None for k in keys),
        timeout=60,
        what="the worker's verdicts and deletions",
    )
    for key in keys:
        assert f"Stored size {len(big)} is outside 1..{legacy_max} bytes." in _row(key).status_reason
    owner = _row(keys[0]).owner_id
    assert selectors.upload_bytes_held(owner_id=owner) == 0

    # What fits is kept, and counted at its stored size.
    small = jpeg_bytes()
    grant = alice.legacy_presign().json()
    assert requests.put(grant["uploadURL"], data=small, headers={"Content-Type": "image/jpeg"}, timeout=30).ok
    wait_for(lambda: _row(grant["Key"]).status == "available", what="the small legacy upload")
    assert selectors.upload_bytes_held(owner_id=owner) == len(small)

    # Given a size, the legacy URL pins it: S3 itself refuses a longer body.
    pinned = alice.legacy_presign(size=len(small)).json()
    longer = requests.put(pinned["uploadURL"], data=small + b"x", headers={"Content-Type": "image/jpeg"}, timeout=30)
    assert longer.status_code == 403


def test_a_lowered_quota_rejects_what_arrives_over_it(alice, settings, start_worker):
    body = jpeg_bytes() + bytes(2 * MiB)
    started = alice.start(size=len(body))
    # The operator lowers the quota after the presign; the worker judges by the quota in force.
    start_worker(UPLOADER_USER_QUOTA=str(MiB))
    assert put_object(started["upload"], body).status_code == 200
    wait_for(
        lambda: _row(started["key"]).status == "rejected" and _stored(started["key"]) is None,
        what="the verdict and the object's deletion",
    )
    assert "over the quota" in _row(started["key"]).status_reason


# --- Medium 2: bytes written after the worker decided ---


def test_bytes_written_over_a_verified_upload_are_checked_again(alice, start_worker):
    start_worker()
    original = jpeg_bytes() + b" " * 64
    polyglot = jpeg_bytes() + b"<script>alert(1)</script>".ljust(64)
    assert len(polyglot) == len(original)  # a presigned POST pins the length, not the bytes

    legacy = alice.legacy_presign().json()  # no If-None-Match in the legacy contract
    form = alice.start(size=len(original), method="POST")["upload"]  # a POST form cannot carry one

    def via_legacy(body):
        return requests.put(legacy["uploadURL"], data=body, headers={"Content-Type": "image/jpeg"}, timeout=30)

    def via_form(body):
        return requests.post(form["url"], data=form["fields"], files={"file": ("photo.jpg", body)}, timeout=30)

    for key, send in ((legacy["Key"], via_legacy), (form["fields"]["key"], via_form)):
        assert send(original).ok
        wait_for(lambda: _row(key).status == "available", what="the first verdict")
        first = _row(key)
        assert send(polyglot).ok  # the store takes the replay
        wait_for(
            lambda: _row(key).status == "rejected" and _stored(key) is None,
            what="the second look, and nothing left to download",
        )
        upload = _row(key)
        assert "polyglot" in upload.status_reason
        assert upload.etag != first.etag and upload.version > first.version
        assert alice.get(upload.pk)["download_url"] is None
        trail = list(UploadEvent.objects.filter(upload_id=upload.pk).order_by("id").values_list("action", flat=True))
        assert trail[-2:] == ["changed", "rejected"]  # the audit trail says what happened


def test_bytes_sent_to_an_aborted_or_rejected_upload_are_deleted(alice, start_worker):
    start_worker()
    body = jpeg_bytes()
    aborted = alice.start(size=len(body))
    assert alice.call("POST", f"/api/v1/uploads/{aborted['id']}/abort/").json()["status"] == "expired"
    assert put_object(aborted["upload"], body).status_code == 200  # its URL has not expired yet

    gif = _gif_bytes()
    rejected = alice.start(size=len(gif))
    assert put_object(rejected["upload"], gif).status_code == 200  # a GIF declared as a JPEG
    wait_for(
        lambda: _row(rejected["key"]).status == "rejected" and _stored(rejected["key"]) is None, what="the rejection"
    )
    assert put_object(rejected["upload"], gif).status_code == 200  # If-None-Match passes: the key is empty

    for key, status in ((aborted["key"], "expired"), (rejected["key"], "rejected")):
        wait_for(lambda: _stored(key) is None, what=f"the stray object under a {status} upload to go")
        assert _row(key).status == status


def test_markup_at_the_end_of_a_large_image_is_found(alice, start_worker):
    start_worker()
    body = jpeg_bytes() + bytes(200 * 1024) + b"<?php system($_GET['c']); ?>"
    started = alice.start(size=len(body))
    assert put_object(started["upload"], body).status_code == 200
    wait_for(lambda: _row(started["key"]).status == "rejected", what="the verdict")
    assert "polyglot" in _row(started["key"]).status_reason


# --- Medium 3: the token endpoint ---


def test_password_guessing_on_the_token_endpoint_is_throttled(live_server):
    make_user("alice", "pw-alice-123")
    url = f"{live_server.url}/api/v1/auth/token/"
    answers = [requests.post(url, json={"username": "alice", "password": f"guess-{i}"}, timeout=10) for i in range(60)]
    codes = [a.status_code for a in answers]
    # Five failures lock the name (the web form's own limit, shared); ten attempts a minute in any case.
    assert codes[:5] == [401] * 5 and set(codes[5:]) == {429}, codes
    assert answers[-1].json()["code"] == "throttled"
    assert int(answers[-1].headers["Retry-After"]) > 0
    # The right password waits too, and other spellings of the name are the same name.
    assert requests.post(url, json={"username": "ALICE ", "password": "pw-alice-123"}, timeout=10).status_code == 429


def test_the_web_forms_failed_login_lock_holds_for_tokens_and_back(live_server):
    make_user("alice", "pw-alice-123")
    url = f"{live_server.url}/api/v1/auth/token/"
    web = requests.Session()
    for i in range(5):
        post_form(web, f"{live_server.url}/accounts/login/", {"login": "alice", "password": f"guess-{i}"})
    locked = requests.post(url, json={"username": "alice", "password": "pw-alice-123"}, timeout=10)
    assert locked.status_code == 429 and locked.json()["code"] == "throttled"

    cache.clear()
    for i in range(5):
        assert requests.post(url, json={"username": "alice", "password": f"guess-{i}"}, timeout=10).status_code == 401
    form = post_form(
        requests.Session(), f"{live_server.url}/accounts/login/", {"login": "alice", "password": "pw-alice-123"}
    )
    assert form.status_code == 200 and "Too many failed login attempts" in form.text  # the form is locked too


def test_spraying_usernames_from_one_address_is_throttled_whatever_it_claims(live_server):
    url = f"{live_server.url}/api/v1/auth/token/"
    codes = [
        requests.post(
            url,
            json={"username": f"user{i}", "password": "guess"},
            timeout=10,
            headers={"X-Forwarded-For": f"203.0.113.{i}"},
        ).status_code  # a forged hop per try
        for i in range(40)
    ]
    # Ten failures a minute from one address (allauth's limit, shared with the web form), and
    # thirty attempts a minute in any case.
    assert codes[:10] == [401] * 10 and set(codes[10:]) == {429}, codes


def test_an_unverified_address_gets_no_token_where_the_web_login_demands_verification(live_server, settings):
    settings.ACCOUNT_EMAIL_VERIFICATION = "mandatory"
    user = make_user("vic", "pw-vic-12345")
    EmailAddress.objects.create(user=user, email=user.email, verified=False, primary=True)
    url = f"{live_server.url}/api/v1/auth/token/"
    refused = requests.post(url, json={"username": "vic", "password": "pw-vic-12345"}, timeout=10)
    assert refused.status_code == 401 and refused.json()["code"] == "email_not_verified"
    assert not Upload.objects.exists()

    EmailAddress.objects.filter(user=user).update(verified=True)
    pair = requests.post(url, json={"username": "vic", "password": "pw-vic-12345"}, timeout=10)
    assert pair.status_code == 200
    # A refresh token held from a verified time stops working if verification is withdrawn.
    EmailAddress.objects.filter(user=user).update(verified=False)
    again = requests.post(
        f"{live_server.url}/api/v1/auth/token/refresh/", json={"refresh": pair.json()["refresh"]}, timeout=10
    )
    assert again.status_code == 401 and again.json()["code"] == "email_not_verified"


# --- Medium 4: a key removed from the external issuer's JWKS ---

ISSUER, AUDIENCE = "https://idp.example.test/", "uploads-api"


def _rsa_jwk(kid):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return key, {**public, "kid": kid, "use": "sig", "alg": "RS256"}


@pytest.fixture
def issuer(settings):
    """An external identity provider whose key set the test can change while it is served."""
    key, jwk = _rsa_jwk("k1")
    published = {"k1": jwk}
    with serving(lambda: json.dumps({"keys": list(published.values())}).encode(), "application/json") as base:
        settings.JWT_ISSUER, settings.JWT_AUDIENCE = ISSUER, AUDIENCE
        settings.JWT_JWKS_URL, settings.JWT_JWKS_CACHE_SECONDS = f"{base}/.well-known/jwks.json", 2

        def token(**claims):
            now = dt.datetime.now(dt.UTC)
            claims = {
                "iss": ISSUER,
                "aud": AUDIENCE,
                "sub": "user-42",
                "iat": now,
                "exp": now + dt.timedelta(minutes=5),
                **claims,
            }
            return jwt.encode(claims, key, algorithm="RS256", headers={"kid": "k1"})

        token.published = published
        token.keys = {"k1": (key, jwk)}
        yield token


def _bearer_get(base_url, token):
    return requests.get(f"{base_url}/api/v1/uploads/", headers={"Authorization": f"Bearer {token}"}, timeout=10)


def test_a_key_removed_from_the_issuers_key_set_stops_working(live_server, issuer):
    token = issuer()
    assert _bearer_get(live_server.url, token).status_code == 200
    del issuer.published["k1"]  # the issuer rotates the key out (it leaked)
    # Within the key-set cache lifetime (2 s here, at most 300 s by setting), not at the next restart.
    wait_for(
        lambda: _bearer_get(live_server.url, token).status_code == 401,
        timeout=10,
        interval=0.5,
        what="the removed key to be refused",
    )


def test_an_issuers_token_without_a_subject_or_with_an_unknown_key_is_refused(live_server, issuer):
    now = dt.datetime.now(dt.UTC)
    claims = {"iss": ISSUER, "aud": AUDIENCE, "iat": now, "exp": now + dt.timedelta(minutes=5)}
    signing_key, _published = issuer.keys["k1"]
    no_subject = jwt.encode(claims, signing_key, algorithm="RS256", headers={"kid": "k1"})
    answer = _bearer_get(live_server.url, no_subject)
    assert answer.status_code == 401
    assert answer.json() == {"detail": 'Invalid token: Token is missing the "sub" claim', "code": "token_not_valid"}
    stranger, _jwk = _rsa_jwk("k9")  # a key the issuer never published
    forged = jwt.encode({**claims, "sub": "user-42"}, stranger, algorithm="RS256", headers={"kid": "k9"})
    answer = _bearer_get(live_server.url, forged)
    assert (answer.status_code, answer.json()["code"]) == (401, "token_not_valid")
    assert not ExternalIdentity.objects.exists()  # nobody was created from either


def test_an_unreachable_key_set_refuses_the_issuers_tokens_and_says_why(live_server, issuer, settings):
    settings.JWT_JWKS_URL = f"http://127.0.0.1:{localaws.free_port()}/.well-known/jwks.json"  # nobody listens
    answer = _bearer_get(live_server.url, issuer())
    assert answer.status_code == 401
    assert answer.json()["detail"] == "The identity provider's keys could not be fetched."


# --- Medium 5: refresh tokens, password changes, logout ---


def test_a_password_change_ends_every_token_and_logout_ends_one(alice, live_server):
    laptop = ApiUser(live_server.url, "alice", "pw-alice-123")
    refresh_url = f"{live_server.url}/api/v1/auth/token/refresh/"

    assert (
        requests.post(
            f"{live_server.url}/api/v1/auth/logout/", json={"refresh": laptop.tokens["refresh"]}, timeout=10
        ).status_code
        == 204
    )
    assert requests.post(refresh_url, json={"refresh": laptop.tokens["refresh"]}, timeout=10).status_code == 401
    assert alice.call("GET", "/api/v1/uploads/").status_code == 200  # the phone's session goes on

    # The owner changes the password on the web (say, after losing the phone).
    web = web_session(live_server.url, "alice", "pw-alice-123")
    changed = post_form(
        web,
        f"{live_server.url}/accounts/password/change/",
        {"oldpassword": "pw-alice-123", "password1": "a-new-passphrase-7", "password2": "a-new-passphrase-7"},
    )
    assert changed.status_code == 302, changed.text[:500]
    assert requests.post(refresh_url, json={"refresh": alice.tokens["refresh"]}, timeout=10).status_code == 401
    stolen = alice.call("GET", "/api/v1/uploads/")
    assert stolen.status_code == 401 and stolen.json()["code"] == "password_changed"
    assert ApiUser(live_server.url, "alice", "a-new-passphrase-7").call("GET", "/api/v1/uploads/").status_code == 200


def test_deactivation_ends_refresh_tokens_for_good(live_server, aws_resources):
    user = make_user("mallory", "pw-mallory-1")
    phone = ApiUser(live_server.url, "mallory", "pw-mallory-1")
    user.is_active = False
    user.save()
    outstanding = OutstandingToken.objects.filter(user=user)
    assert (
        outstanding.exists() and BlacklistedToken.objects.filter(token__in=outstanding).count() == outstanding.count()
    )
    user.is_active = True  # reinstated: old devices still have to sign in again
    user.save()
    answer = requests.post(
        f"{live_server.url}/api/v1/auth/token/refresh/", json={"refresh": phone.tokens["refresh"]}, timeout=10
    )
    assert answer.status_code == 401


def test_logout_is_in_the_schema_and_refuses_a_bad_token_with_401(live_server):
    schema = requests.get(f"{live_server.url}/api/v1/schema/?format=json", timeout=30).json()
    assert {"204", "401"} <= set(schema["paths"]["/api/v1/auth/logout/"]["post"]["responses"])
    answer = requests.post(f"{live_server.url}/api/v1/auth/logout/", json={"refresh": "0"}, timeout=10)
    assert answer.status_code == 401 and answer.json()["code"] == "token_not_valid"


# --- Low 6: the legacy GET and session cookies ---


def test_the_legacy_get_refuses_a_session_cookie(live_server, aws_resources):
    make_user("alice", "pw-alice-123")
    victim_browser = web_session(live_server.url, "alice", "pw-alice-123")
    # What a cross-site <img src=".../api/v1/presign/"> makes the victim's browser send.
    answer = victim_browser.get(f"{live_server.url}/api/v1/presign/?content_type=image/jpeg", timeout=10)
    assert answer.status_code == 401
    assert not Upload.objects.exists()
    bearer = ApiUser(live_server.url, "alice", "pw-alice-123")
    assert bearer.legacy_presign().status_code == 200  # the seed's contract, for token clients


# --- Low 7: external identities ---


def test_a_local_account_named_like_an_external_subject_locks_nobody_out(live_server, issuer, aws_resources):
    digest = hashlib.sha256(f"{ISSUER}\0user-42".encode()).hexdigest()[:24]
    squatter = make_user(f"ext-{digest}", "pw-squatter-1")
    for _ in range(2):
        assert _bearer_get(live_server.url, issuer()).status_code == 200
    identity = ExternalIdentity.objects.get(subject="user-42")
    assert identity.user != squatter  # and the squatter gained nothing


def test_an_unverified_email_claim_is_not_stored_and_blocks_no_signup(live_server, issuer, aws_resources):
    assert _bearer_get(live_server.url, issuer(email="victim@example.com", email_verified=False)).status_code == 200
    assert ExternalIdentity.objects.get().user.email == ""
    # The address's real owner can still sign up with it.
    signup = post_form(
        requests.Session(),
        f"{live_server.url}/accounts/signup/",
        {
            "email": "victim@example.com",
            "username": "victim",
            "password1": "a-long-passphrase-9",
            "password2": "a-long-passphrase-9",
        },
    )
    assert signup.status_code == 302, signup.text[:1000]
    # A verified claim is stored, unless someone here already has the address.
    assert (
        _bearer_get(live_server.url, issuer(sub="user-43", email="victim@example.com", email_verified=True)).status_code
        == 200
    )
    assert ExternalIdentity.objects.get(subject="user-43").user.email == ""
    assert (
        _bearer_get(live_server.url, issuer(sub="user-44", email="new@example.com", email_verified=True)).status_code
        == 200
    )
    assert ExternalIdentity.objects.get(subject="user-44").user.email == "new@example.com"


# --- Low 8: complete, parts, abort and delete ---


@pytest.fixture
def task_queue(transactional_db, aws_resources):
    """Tasks go to the real Celery queue on SQS (no worker): the test reads what was queued."""
    name = django_settings.CELERY_TASK_DEFAULT_QUEUE
    purge_queue(name)
    celery_app.conf.task_always_eager = False

    def queued(task):
        sqs, url, names = aws.sqs(), aws.queue_url(name), []
        while messages := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=30
        ).get("Messages", []):
            names += [json.loads(base64.b64decode(m["Body"]))["headers"]["task"] for m in messages]
        return names.count(task)

    yield queued
    celery_app.conf.task_always_eager = True
    purge_queue(name)


def test_completes_are_throttled_and_a_repeat_queues_nothing_new(alice, settings, task_queue):
    settings.UPLOADER_ACTION_RATE = "20/min"
    body = jpeg_bytes()
    started = alice.start(size=len(body))
    complete = f"/api/v1/uploads/{started['id']}/complete/"
    codes = [alice.call("POST", complete).status_code for _ in range(30)]
    assert codes[:20] == [202] * 20 and set(codes[20:]) == {429}, codes
    assert task_queue("uploader.verify_upload") == 0  # no object yet: its S3 event will come

    cache.clear()
    assert put_object(started["upload"], body).status_code == 200
    answers = [alice.call("POST", complete) for _ in range(5)]
    assert [a.json()["status"] for a in answers] == ["processing"] * 5
    assert task_queue("uploader.verify_upload") == 1


def test_parts_abort_and_delete_are_throttled_too(alice, settings):
    settings.UPLOADER_ACTION_RATE = "3/min"
    for method, suffix in (("GET", "parts/"), ("POST", "abort/"), ("DELETE", "")):
        cache.clear()
        started = alice.start(size=1000)
        codes = [alice.call(method, f"/api/v1/uploads/{started['id']}/{suffix}").status_code for _ in range(5)]
        assert codes[3:] == [429, 429], (method, codes)


# --- Low 9: settings that fail closed ---


@pytest.mark.parametrize(
    "code",
    [
        "import config.wsgi",
        "import config.asgi",
        "from config.celery import app; app.conf.broker_url",
    ],
)
def test_a_host_that_forgets_its_settings_module_refuses_to_start(code):
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=environment_without_settings(),
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.parametrize("missing", ["DJANGO_SECRET_KEY", "DATABASE_URL", "REDIS_URL"])
def test_production_refuses_to_start_without_its_secrets(missing):
    env = {**production_environment(), "DJANGO_SETTINGS_MODULE": "config.settings.production"}
    del env[missing]
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], env=env, cwd=PROJECT, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0 and missing in result.stderr


def test_production_passes_the_deploy_check():
    env = {**production_environment(), "DJANGO_SETTINGS_MODULE": "config.settings.production"}
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env,
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_gunicorn_without_a_settings_module_runs_production_and_refuses_a_forged_token(
    aws_resources, tmp_path, redis_url
):
    user = make_user("alice", "pw-alice-123")
    env = {**production_environment(redis_url), "UPLOADER_TOKEN_RATE_USERNAME": "4/min"}
    server, base, log = start_gunicorn(tmp_path, "gunicorn", env, "--workers", "2")  # no config file either
    try:
        wait_for(lambda: answering(server, base, log), timeout=60, what="gunicorn")
        now = int(dt.datetime.now(dt.UTC).timestamp())
        forged = jwt.encode(
            {
                "token_type": "access",
                "exp": now + 300,
                "iat": now,
                "jti": secrets.token_hex(16),
                "user_id": str(user.pk),
                "hash_password": get_md5_hash_password(user.password),
            },
            PUBLIC_LOCAL_KEY,
            algorithm="HS256",
        )
        over_tls = {"X-Forwarded-Proto": "https"}  # as the TLS-terminating proxy says
        answer = requests.get(
            f"{base}/api/v1/uploads/", headers={"Authorization": f"Bearer {forged}", **over_tls}, timeout=10
        )
        assert answer.status_code == 401
        assert "max-age=31536000" in answer.headers["Strict-Transport-Security"]
        assert "default-src 'self'" in answer.headers["Content-Security-Policy"]
        plain = requests.get(f"{base}/api/v1/uploads/", timeout=10, allow_redirects=False)
        assert plain.status_code == 301 and plain.headers["Location"].startswith("https://")
        # Two worker processes, one count: the fifth guess is refused whichever process takes it.
        guesses = [
            requests.post(
                f"{base}/api/v1/auth/token/",
                json={"username": "alice", "password": f"g{i}"},
                headers=over_tls,
                timeout=10,
            ).status_code
            for i in range(8)
        ]
        assert guesses == [401] * 4 + [429] * 4, guesses
    finally:
        stop_gunicorn(server)


# --- Also ---


def test_a_name_that_is_only_an_extension_is_checked(alice):
    answer = alice.call(
        "POST", "/api/v1/uploads/", json={"filename": ".html", "content_type": "application/zip", "size": 100}
    )
    assert answer.status_code == 400 and answer.json()["code"] == "invalid_filename"
    assert "extension .html" in answer.json()["detail"]


def test_the_event_queue_admits_only_this_accounts_bucket(aws_resources):
    url = aws.queue_url(django_settings.UPLOADER_EVENTS_QUEUE)
    policy = json.loads(aws.sqs().get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    [statement] = policy["Statement"]
    account = re.match(r"arn:aws:sqs:[^:]+:(\d+):", statement["Resource"]).group(1)
    assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": account}
    assert statement["Condition"]["ArnLike"] == {"aws:SourceArn": f"arn:aws:s3:::{aws_resources}"}
