"""Charset labels as browsers read them (the WHATWG Encoding Standard, via webencodings):
"latin1" is windows-1252 there, and Python's own codecs that are no text encoding a web page
could name (base64, rot13, punycode, the unicode escapes, utf-7) are not charsets at all."""

from __future__ import annotations

import webencodings


def text_codec(label: str) -> str | None:
    """The Python codec that reads text labelled `label`; None for a label browsers do not
    know, or one of the "replacement" labels, whose text they cannot read either."""
    encoding = webencodings.lookup(label)
    if encoding is None or encoding.name == "replacement":
        return None
    return str(encoding.codec_info.name)
