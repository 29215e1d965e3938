from django import forms

from .models import Profile


class ProfileForm(forms.ModelForm):
    """A plain ModelForm: the UploadFields bring their own form fields and widgets."""

    class Meta:
        model = Profile
        fields = ["display_name", "avatar", "document"]
