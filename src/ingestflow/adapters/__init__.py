"""Adapters: one package per port, one module per technology."""
