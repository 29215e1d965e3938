"""gunicorn's entry to the peer's host project."""

from django.core.wsgi import get_wsgi_application

application = get_wsgi_application()
