from django.contrib import admin
from django.urls import include, path, re_path

from config.profiles import views as profiles
from uploader.api.views import NotFoundApi

# The reviewers' list needs the width: its key columns fit 1280 px without the app sidebar (the
# breadcrumbs and the home page still lead everywhere).
admin.site.enable_nav_sidebar = False

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("api/v1/auth/", include("config.site.urls")),  # the site's sign-in API
    path("api/v1/", include("uploader.api.urls")),
    re_path(r"^api/v1/.*/$", NotFoundApi.as_view()),  # any other API path: the API's JSON 404
    path("profile/", profiles.edit, name="profile"),
    path("profile/api/", profiles.ProfileApi.as_view(), name="profile-api"),
    path("i18n/", include("django.conf.urls.i18n")),  # set_language: the switcher's form posts here
    path("", include("uploader.urls")),
]
