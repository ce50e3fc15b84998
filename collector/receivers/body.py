"""Reading and inflating request bodies within limits.

Every size is checked before the memory is committed: Content-Length before
reading, the running total while streaming, snappy's declared length (its
varint preamble) before decompressing, and gzip in bounded steps. A tiny body
that claims or inflates to gigabytes is refused with 413 having allocated
nothing of that size::

    raw = await read_body(request, limits.max_body_bytes)
    data = snappy_block_decode(raw, limits.max_decoded_bytes)
"""

from __future__ import annotations

import zlib

import cramjam
from starlette.requests import ClientDisconnect, Request

from collector.receivers.errors import IngestError

_snappy_decompress = cramjam.snappy.decompress_raw


def check_content_length(headers, max_bytes: int) -> None:
    """IngestError 413 when the declared Content-Length exceeds ``max_bytes`` (400 if unreadable)."""
    declared = headers.get("content-length")
    if declared is not None:
        try:
            n = int(declared)
        except ValueError:
            raise IngestError(400, f"invalid Content-Length {declared!r}", "malformed") from None
        if n > max_bytes:
            raise IngestError(
                413, f"request body of {n} bytes exceeds the limit of {max_bytes} bytes", "too_large"
            )


async def read_body(request: Request, max_bytes: int) -> bytes:
    """The whole body, or IngestError 413 as soon as it exceeds ``max_bytes``."""
    check_content_length(request.headers, max_bytes)
    chunks: list[bytes] = []
    total = 0
    try:
        async for chunk in request.stream():
            total += len(chunk)
            if total > max_bytes:
                raise IngestError(
                    413, f"request body exceeds the limit of {max_bytes} bytes", "too_large"
                )
            chunks.append(chunk)
    except ClientDisconnect:
        raise IngestError(400, "client disconnected before sending the whole body", "malformed") from None
    return chunks[0] if len(chunks) == 1 else b"".join(chunks)


def snappy_declared_length(data: bytes) -> int:
    """The uncompressed length a snappy block announces in its varint preamble."""
    result = 0
    for i in range(min(len(data), 5)):  # a uint32 varint is at most 5 bytes
        b = data[i]
        result |= (b & 0x7F) << (7 * i)
        if b < 0x80:
            if result > 0xFFFFFFFF:
                break
            return result
    raise IngestError(400, "snappy: corrupt input (bad length preamble)", "malformed")


def snappy_block_decode(data: bytes, max_decoded: int) -> bytes:
    """Decompress snappy's block format (not the framed one), bounded by ``max_decoded``."""
    n = snappy_declared_length(data)
    if n > max_decoded:
        raise IngestError(
            413,
            f"snappy body declares {n} decoded bytes, more than the limit of {max_decoded}",
            "too_large",
        )
    # cramjam raises its own DecompressionError: any decoder failure is a
    # malformed body (400), never a server error
    try:
        out = _snappy_decompress(data)
    except Exception as e:  # noqa: BLE001
        raise IngestError(400, f"invalid snappy block: {e}", "malformed") from None
    return bytes(out)


def gunzip(data: bytes, max_decoded: int) -> bytes:
    """Inflate a gzip body (one or more members) without ever holding more than ``max_decoded``."""
    out: list[bytes] = []
    total = 0
    rest = data
    try:
        while rest:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            buf = rest
            while buf:
                chunk = d.decompress(buf, max_decoded + 1 - total)
                total += len(chunk)
                if total > max_decoded:
                    raise IngestError(
                        413, f"gzip body inflates beyond the limit of {max_decoded} bytes", "too_large"
                    )
                out.append(chunk)
                buf = d.unconsumed_tail
                if d.eof:
                    break
            if not d.eof:
                tail = d.flush()
                total += len(tail)
                if total > max_decoded:
                    raise IngestError(
                        413, f"gzip body inflates beyond the limit of {max_decoded} bytes", "too_large"
                    )
                raise IngestError(400, "gzip: truncated body", "malformed")
            rest = d.unused_data
    except zlib.error as e:
        raise IngestError(400, f"gzip: corrupt body: {e}", "malformed") from None
    return b"".join(out)


def decode_content_encoding(data: bytes, encoding: str | None, max_decoded: int) -> bytes:
    """Undo an HTTP Content-Encoding of ``gzip`` or ``identity``; others get 415."""
    enc = (encoding or "").strip().lower()
    if enc in ("", "identity"):
        if len(data) > max_decoded:
            raise IngestError(
                413, f"body of {len(data)} bytes exceeds the limit of {max_decoded} bytes", "too_large"
            )
        return data
    if enc in ("gzip", "x-gzip"):
        return gunzip(data, max_decoded)
    raise IngestError(
        415, f"unsupported Content-Encoding {encoding!r} (gzip or none)", "unsupported_media_type"
    )
