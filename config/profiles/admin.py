from django.contrib import admin

from .models import Profile


@admin.register(Profile)
class ProfileAdmin(admin.ModelAdmin):
    """Nothing upload-specific: the UploadFields bring their widget."""

    list_display = ["__str__", "user"]
