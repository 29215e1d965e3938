"""Who may hold an API token, how failed logins are counted, and ending a user's tokens when the
password changes or the account is deactivated."""

from allauth.account.adapter import DefaultAccountAdapter
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q


class AccountAdapter(DefaultAccountAdapter):
    """allauth's, but the failed-login lock (five failures in five minutes) belongs to the account,
    whatever it is called by. allauth keyed it by the text typed and the site's domain, which
    without the sites framework is the request's Host header, port included: `Host:
    uploads.example.com:1`, `:2`, ... all pass ALLOWED_HOSTS, and each port, and the address
    beside the username, bought five more guesses at the same password."""

    def _get_login_attempts_cache_key(self, request, **credentials):
        login = str(credentials.get("email", credentials.get("username", ""))).strip().lower()
        named = Q(username__iexact=login) | Q(email__iexact=login) | Q(emailaddress__email__iexact=login)
        accounts = get_user_model().objects.filter(named).values_list("pk", flat=True).distinct()
        found = list(accounts[:2]) if login else []
        # One account: its own lock. None (or an address two accounts share): the text's.
        return f"account:{found[0]}" if len(found) == 1 else f"login:{login}"


def email_verified_if_required(user) -> bool:
    """Under ACCOUNT_EMAIL_VERIFICATION = "mandatory", allauth's web login lets in only users with
    a verified address; elsewhere everyone passes."""
    from allauth.account import app_settings
    from allauth.account.utils import has_verified_email

    if app_settings.EMAIL_VERIFICATION != app_settings.EmailVerificationMethod.MANDATORY:
        return True
    return has_verified_email(user)


def can_log_in(user) -> bool:
    """simplejwt's USER_AUTHENTICATION_RULE: a token goes to whoever the web login would let in."""
    return user is not None and user.is_active and email_verified_if_required(user)


def revoke_tokens(*, user_id: int) -> int:
    """Blacklist every refresh token the user holds; returns how many were still live."""
    from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

    live = OutstandingToken.objects.filter(user_id=user_id, blacklistedtoken__isnull=True)
    return len(BlacklistedToken.objects.bulk_create([BlacklistedToken(token=t) for t in live], ignore_conflicts=True))


def note_credentials_before_save(sender, instance, update_fields=None, **kwargs):
    """pre_save: remember whether this save changes the password or deactivates the account."""
    instance._revoke_tokens = False
    if instance.pk is None or (update_fields is not None and not {"password", "is_active"} & set(update_fields)):
        return
    before = sender._default_manager.filter(pk=instance.pk).values("password", "is_active").first()
    if before is not None:
        instance._revoke_tokens = before["password"] != instance.password or (
            before["is_active"] and not instance.is_active
        )


def revoke_tokens_after_save(sender, instance, **kwargs):
    """post_save: a changed password or a deactivated account ends every refresh token."""
    if getattr(instance, "_revoke_tokens", False):
        instance._revoke_tokens = False
        transaction.on_commit(lambda: revoke_tokens(user_id=instance.pk))
