"""Pure text edits: set frontmatter keys keeping the user's formatting, replace an owned block.

API CONTRACT (fixed):

    set_frontmatter(text: str, updates: Mapping[str, Any]) -> str
        Set each key (value None removes the key); creates a frontmatter block if none.
        Every byte outside the edited key lines stays as it was (order, comments, quoting, CRLF, BOM, body).
        Values: str, int, float, bool, list[str]; strings quoted only when YAML needs it.
    get_block(text: str, name: str) -> str | None
    replace_block(text: str, name: str, content: str) -> str
        Replace what lies between "<!-- vaultzoe:NAME -->" and "<!-- /vaultzoe:NAME -->", or append the block
        at the end of the note (after a blank line) when absent.
"""

from __future__ import annotations
