"""Schemathesis hooks for Gantry's API run (scripts/schemathesis.sh).

The vulnerability database import takes a zip archive (`application/zip`); Schemathesis has
no serializer for that media type, so generated bodies are sent as raw bytes. The server must
answer them with a client error, never a 5xx.
"""

import schemathesis


@schemathesis.serializer("application/zip")
def zip_bytes(ctx, value):
    if isinstance(value, bytes):
        return value
    if value is None:
        return b""
    return str(value).encode("utf-8", "surrogatepass")
