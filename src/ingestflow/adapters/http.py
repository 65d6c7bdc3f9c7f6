"""The one HTTP client set-up every adapter that sends credentials uses (Datadog, webhooks):
no proxy taken from the environment and no redirect followed, so a key or a webhook URL only
ever goes to the configured host."""

from __future__ import annotations

import urllib.request
from email.message import Message
from typing import IO


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer (raised as HTTPError), never followed with the credentials."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


def direct_opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())
