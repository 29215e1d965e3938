"""The list's filters (status, outcome, type, dates, name, folder), its ordering and its cursor
pagination."""

import datetime as dt

import django_filters
from django.db.models import Q
from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import CursorPagination

from uploader.models import Upload


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """ISO 8601 allows offsets up to ±23:59, PostgreSQL only ±15:59 (a 500 found by the schema
    fuzz run): compare in UTC, and refuse a date that has no UTC form."""

    def filter(self, qs, value):
        if value is not None:
            try:
                value = value.astimezone(dt.UTC)
            except OverflowError:
                raise ValidationError({self.field_name: [_("Date out of range.")]}) from None
        return super().filter(qs, value)


class UploadFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=[c for c in Upload.Status.choices if c[0] != "deleted"])
    outcome = django_filters.ChoiceFilter(
        choices=[c for c in Upload.Status.choices if c[0] != "deleted"],
        method="filter_outcome",
        help_text="The status as the owner sees it (a reviewer's rejection is rejected): the field `outcome`.",
    )
    type = django_filters.CharFilter(method="filter_type", help_text="A content type, or a family such as image/*.")
    review_status = django_filters.ChoiceFilter(choices=Upload.ReviewStatus.choices)
    created_after = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")
    path_prefix = django_filters.CharFilter(
        method="filter_path_prefix", help_text="Uploads chosen from this folder or one below it (holiday/day1)."
    )
    search = django_filters.CharFilter(
        method="filter_search", max_length=255, help_text="Uploads whose name or folder contains this text."
    )

    class Meta:
        model = Upload
        fields = [
            *("status", "outcome", "type", "review_status"),
            *("created_after", "created_before", "path_prefix", "search"),
        ]

    def filter_outcome(self, queryset, name, value):
        overruled = Q(status=Upload.Status.AVAILABLE, review_status=Upload.ReviewStatus.REJECTED)
        if value == Upload.Status.REJECTED:
            return queryset.filter(Q(status=value) | overruled)
        if value == Upload.Status.AVAILABLE:
            return queryset.filter(status=value).exclude(overruled)
        return queryset.filter(status=value)

    def filter_path_prefix(self, queryset, name, value):
        folder = value.strip("/")
        if not folder:
            return queryset
        return queryset.filter(Q(relative_path=folder) | Q(relative_path__startswith=f"{folder}/"))

    def filter_search(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        return queryset.filter(Q(original_filename__icontains=value) | Q(relative_path__icontains=value))

    def filter_type(self, queryset, name, value):
        if value.endswith("/*"):
            return queryset.filter(content_type__startswith=value[:-1])
        return queryset.filter(content_type=value)


class UploadOrdering(OrderingFilter):
    ordering_fields = ["created_at", "size", "original_filename"]
    ordering = ["-created_at"]


class UploadCursorPagination(CursorPagination):
    """No COUNT(*): a page costs the same at a thousand uploads as at a million."""

    ordering = "-created_at"
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def decode_cursor(self, request):
        try:
            return super().decode_cursor(request)
        except NotFound:  # DRF says 404; a malformed parameter is bad input
            raise ValidationError({"cursor": [_("Invalid cursor.")]}) from None
