"""Limits under a burst, as an attacker sends one: many requests at once, spread over two gunicorn
web servers (production settings) that share one Redis. Sent one at a time, every limit here held
already (tests/test_security_review.py); at once, each let more through than it allows."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from allauth.account.models import EmailAddress
from django.contrib.auth.hashers import PBKDF2PasswordHasher

from .factories import make_user
from .helpers import ApiUser, answering, production_environment, start_gunicorn, stop_gunicorn, wait_for

BURST = 48
PRESIGNERS = ("ana", "amy", "ari", "avi")  # a burst each: the race is likelier than not, not certain


@pytest.fixture
def servers(transactional_db, aws_resources, tmp_path, redis_url):
    """Two web servers of two processes and four threads each; presigns limited to 3 a minute."""
    for name in ("ben", *PRESIGNERS):
        user = make_user(name)
        hasher = PBKDF2PasswordHasher()  # production refuses the test settings' fast hasher
        user.password = hasher.encode(f"pw-{name}-12345", hasher.salt(), iterations=1000)
        user.save(update_fields=["password"])
        EmailAddress.objects.create(user=user, email=user.email, verified=True, primary=True)
    env = {**production_environment(redis_url), "WEB_CONCURRENCY": "2", "UPLOADER_PRESIGN_RATE": "3/min"}
    started = [start_gunicorn(tmp_path, f"web{i}", env) for i in range(2)]
    try:
        for proc, base, log in started:
            wait_for(lambda proc=proc, base=base, log=log: answering(proc, base, log), timeout=90, what="gunicorn")
        yield [base for _, base, _ in started]
    finally:
        for proc, _, _ in started:
            stop_gunicorn(proc)


def _at_once(servers, send):
    """`send(i, http, base)` from BURST threads at once, each on a connection to one of the two
    servers that it opened beforehand, so the requests arrive together."""
    gate = threading.Barrier(BURST)

    def one(i):
        http, base = requests.Session(), servers[i % 2]
        http.headers["X-Forwarded-Proto"] = "https"
        assert http.get(f"{base}/healthz", timeout=30).status_code == 200
        gate.wait(timeout=60)
        return send(i, http, base)

    with ThreadPoolExecutor(BURST) as pool:
        return list(pool.map(one, range(BURST)))


def test_a_burst_of_password_guesses_gets_five_whatever_name_or_host_it_gives(servers):
    def guess(i, http, base):
        # Each guess names another port in its Host header (ALLOWED_HOSTS ignores the port) and
        # calls the account by its name or its address: allauth counted failures per text typed
        # and host:port.
        host = f"127.0.0.1:{int(base.rsplit(':', 1)[1]) + i % 7}"
        body = {"username": ("ben", "BEN@example.com", " Ben")[i % 3], "password": f"guess-{i}"}
        return http.post(f"{base}/api/v1/auth/token/", json=body, headers={"Host": host}, timeout=60).status_code

    codes = _at_once(servers, guess)
    # Five failed sign-ins lock the name for five minutes (allauth's limit, shared with the web form).
    assert codes.count(401) == 5 and codes.count(429) == BURST - 5, codes
    for base in servers:  # the right password waits too, on either server
        answer = requests.post(
            f"{base}/api/v1/auth/token/",
            json={"username": "ben", "password": "pw-ben-12345"},
            headers={"X-Forwarded-Proto": "https"},
            timeout=30,
        )
        assert answer.status_code == 429, answer.text


def test_a_burst_of_presigns_gets_the_rate_and_no_more(servers):
    for name in PRESIGNERS:
        user = ApiUser(servers[0], name, f"pw-{name}-12345", behind_tls_proxy=True)

        def presign(i, http, base, user=user):
            body = {"filename": f"photo-{i}.jpg", "content_type": "image/jpeg", "size": 1000}
            headers = {"Authorization": f"Bearer {user.tokens['access']}"}
            return http.post(f"{base}/api/v1/uploads/", json=body, headers=headers, timeout=60)

        answers = _at_once(servers, presign)
        codes = [a.status_code for a in answers]
        assert codes.count(201) == 3 and codes.count(429) == BURST - 3, (name, codes)
        waits = {int(a.headers["Retry-After"]) for a in answers if a.status_code == 429}
        # Until one more fits in the sliding minute: this minute's three must weigh less than two.
        assert waits and all(0 < wait <= 120 for wait in waits), waits
