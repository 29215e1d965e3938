"""The site's sign-in API, under /api/v1/auth/ beside the upload app's routes."""

from django.urls import path

from . import auth_views

urlpatterns = [
    path("token/", auth_views.TokenObtainApi.as_view(), name="token-obtain"),
    path("token/refresh/", auth_views.TokenRefreshApi.as_view(), name="token-refresh"),
    path("logout/", auth_views.LogoutApi.as_view(), name="logout"),
]
