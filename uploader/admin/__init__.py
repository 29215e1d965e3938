"""The review tool staff work in. Every action goes through the services layer; the HTML is in
uploader/templates/admin/uploader/.

Why it is long: the upload's page, its list, the review queue and the bulk actions are one
ModelAdmin (Django's unit), plus the audit events' and users' admins."""

import contextlib
import dataclasses
import json
import uuid
from collections.abc import Callable

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ActionForm
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Subquery
from django.http import HttpRequest
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import filesizeformat
from django.template.loader import render_to_string
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from uploader import services
from uploader.domain import media_types, reasons
from uploader.models import Upload, UploadEvent
from uploader.services import selectors

# Photos a browser shows as they are (never SVG: it can carry script), and what it plays.
INLINE_TYPES = {t for t in media_types.INLINE_SAFE_TYPES if media_types.kind_of(t) == "photo"}
PLAYABLE = media_types.PLAYABLE
TYPE_BADGE = '<span class="type-badge" title="{}">{}</span>'


def _type_label(content_type):
    """A short label standing in for a thumbnail: PDF, ZIP, MP4, ..."""
    subtype = content_type.rsplit("/", 1)[-1].split(";")[0].split("+")[0]
    return {"quicktime": "MOV", "mpeg": "MP3", "plain": "TXT"}.get(subtype, subtype[:4].upper() or "FILE")


@dataclasses.dataclass(frozen=True)
class Operation:
    """One thing staff can do to an upload, offered both as a list action (on the selected
    uploads) and as a button on an upload's page. `run(upload, request)` calls the service."""

    name: str  # the button's URL: …/<id>/do/<name>/
    button: str
    permission: str  # "review" or "reprocess": has_<permission>_permission decides
    run: Callable[[Upload, HttpRequest], object]
    bulk: str = ""  # the list action's description; none when empty
    done: Callable[[int], str] = lambda n: ""  # the list action's report, with %(count)s
    offered: Callable[[Upload], bool] = lambda upload: True  # shown on this upload's page?

    def bulk_action(self):
        operation = self

        def act(modeladmin, request, queryset):
            modeladmin._each(request, queryset, operation.done, lambda upload: operation.run(upload, request))

        act.__name__ = f"{self.name.replace('-', '_')}_selected"
        return admin.action(description=self.bulk, permissions=[self.permission])(act)


def _reason(request):
    return request.POST.get("reason", "")


OPERATIONS = {
    op.name: op
    for op in [
        Operation(
            "approve",
            gettext_lazy("Approve"),
            "review",
            lambda u, r: services.upload_review(upload=u, reviewer=r.user, approve=True),
            bulk=gettext_lazy("Approve selected uploads"),
            done=lambda n: ngettext("Approved %(count)s upload.", "Approved %(count)s uploads.", n),
            # Only an available upload is reviewed: one the system rejected is never offered.
            offered=lambda u: u.status == Upload.Status.AVAILABLE and u.review_status != Upload.ReviewStatus.APPROVED,
        ),
        Operation(
            "reject",
            gettext_lazy("Reject"),
            "review",
            lambda u, r: services.upload_review(upload=u, reviewer=r.user, approve=False, reason=_reason(r)),
            bulk=gettext_lazy("Reject selected uploads (give a reason)"),
            done=lambda n: ngettext("Rejected %(count)s upload.", "Rejected %(count)s uploads.", n),
            offered=lambda u: u.status == Upload.Status.AVAILABLE,
        ),
        Operation(
            "reprocess",
            gettext_lazy("Run the checks again"),
            "reprocess",
            lambda u, r: services.upload_reprocess(upload=u, actor=r.user),
            bulk=gettext_lazy("Run the checks again"),
            done=lambda n: ngettext("Queued checks for %(count)s upload.", "Queued checks for %(count)s uploads.", n),
        ),
        Operation(
            "remirror",
            gettext_lazy("Write again to DynamoDB"),
            "reprocess",
            lambda u, r: services.upload_remirror(upload=u, actor=r.user),
            bulk=gettext_lazy("Write again to DynamoDB"),
            done=lambda n: ngettext("Re-mirrored %(count)s upload.", "Re-mirrored %(count)s uploads.", n),
        ),
        Operation(
            "make-public",
            gettext_lazy("Make public-read"),
            "reprocess",
            lambda u, r: services.upload_set_visibility(upload=u, actor=r.user, public=True),
            offered=lambda u: u.visibility == Upload.Visibility.PRIVATE,
        ),
        Operation(
            "make-private",
            gettext_lazy("Make private"),
            "reprocess",
            lambda u, r: services.upload_set_visibility(upload=u, actor=r.user, public=False),
            offered=lambda u: u.visibility != Upload.Visibility.PRIVATE,
        ),
    ]
}


