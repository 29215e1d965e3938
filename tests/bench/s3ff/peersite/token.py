"""Prints a bearer token for a user of the peer's database (made if missing): the bench's client
authenticates to the peer as it does to us."""

import sys

import django

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from rest_framework_simplejwt.tokens import AccessToken  # noqa: E402

user, _ = get_user_model().objects.get_or_create(username=sys.argv[1])
print(AccessToken.for_user(user))
