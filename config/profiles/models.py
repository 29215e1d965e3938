"""A person's profile: an avatar and a document, each an upload of its own destination."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from uploader.fields import UploadField


class Profile(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile")
    display_name = models.CharField(_("display name"), max_length=100, blank=True)
    avatar = UploadField(destination="avatars", verbose_name=_("avatar"))
    document = UploadField(destination="documents", verbose_name=_("document"))

    class Meta:
        verbose_name = _("profile")
        verbose_name_plural = _("profiles")

    def __str__(self):
        return self.display_name or self.user.get_username()
