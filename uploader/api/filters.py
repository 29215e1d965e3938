import django_filters
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.filters import OrderingFilter
from rest_framework.pagination import CursorPagination

from ..models import Upload


class UploadFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=[c for c in Upload.Status.choices if c[0] != "deleted"])
    type = django_filters.CharFilter(method="filter_type", help_text="A content type, or a family such as image/*.")
    review_status = django_filters.ChoiceFilter(choices=Upload.ReviewStatus.choices)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = Upload
        fields = ["status", "type", "review_status", "created_after", "created_before"]

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
            raise ValidationError({"cursor": ["Invalid cursor."]}) from None