class ReviewActionForm(ActionForm):
    reason = forms.CharField(
        required=False,
        label=gettext_lazy("Reason (for rejections; the owner sees it)"),
        widget=forms.TextInput(attrs={"size": 40}),
    )


def _duration(seconds: float) -> str:
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    return f"{hours}:{rest // 60:02}:{rest % 60:02}" if hours else f"{rest // 60}:{rest % 60:02}"


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = [
        "list_thumbnail",
        "original_filename",
        "owner",
        "human_size",
        "kind",
        "status",
        "review_status",
        "created_at",
    ]
    list_display_links = ["original_filename"]
    list_filter = [
        "status",
        "review_status",
        "scan_status",
        "destination",
        "content_type",
        ("owner", admin.RelatedOnlyFieldListFilter),
        "created_at",
    ]
    search_fields = ["original_filename", "relative_path", "key", "owner__username", "owner__email"]
    list_select_related = ["owner"]
    list_per_page = 50
    show_full_result_count = False  # one COUNT per page, not two
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    action_form = ReviewActionForm
    actions = [*(op.bulk_action() for op in OPERATIONS.values() if op.bulk), "delete_selected"]
    change_form_template = "admin/uploader/upload/change_form.html"
    change_list_template = "admin/uploader/upload/change_list.html"
    object_history_template = "admin/uploader/upload/object_history.html"
    fieldsets = [
        (
            None,
            {
                "fields": [
                    "preview",
                    "original_filename",
                    "owner",
                    "destination",
                    "metadata_shown",
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
                    "media_summary",
                    "sizes",
                    "checksum_sha256",
                    "etag",
                    "multipart_upload_id",
                ]
            },
        ),
        (gettext_lazy("Malware scan"), {"fields": ["scan_status", "scan_detail", "scanned_with", "scanned_at"]}),
        (gettext_lazy("Mirror"), {"fields": ["mirror_check"]}),
        (gettext_lazy("Audit trail"), {"fields": ["audit_trail"]}),
        (gettext_lazy("Times"), {"fields": ["created_at", "uploaded_at", "expires_at", "updated_at"]}),
    ]
    readonly_fields = [*(f for fs in fieldsets for f in fs[1]["fields"]), "mirror_state"]

    class Media:
        css = {"all": ["uploader/admin.css"]}

    def get_fieldsets(self, request, obj=None):
        """The DynamoDB state is read only when asked for (?mirror=1): it costs a call to AWS."""
        if not request.GET.get("mirror"):
            return self.fieldsets
        return [
            (name, {"fields": ["mirror_state" if f == "mirror_check" else f for f in opts["fields"]]})
            for name, opts in self.fieldsets
        ]

    # --- the list ---

    @admin.display(description="")
    def list_thumbnail(self, upload):
        """The worker's WebP thumbnail or poster frame, never the original (a page of 50 photos
        would download them all, EXIF included)."""
        url = selectors.upload_thumbnail_url(upload=upload, reviewer=True)
        if url:
            return format_html('<img class="list-thumb" src="{}" alt="" loading="lazy">', url)
        return format_html(TYPE_BADGE, upload.content_type, _type_label(upload.content_type))

    @admin.display(description=gettext_lazy("kind"), ordering="content_type")
    def kind(self, upload):
        """In people's words ("Photo"), the type itself on hover; a recording's length beside it."""
        length = f" · {_duration(upload.duration)}" if upload.duration is not None else ""
        label = media_types.kind_label(upload.content_type)
        return format_html('<span title="{}">{}{}</span>', upload.content_type, label, length)

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
        """What the reviewer judges by: a PDF's first page, a text's first lines, a ZIP's listing,
        the worker's picture (no EXIF, no GPS), a player; always the download. The HTML is the
        template's (uploader/templates/admin/uploader/upload/preview.html), which escapes all of it."""
        if upload.status != Upload.Status.AVAILABLE:
            return _("No preview: the upload is %(status)s.") % {"status": upload.get_status_display()}
        context = {
            "upload": upload,
            "download": selectors.upload_download_url(upload=upload, attachment=True, reviewer=True),
            **self._what_to_show(upload),
        }
        return render_to_string("admin/uploader/upload/preview.html", context)

    def _what_to_show(self, upload) -> dict:
        thumbnail = selectors.upload_thumbnail_url(upload=upload, reviewer=True)
        larger = selectors.upload_preview_url(upload=upload)
        if media_types.derived_kind(upload.content_type) == "pdf" and (larger or thumbnail):
            count = upload.page_count or 0
            pages = ngettext("%(count)s page", "%(count)s pages", count) % {"count": count}
            return {"show": "pdf", "picture": larger or thumbnail, "pages": pages}
        if upload.preview_text:
            return {"show": "text"}
        if upload.preview_listing is not None:
            return {"show": "listing", **self._listing_words(upload.preview_listing)}
        if upload.content_type.startswith("image/") and upload.media_status:
            # None for a picture the worker refused to decode (a bomb would take the reviewer's
            # browser down too): then what the worker said.
            if thumbnail:  # the larger picture where one was made (the thumbnail for a small one)
                return {"show": "picture", "picture": larger or thumbnail}
            return {"show": "summary", "summary": self.media_summary(upload)}
        if upload.content_type in INLINE_TYPES:  # nothing is made when derivatives are switched off
            return {"show": "picture", "picture": selectors.upload_view_url(upload=upload)}
        if upload.content_type in PLAYABLE:
            play = selectors.upload_view_url(upload=upload)
            return {"show": PLAYABLE[upload.content_type], "play": play, "poster": thumbnail}  # a video's frame
        return {"show": ""}

    @staticmethod
    def _listing_words(listing: dict) -> dict:
        """A ZIP listing's summary: its entries and unpacked size, and how many were named."""
        count, shown = listing.get("count") or 0, len(listing["entries"])
        total = filesizeformat(listing["total"]) if listing.get("total") is not None else "?"
        entries = ngettext("%(count)s entry, %(total)s unpacked", "%(count)s entries, %(total)s unpacked", count) % {
            "count": count,
            "total": total,
        }
        return {
            "entries": entries,
            "more": _("(the first %(shown)s listed)") % {"shown": shown} if shown < count else "",
        }

    @admin.display(description=gettext_lazy("Metadata"))
    def metadata_shown(self, upload):
        """What the client sent with it, a key and its value a line (escaped)."""
        if not upload.metadata:
            return "-"
        return format_html_join(
            mark_safe("<br>"),
            "<code>{}</code>: {}",
            ((key, json.dumps(v, ensure_ascii=False)) for key, v in upload.metadata.items()),
        )

    @admin.display(description=gettext_lazy("Dimensions"))
    def dimensions(self, upload):
        return f"{upload.width} × {upload.height} px" if upload.width else "—"

    @admin.display(description=gettext_lazy("Media"))
    def media_summary(self, upload):
        """What the worker made: the thumbnail, duration and codec, or why nothing was made."""
        if not upload.media_status:
            return "—"
        if upload.media_status == Upload.MediaStatus.FAILED:
            return _("No thumbnail: %(reason)s") % {"reason": reasons.translate(upload.media_reason)}
        if upload.media_status == Upload.MediaStatus.PENDING:
            return _("being made")
        figures = [_duration(upload.duration)] if upload.duration is not None else []
        figures += [upload.codec] if upload.codec else []
        thumbnail = selectors.upload_thumbnail_url(upload=upload, reviewer=True)
        return render_to_string(
            "admin/uploader/upload/media_summary.html", {"thumbnail": thumbnail, "figures": figures}
        )

    @admin.display(description=gettext_lazy("Size"))
    def sizes(self, upload):
        declared = filesizeformat(upload.size) if upload.size is not None else _("not declared")
        stored = filesizeformat(upload.stored_size) if upload.stored_size is not None else "—"
        return _("declared %(declared)s, stored %(stored)s") % {"declared": declared, "stored": stored}

    @admin.display(description="DynamoDB")
    def mirror_check(self, upload):
        """A link, so that the page costs DynamoDB a read only when someone asks."""
        return format_html('<a href="?mirror=1">{}</a>', _("Compare with DynamoDB"))

    @admin.display(description="DynamoDB")
    def mirror_state(self, upload):
        state = selectors.upload_mirror_state(upload=upload)
        if state.error:
            return _("DynamoDB unreachable (%(error)s)") % {"error": state.error}
        if state.mirrored is None:
            return _("missing (database at version %(version)s)") % {"version": upload.version}
        mirrored = state.mirrored
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
        events = selectors.upload_audit_trail(upload_id=upload.pk)
        return render_to_string("admin/uploader/upload/audit_trail.html", {"events": events})

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

    def delete_model(self, request, obj):
        services.upload_delete(upload=obj, actor=request.user)

    def delete_queryset(self, request, queryset):
        for upload in queryset:
            services.upload_delete(upload=upload, actor=request.user)

    # --- the buttons on the upload page ---

    def get_urls(self):
        view = self.admin_site.admin_view(self.object_action)
        queue = self.admin_site.admin_view(self.review_queue)
        return [
            path("<uuid:object_id>/do/<str:action>/", view, name="uploader_upload_do"),
            path("queue/", queue, name="uploader_upload_queue"),
            *super().get_urls(),
        ]

    def review_queue(self, request):
        """The review queue: the oldest unreviewed upload's page, in queue mode (each decision
        leads to the next); `?after=<id>` skips past one. When none is left, the list says so."""
        if not self.has_review_permission(request):
            raise PermissionDenied
        after = None
        with contextlib.suppress(ValueError, Upload.DoesNotExist):
            after = Upload.objects.get(pk=uuid.UUID(request.GET.get("after", "")))
        upload = selectors.upload_next_to_review(after=after)
        if upload is None:
            self.message_user(request, _("Nothing left to review."), messages.SUCCESS)
            return redirect(reverse("admin:uploader_upload_changelist") + "?review_status__exact=unreviewed")
        return redirect(reverse("admin:uploader_upload_change", args=[upload.pk]) + "?queue=1")

    def object_action(self, request, object_id, action):
        operation = OPERATIONS.get(action)
        if request.method != "POST" or operation is None:
            raise PermissionDenied
        if not getattr(self, f"has_{operation.permission}_permission")(request):
            raise PermissionDenied
        upload = get_object_or_404(Upload, pk=object_id)
        try:
            operation.run(upload, request)
            done = _("%(action)s: done.") % {"action": operation.button}
            self.message_user(request, f"{upload.original_filename}: {done}", messages.SUCCESS)
        except services.DomainError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            if request.POST.get("queue"):  # stay on it, in the queue
                return redirect(reverse("admin:uploader_upload_change", args=[object_id]) + "?queue=1")
        if request.POST.get("queue"):
            return redirect(reverse("admin:uploader_upload_queue") + f"?after={upload.pk}")
        return redirect(reverse("admin:uploader_upload_change", args=[object_id]))

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        allowed = {p for p in ("review", "reprocess") if getattr(self, f"has_{p}_permission")(request)}
        context["operations"] = [
            op for op in OPERATIONS.values() if op.permission in allowed and obj is not None and op.offered(obj)
        ]
        if request.GET.get("queue") and "review" in allowed and obj is not None:
            context["queue"] = {"left": selectors.upload_review_queue().count(), "skip": f"?after={obj.pk}"}
            context["operations"] = [op for op in context["operations"] if op.permission == "review"]
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def changelist_view(self, request, extra_context=None):
        extra = {"has_review_permission": self.has_review_permission(request)}
        return super().changelist_view(request, extra_context={**(extra_context or {}), **extra})

    def history_view(self, request, object_id, extra_context=None):
        """An upload's history is its audit trail (every change, by the system or a person), not
        Django's log of admin edits, which never sees the worker's or the API's changes."""
        events = selectors.upload_audit_trail(upload_id=object_id)
        return super().history_view(request, object_id, extra_context={**(extra_context or {}), "events": events})


