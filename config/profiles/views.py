"""The profile page (a ModelForm) and its API (a serializer with UploadSerializerFields)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers

from uploader.api.fields import UploadSerializerField
from uploader.services import selectors

from .forms import ProfileForm
from .models import Profile


@login_required
def edit(request):
    profile, _created = Profile.objects.get_or_create(user=request.user)
    form = ProfileForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Your profile is saved."))
        return redirect("profile")
    avatar = profile.avatar and selectors.upload_thumbnail_url(upload=profile.avatar)
    return render(request, "profiles/edit.html", {"form": form, "avatar_url": avatar})


class ProfileSerializer(serializers.ModelSerializer):
    avatar = UploadSerializerField(destination="avatars", required=False, allow_null=True)
    document = UploadSerializerField(destination="documents", required=False, allow_null=True)

    class Meta:
        model = Profile
        fields = ["display_name", "avatar", "document"]


@extend_schema(exclude=True)  # the site's own; /api/v1/schema/ describes the upload API alone
class ProfileApi(generics.RetrieveUpdateAPIView):
    serializer_class = ProfileSerializer

    def get_object(self):
        return Profile.objects.get_or_create(user=self.request.user)[0]
