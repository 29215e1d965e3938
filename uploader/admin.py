from django.contrib import admin

from .models import Upload


@admin.register(Upload)
class UploadAdmin(admin.ModelAdmin):
    list_display = ["original_filename", "owner", "content_type", "size", "status", "review_status", "created_at"]
    list_filter = ["status", "review_status", "content_type", "created_at"]
    search_fields = ["original_filename", "key", "owner__username", "owner__email", "id"]
    list_select_related = ["owner"]
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Upload._meta.fields]
    ordering = ["-created_at"]

    def has_add_permission(self, request):
        return False
