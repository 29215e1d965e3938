"""The review tool staff work in. Every action goes through the services layer."""

import contextlib
import uuid

from botocore.exceptions import BotoCoreError, ClientError
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import filesizeformat
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from . import mirror, services, signing
from .models import Upload, UploadEvent

INLINE_TYPES = {t for t in signing.INLINE_SAFE_TYPES if t.startswith("image/")}  # never SVG: it can carry script
PLAYABLE = {"video/mp4": "video", "video/quicktime": "video", "audio/mpeg": "audio"}
TYPE_BADGE = (
    '<span title="{}" style="display:inline-block;width:44px;padding:12px 0;text-align:center;'
    'border-radius:4px;background:#e5e7ee;color:#1d2330;font:600 11px sans-serif">{}</span>'
)


def _type_label(content_type):
    """A short label standing in for a thumbnail: PDF, ZIP, MP4, ..."""
    subtype = content_type.rsplit("/", 1)[-1].split(";")[0].split("+")[0]
    return {"quicktime": "MOV", "mpeg": "MP3", "plain": "TXT"}.get(subtype, subtype[:4].upper() or "FILE")


class ReviewActionForm(ActionForm):
    reason = forms.CharField(
        required=False,
        label=gettext_lazy("Reason (for rejections; the owner sees it)"),
        widget=forms.TextInput(attrs={"size": 40}),
    )


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = [
        "thumbnail",
        "original_filename",
        "owner",
        "human_size",
        "content_type",
        "status",
        "review_status",
        "created_at",
    ]
    list_display_links = ["original_filename"]
    list_filter = ["status", "review_status", "content_type", ("owner", admin.RelatedOnlyFieldListFilter), "created_at"]
    search_fields = ["original_filename", "key", "owner__username", "owner__email"]
    list_select_related = ["owner"]
    list_per_page = 50
    show_full_result_count = False  # one COUNT per page, not two
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    action_form = ReviewActionForm
    actions = ["approve_selected", "reject_selected", "reprocess_selected", "remirror_selected", "delete_selected"]
    change_form_template = "admin/uploader/upload/change_form.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "preview",
                    "original_filename",
                    "owner",
                    "status",
                    "status_reason",
                    "review_status",
                    "review_reason",
                    "reviewed_by",
                    "reviewed_at",
                    "visibility",
                ]
            },
        ),
        (
            gettext_lazy("Stored object"),
            {
                "fields": [
                    "key",
                    "bucket",
                    "content_type",
                    "sniffed_type",
                    "dimensions",
                    "sizes",
                    "checksum_sha256",
                    "etag",
                    "multipart_upload_id",
                ]
            },
        ),
        (gettext_lazy("Mirror"), {"fields": ["mirror_state"]}),
        (gettext_lazy("Audit trail"), {"fields": ["audit_trail"]}),
        (gettext_lazy("Times"), {"fields": ["created_at", "uploaded_at", "expires_at", "updated_at"]}),
    ]
    readonly_fields = [f for fs in fieldsets for f in fs[1]["fields"]]

    # --- the list ---

    @admin.display(description="")
    def thumbnail(self, upload):
        if upload.status == Upload.Status.AVAILABLE and upload.content_type in INLINE_TYPES:
            url = signing.presign_get(bucket=upload.bucket, key=upload.key)
            return format_html(
                '<img src="{}" alt="" style="width:48px;height:48px;object-fit:cover" loading="lazy">', url
            )
        return format_html(TYPE_BADGE, upload.content_type, _type_label(upload.content_type))

    @admin.display(description=gettext_lazy("size"), ordering="size")
    def human_size(self, upload):
        return filesizeformat(upload.stored_size if upload.stored_size is not None else upload.size or 0)

    def get_search_results(self, request, queryset, search_term):
        queryset, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        with contextlib.suppress(ValueError):  # not an id: the text search stands
            queryset |= self.model.objects.filter(pk=uuid.UUID(search_term.strip()))
        return queryset, may_have_duplicates

    # --- the upload page ---

    @admin.display(description=gettext_lazy("Preview"))
    def preview(self, upload):
        if upload.status != Upload.Status.AVAILABLE:
            return _("No preview: the upload is %(status)s.") % {"status": upload.get_status_display()}
        download = signing.presign_get(
            bucket=upload.bucket, key=upload.key, filename=upload.original_filename, attachment=True
        )
        link = format_html(
            '<p><a href="{}">{}</a></p>', download, _("Download %(name)s") % {"name": upload.original_filename}
        )
        if upload.content_type in INLINE_TYPES:
            url = signing.presign_get(bucket=upload.bucket, key=upload.key)
            return format_html(
                '<img class="upload-preview" src="{}" alt="" style="max-width:480px;max-height:360px">{}', url, link
            )
        if upload.content_type in PLAYABLE:
            url = signing.presign_get(bucket=upload.bucket, key=upload.key)
            tag = PLAYABLE[upload.content_type]
            return format_html(
                '<{} class="upload-preview" controls preload="metadata" src="{}" style="max-width:480px"></{}>{}',
                tag,
                url,
                tag,
                link,
            )
        return link

    @admin.display(description=gettext_lazy("Dimensions"))
    def dimensions(self, upload):
        return f"{upload.width} × {upload.height} px" if upload.width else "—"

    @admin.display(description=gettext_lazy("Size"))
    def sizes(self, upload):
        declared = filesizeformat(upload.size) if upload.size is not None else _("not declared")
        stored = filesizeformat(upload.stored_size) if upload.stored_size is not None else "—"
        return _("declared %(declared)s, stored %(stored)s") % {"declared": declared, "stored": stored}

    @admin.display(description="DynamoDB")
    def mirror_state(self, upload):
        try:
            item = mirror.get(upload.pk)
        except (BotoCoreError, ClientError) as exc:
            return _("DynamoDB unreachable (%(error)s)") % {"error": exc.__class__.__name__}
        if item is None:
            return _("missing (database at version %(version)s)") % {"version": upload.version}
        mirrored = int(item["version"]["N"])
        state = (
            _("in sync")
            if mirrored == upload.version
            else _("behind by %(count)s") % {"count": upload.version - mirrored}
        )
        return _("database version %(version)s, DynamoDB version %(mirrored)s: %(state)s") % {
            "version": upload.version,
            "mirrored": mirrored,
            "state": state,
        }

    @admin.display(description=gettext_lazy("Changes"))
    def audit_trail(self, upload):
        entries = UploadEvent.objects.filter(upload_id=upload.pk).order_by("created_at", "id")
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{} → {}</td><td>{} → {}</td><td>{}</td></tr>",
            (
                (
                    e.created_at.strftime("%Y-%m-%d %H:%M:%S"),
                    e.action,
                    e.actor_name or _("system"),
                    e.from_status or "∅",
                    e.to_status,
                    e.from_review or "∅",
                    e.to_review,
                    e.detail,
                )
                for e in entries
            ),
        )
        heads = format_html_join(
            "", "<th>{}</th>", ((h,) for h in (_("when"), _("what"), _("who"), _("status"), _("review"), _("detail")))
        )
        return format_html('<table class="audit"><tr>{}</tr>{}</table>', heads, rows)

    # --- permissions ---

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False  # nothing here is edited by hand: changes go through the actions

    def has_review_permission(self, request, obj=None):
        return request.user.has_perm("uploader.review_upload")

    def has_reprocess_permission(self, request, obj=None):
        return request.user.has_perm("uploader.reprocess_upload")

    # --- actions, through the services ---

    def _each(self, request, queryset, done_message, call):
        done = failed = 0
        for upload in queryset:
            try:
                call(upload)
                done += 1
            except services.DomainError as exc:
                failed += 1
                self.message_user(request, f"{upload.original_filename}: {exc}", messages.WARNING)
        if done:
            self.message_user(request, done_message(done) % {"count": done}, messages.SUCCESS)
        return done, failed

    @admin.action(description=gettext_lazy("Approve selected uploads"), permissions=["review"])
    def approve_selected(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda n: ngettext("Approved %(count)s upload.", "Approved %(count)s uploads.", n),
            lambda u: services.upload_review(upload=u, reviewer=request.user, approve=True),
        )

    @admin.action(description=gettext_lazy("Reject selected uploads (give a reason)"), permissions=["review"])
    def reject_selected(self, request, queryset):
        reason = request.POST.get("reason", "")
        self._each(
            request,
            queryset,
            lambda n: ngettext("Rejected %(count)s upload.", "Rejected %(count)s uploads.", n),
            lambda u: services.upload_review(upload=u, reviewer=request.user, approve=False, reason=reason),
        )

    @admin.action(description=gettext_lazy("Run the checks again"), permissions=["reprocess"])
    def reprocess_selected(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda n: ngettext("Queued checks for %(count)s upload.", "Queued checks for %(count)s uploads.", n),
            lambda u: services.upload_reprocess(upload=u, actor=request.user),
        )

    @admin.action(description=gettext_lazy("Write again to DynamoDB"), permissions=["reprocess"])
    def remirror_selected(self, request, queryset):
        self._each(
            request,
            queryset,
            lambda n: ngettext("Re-mirrored %(count)s upload.", "Re-mirrored %(count)s uploads.", n),
            lambda u: services.upload_remirror(upload=u, actor=request.user),
        )

    def delete_model(self, request, obj):
        services.upload_delete(upload=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for upload in queryset:
            services.upload_delete(upload=upload, actor=request.user)

    # --- the buttons on the upload page ---

    def get_urls(self):
        view = self.admin_site.admin_view(self.object_action)
        return [path("<uuid:object_id>/do/<str:action>/", view, name="uploader_upload_do"), *super().get_urls()]

    OBJECT_ACTIONS = {
        "approve": ("review", lambda u, r: services.upload_review(upload=u, reviewer=r.user, approve=True)),
        "reject": (
            "review",
            lambda u, r: services.upload_review(
                upload=u, reviewer=r.user, approve=False, reason=r.POST.get("reason", "")
            ),
        ),
        "reprocess": ("reprocess", lambda u, r: services.upload_reprocess(upload=u, actor=r.user)),
        "remirror": ("reprocess", lambda u, r: services.upload_remirror(upload=u, actor=r.user)),
        "make-public": ("reprocess", lambda u, r: services.upload_set_visibility(upload=u, actor=r.user, public=True)),
        "make-private": (
            "reprocess",
            lambda u, r: services.upload_set_visibility(upload=u, actor=r.user, public=False),
        ),
    }

    ACTION_LABELS = {
        "approve": gettext_lazy("Approve"),
        "reject": gettext_lazy("Reject"),
        "reprocess": gettext_lazy("Reprocess"),
        "remirror": gettext_lazy("Remirror"),
        "make-public": gettext_lazy("Make public"),
        "make-private": gettext_lazy("Make private"),
    }

    def object_action(self, request, object_id, action):
        if request.method != "POST" or action not in self.OBJECT_ACTIONS:
            raise PermissionDenied
        permission, call = self.OBJECT_ACTIONS[action]
        if not getattr(self, f"has_{permission}_permission")(request):
            raise PermissionDenied
        upload = get_object_or_404(Upload, pk=object_id)
        try:
            call(upload, request)
            self.message_user(
                request, _("%(action)s: done.") % {"action": self.ACTION_LABELS[action]}, messages.SUCCESS
            )
        except services.DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
        return redirect(reverse("admin:uploader_upload_change", args=[object_id]))

    def render_change_form(self, request, context, *args, **kwargs):
        context["can_review"] = self.has_review_permission(request)
        context["can_reprocess"] = self.has_reprocess_permission(request)
        return super().render_change_form(request, context, *args, **kwargs)


@admin.register(UploadEvent)
class UploadEventAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "action",
        "upload_id",
        "actor_name",
        "from_status",
        "to_status",
        "from_review",
        "to_review",
        "detail",
    ]
    list_filter = ["action", "to_status", "to_review", "created_at"]
    search_fields = ["=upload_id", "upload_key", "actor_name"]
    date_hierarchy = "created_at"
    show_full_result_count = False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
