"""Notifiers (the `Notifier` port): alert digests to people.

`smtp` (one multipart e-mail per digest), `webhook` (Slack blocks, or our documented JSON body
per alert, optionally HMAC-signed) and `stdout`; `render` turns a Digest into each medium's
text, escaping the data for it. Each module is imported only when its notifier is configured.
"""
