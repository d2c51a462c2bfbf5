"""Errors shared by every protocol codec.

A codec raises only its own ``<Name>DecodeError``, a subclass of :class:`ProtocolError`, for anything a
peer sent that cannot be understood; the transport answers it with an error frame or a clean close.
"""


class ProtocolError(Exception):
    """The remote peer sent bytes that violate its protocol."""
