"""TFRecord framing and protobuf wire decoding: enough to read NAS-Bench-101's dataset without TensorFlow.

A TFRecord file is a sequence of records, each framed as

    uint64 length (little endian) | uint32 masked CRC-32C of the length | data | uint32 masked CRC-32C of data

(the CRC is masked as ``((crc >> 15 | crc << 17) + 0xA282EAD8) mod 2**32``). NAS-Bench-101's records are
UTF-8 JSON lists whose last item is a base64 ``nasbench.ModelMetrics`` protobuf message; protobuf's wire
format is decoded here field by field (varints, 64-bit, length-delimited and 32-bit values).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any, BinaryIO

__all__ = ["TFRecordError", "as_double", "crc32c", "iter_records", "masked_crc32c", "parse_message"]

_POLY = 0x82F63B78  # CRC-32C (Castagnoli), reflected


def _table() -> list[int]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ _POLY if crc & 1 else crc >> 1
        table.append(crc)
    return table


_TABLE = _table()


def crc32c(data: bytes) -> int:
    """CRC-32C of ``data`` (pure Python: about 8 MB/s; framing checks only read 8 bytes per record)."""
    crc = 0xFFFFFFFF
    table = _TABLE
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes) -> int:
    """The masked CRC-32C TFRecord stores."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


class TFRecordError(ValueError):
    """A broken TFRecord frame; ``offset`` is the byte where the bad record starts."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.offset = offset


def iter_records(handle: BinaryIO, check_data: bool = False) -> Iterator[tuple[int, bytes]]:
    """Yield ``(byte offset, data)`` for every record of an open TFRecord file.

    The CRC of every length field is checked (a wrong one means the file is not a TFRecord or is damaged
    there); the CRC of the data only with ``check_data`` (slow in pure Python).

    Raises:
        TFRecordError: On a bad length CRC, a data CRC mismatch or a truncated record.
    """
    offset = 0
    read = handle.read
    unpack_header = struct.Struct("<QI").unpack
    while True:
        header = read(12)
        if not header:
            return
        if len(header) < 12:
            raise TFRecordError(f"truncated record header at byte {offset} ({len(header)} of 12 bytes)", offset)
        length, length_crc = unpack_header(header)
        if masked_crc32c(header[:8]) != length_crc:
            raise TFRecordError(f"bad length checksum at byte {offset}: not a TFRecord file, or damaged there", offset)
        data = read(length)
        footer = read(4)
        if len(data) < length or len(footer) < 4:
            raise TFRecordError(f"truncated record at byte {offset} (length {length}, file ends first)", offset)
        if check_data and masked_crc32c(data) != struct.unpack("<I", footer)[0]:
            raise TFRecordError(f"data checksum mismatch in the record at byte {offset}", offset)
        yield offset, data
        offset += 16 + length


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise ValueError("truncated varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint longer than 10 bytes")


def parse_message(buf: bytes) -> dict[int, list[Any]]:
    """Fields of one protobuf message: ``{field number: [value, ...]}`` in wire order.

    Varints are ints; 64-bit and 32-bit values are their raw little-endian bytes (the schema decides
    between double/fixed64 and float/fixed32); length-delimited values are bytes (strings, nested
    messages, packed arrays).

    Raises:
        ValueError: On a truncated message or a wire type protobuf does not have (3, 4 groups are refused).
    """
    fields: dict[int, list[Any]] = {}
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
        elif wire == 1:
            value, pos = buf[pos : pos + 8], pos + 8
        elif wire == 2:
            size, pos = _varint(buf, pos)
            value, pos = buf[pos : pos + size], pos + size
        elif wire == 5:
            value, pos = buf[pos : pos + 4], pos + 4
        else:
            raise ValueError(f"field {number}: unsupported wire type {wire}")
        if pos > end:
            raise ValueError(f"field {number}: message truncated")
        fields.setdefault(number, []).append(value)
    return fields


def as_double(raw: bytes) -> float:
    """A 64-bit wire value read as a double."""
    return struct.unpack("<d", raw)[0]
