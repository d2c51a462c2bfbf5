"""imlc, the IM long-connection protocol (``../shared/protocols/imlc.md``): schema and codec.

The adapter and the registry entry come later; this package holds the wire layer only.
"""
