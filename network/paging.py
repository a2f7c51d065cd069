"""The one way a list page is paged: `page_of(request, queryset)` and `templates/includes/pagination.html`.

A page size asked for in the address (`?per_page=`) is bounded by `max_per_page`; a page number that is not a
number gives the first page and one past the end gives the last, never a 500 (Django's `Paginator.get_page`).
The page carries `query`: the other query-string parameters (the list's filters), so the include's links keep
them. How to page a new list: docs/architecture.md, "Lists and paging".
"""

from __future__ import annotations

from django.core.paginator import Page, Paginator
from django.http import HttpRequest

PAGE_PARAM = "page"
SIZE_PARAM = "per_page"


def page_size(request: HttpRequest, *, per_page: int = 50, max_per_page: int = 100) -> int:
    """The page size the address asks for, within 1..max_per_page; `per_page` when it asks for none or nonsense."""
    asked = request.GET.get(SIZE_PARAM, "")
    if asked.isascii() and asked.isdigit():
        return max(1, min(int(asked), max_per_page))
    return min(per_page, max_per_page)


def page_of(request: HttpRequest, queryset, *, per_page: int = 50, max_per_page: int = 100) -> Page:
    """One page of `queryset` (or a list) for this request. Order the queryset first: the page keeps its order."""
    paginator = Paginator(queryset, page_size(request, per_page=per_page, max_per_page=max_per_page))
    page = paginator.get_page(request.GET.get(PAGE_PARAM))
    query = request.GET.copy()
    query.pop(PAGE_PARAM, None)
    page.query = query.urlencode()
    return page
