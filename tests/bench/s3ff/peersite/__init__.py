"""A minimal host project of django-s3-file-field, the peer of `make bench` (tests/bench/peer.py):
one model with an S3FileField, s3ff's routes, a trivial endpoint, simplejwt bearer authentication,
SQLite. Runs only in the peer's scratch virtualenv."""