@admin.register(UploadEvent)
class UploadEventAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "action",
        "upload",
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

    def get_queryset(self, request):
        """Each event with its upload's name (one subquery, not a query a row); a deleted
        upload's name is gone with it, its key stays."""
        name = Upload.objects.filter(pk=OuterRef("upload_id")).values("original_filename")[:1]
        return super().get_queryset(request).annotate(upload_name=Subquery(name))

    @admin.display(description=gettext_lazy("upload"))
    def upload(self, event):
        if event.upload_name is None:
            return format_html('<span title="{}">{}</span>', event.upload_id, event.upload_key.rsplit("/", 1)[-1])
        url = reverse("admin:uploader_upload_change", args=[event.upload_id])
        return format_html('<a href="{}" title="{}">{}</a>', url, event.upload_id, event.upload_name)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class UserWithUploadsAdmin(UserAdmin):
    """Django's user page, with the way to the person's uploads."""

    readonly_fields = [*UserAdmin.readonly_fields, "uploads"]
    fieldsets = [*UserAdmin.fieldsets, (gettext_lazy("Uploads"), {"fields": ["uploads"]})]
    list_display = [*UserAdmin.list_display, "uploads"]

    @admin.display(description=gettext_lazy("Uploads"))
    def uploads(self, user):
        if user.pk is None:
            return "—"
        url = reverse("admin:uploader_upload_changelist") + f"?owner__id__exact={user.pk}"
        return format_html('<a href="{}">{}</a>', url, _("Their uploads"))


if admin.site.is_registered(get_user_model()):
    admin.site.unregister(get_user_model())
admin.site.register(get_user_model(), UserWithUploadsAdmin)
