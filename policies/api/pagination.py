from rest_framework.pagination import PageNumberPagination


class PagePagination(PageNumberPagination):
    """`?page=N&page_size=M`. Every list is ordered by a unique key (id or seq last), so pages are
    stable while rows are added."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
