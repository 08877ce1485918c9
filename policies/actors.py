"""Who acts and who asks, as types: services take an `Actor` (a user, or None for the operator on the
command line and for the system's own jobs); permission rules and selectors take a `Viewer` (whoever
made the request, signed in or not)."""

from django.contrib.auth.models import AnonymousUser, User

Actor = User | None
Viewer = User | AnonymousUser
