"""The dashboard's HTML pages (server-rendered) and their charts."""
