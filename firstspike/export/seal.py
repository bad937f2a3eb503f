# SPDX-License-Identifier: MIT
"""The seal of an export manifest: an edit after export is detected, and the edited field named.

The seal covers every field of ``manifest.json`` but itself: the hardware plan (architecture, ``T``,
encoding, rule, layer shapes, lanes, widths, thresholds), the SHA-256 of every ROM file, the layout,
the source and the training metadata. It holds

* ``digest``: SHA-256 of the manifest without its seal, serialised canonically (JSON with sorted
  keys, no spaces, ASCII) as it reads back from the file;
* ``fields``: per leaf field (``layers[1].threshold``, ``layers[0].files.hex.sha256``, ``T``) the
  first 16 hex digits of the SHA-256 of ``path=value``, so that a check names what changed.

A seal detects edits made by hand or by a tool that does not know about it; it is not a signature
(whoever recomputes it can forge it). A hash cannot give back the sealed value, so a report says
which fields no longer match, never what they held.
"""

from __future__ import annotations

import hashlib
import json

__all__ = ["SEAL_KEY", "ALGORITHM", "seal", "seal_problems"]

SEAL_KEY = "seal"
ALGORITHM = "sha256 of the manifest without its seal as JSON with sorted keys, no spaces, ASCII"
#: hex digits kept of each field's digest (the whole-manifest digest keeps all 64)
FIELD_DIGITS = 16


def canonical(value) -> bytes:
    """The one serialisation every digest is taken over."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def leaves(value, path: str = "") -> dict[str, object]:
    """Every leaf of a JSON value by its path (``a.b[2].c``); an empty dict or list is a leaf."""
    if isinstance(value, dict) and value:
        items = ((f"{path}.{key}" if path else str(key), item) for key, item in value.items())
    elif isinstance(value, list) and value:
        items = ((f"{path}[{index}]", item) for index, item in enumerate(value))
    else:
        return {path: value}
    found = {}
    for sub_path, item in items:
        found.update(leaves(item, sub_path))
    return found


def _field_digest(path: str, value) -> str:
    return hashlib.sha256(path.encode() + b"=" + canonical(value)).hexdigest()[:FIELD_DIGITS]


def _prefixes(path: str) -> list[str]:
    """``a.b[2].c`` -> ``a``, ``a.b``, ``a.b[2]``, ``a.b[2].c``."""
    cuts = [i for i, char in enumerate(path) if char in ".["] + [len(path)]
    return [path[:i] for i in cuts if i]


def _outermost(paths, others) -> list[str]:
    """The paths of ``paths`` absent from ``others``, each cut to its shortest absent prefix
    (a removed ``layers`` is one problem, not one per leaf)."""
    present = {prefix for path in others for prefix in _prefixes(path)}
    found = []
    for path in paths:
        if path in others:
            continue
        cut = next((prefix for prefix in _prefixes(path) if prefix not in present), path or "(all)")
        if cut not in found:
            found.append(cut)
    return found


def _body(manifest: dict) -> dict:
    return {key: value for key, value in manifest.items() if key != SEAL_KEY}


def seal(manifest: dict) -> dict:
    """The seal of ``manifest`` (its ``seal`` entry, if any, left out) as it reads back from JSON."""
    body = json.loads(canonical(_body(manifest)))
    return {"algorithm": ALGORITHM, "digest": hashlib.sha256(canonical(body)).hexdigest(),
            "fields": {path: _field_digest(path, value) for path, value in leaves(body).items()}}


def seal_problems(manifest: dict) -> list[str]:
    """What no longer matches the seal of ``manifest``, one phrase per field; empty if it is intact."""
    recorded = manifest.get(SEAL_KEY)
    if not isinstance(recorded, dict) or not isinstance(recorded.get("digest"), str) \
            or not isinstance(recorded.get("fields"), dict):
        return ["the seal is missing or malformed"]
    try:
        body = canonical(_body(manifest))
    except (TypeError, ValueError) as error:
        return [f"a field is not plain JSON ({error})"]
    if hashlib.sha256(body).hexdigest() == recorded["digest"]:
        return []
    sealed, now = recorded["fields"], leaves(_body(manifest))
    problems = [f"field {path} does not match its seal" for path, value in now.items()
                if path in sealed and sealed[path] != _field_digest(path, value)]
    problems += [f"field {path} is missing (it was sealed)" for path in _outermost(sealed, now)]
    problems += [f"field {path} was added after export" for path in _outermost(now, sealed)]
    return problems or ["the seal's digest does not match the manifest (the seal itself was edited)"]
