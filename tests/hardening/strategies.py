"""Hypothesis strategies for parser fuzzing: structured DER and JSON mutations.

Random bytes rarely get past a parser's first check. These strategies start from valid
encodings (the vectors in ``tests/vectors/``) and break them the way a hostile or buggy
peer would, one structural element at a time, keeping everything around the damage well
formed so the parser has to look deep:

* DER (X.690): a TLV tree is read from a valid encoding (descending into OCTET STRING and
  BIT STRING contents that are themselves DER, as certificate extensions, signatures and
  OCSP responses are); one node is then given a wrong length, a non-minimal long-form or
  indefinite length (BER, forbidden in DER by X.690 10.1), a huge or reserved length
  field, another tag, deep nesting, a deletion, a duplicate, or a subtree spliced in from
  another vector. Enclosing lengths are recomputed (or, sometimes, deliberately not).
* JSON: one member of a valid document is replaced by a hostile value (integers beyond
  2**53, lone surrogates, deep nesting, wrong types), removed, duplicated at the text
  level, or the text is re-encoded (BOM, escapes, whitespace, invalid UTF-8).

These are test tools, so they slice DER by hand on purpose; production code never does.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from hypothesis import strategies as st

__all__ = [
    "Tlv",
    "byte_mutations",
    "der_element",
    "der_mutations",
    "encode_tlv",
    "hostile_json_values",
    "json_document_mutations",
    "json_text_mutations",
    "parse_tlv",
    "replace_element",
]

_MAX_PARSE_DEPTH = 64


@dataclass(frozen=True, slots=True)
class Tlv:
    """One DER element: identifier octets, and either children or primitive contents.

    ``prefix`` is what precedes encapsulated children inside a primitive (the unused-bits
    octet of a BIT STRING); ``children`` is set for constructed elements and for OCTET or
    BIT STRINGs whose contents are DER themselves.
    """

    identifier: bytes
    contents: bytes = b""
    children: tuple[Tlv, ...] | None = None
    prefix: bytes = b""

    def body(self) -> bytes:
        if self.children is None:
            return self.contents
        return self.prefix + b"".join(encode_tlv(child) for child in self.children)


def _definite_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    octets = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(octets)]) + octets


def encode_tlv(node: Tlv) -> bytes:
    """DER encoding of ``node`` (minimal definite lengths)."""
    body = node.body()
    return node.identifier + _definite_length(len(body)) + body


def der_element(identifier: bytes, body: bytes) -> bytes:
    """One DER element around ``body`` (which may itself be anything)."""
    return identifier + _definite_length(len(body)) + body


def _read_header(data: bytes, at: int) -> tuple[bytes, int, int]:
    """(identifier octets, contents length, contents start); ValueError when not DER."""
    start = at
    if at >= len(data):
        raise ValueError("no identifier")
    first = data[at]
    at += 1
    if first & 0x1F == 0x1F:  # high tag number form: base-128 continuation octets
        while True:
            if at >= len(data):
                raise ValueError("truncated tag")
            at += 1
            if data[at - 1] & 0x80 == 0:
                break
    identifier = data[start:at]
    if at >= len(data):
        raise ValueError("no length")
    length = data[at]
    at += 1
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4 or at + count > len(data):
            raise ValueError("not a definite DER length")
        length = int.from_bytes(data[at : at + count], "big")
        at += count
    if at + length > len(data):
        raise ValueError("contents run past the end")
    return identifier, length, at


def _parse_many(data: bytes, depth: int) -> tuple[Tlv, ...]:
    nodes: list[Tlv] = []
    at = 0
    while at < len(data):
        identifier, length, start = _read_header(data, at)
        contents = data[start : start + length]
        nodes.append(_node(identifier, contents, depth))
        at = start + length
    return tuple(nodes)


def _node(identifier: bytes, contents: bytes, depth: int) -> Tlv:
    if depth > _MAX_PARSE_DEPTH:
        raise ValueError("too deep")
    if identifier[0] & 0x20:
        return Tlv(identifier, children=_parse_many(contents, depth + 1))
    # Encapsulated DER: extnValue OCTET STRINGs, signature BIT STRINGs, OCSP responseBytes.
    if identifier == b"\x04" and contents[:1] in (b"\x30", b"\x31", b"\x04", b"\x02"):
        try:
            return Tlv(identifier, children=_parse_many(contents, depth + 1))
        except ValueError:
            pass
    if identifier == b"\x03" and contents[:2] in (b"\x00\x30", b"\x00\x04"):
        try:
            return Tlv(identifier, children=_parse_many(contents[1:], depth + 1), prefix=b"\x00")
        except ValueError:
            pass
    return Tlv(identifier, contents=contents)


def parse_tlv(data: bytes) -> Tlv:
    """The TLV tree of one complete DER element (ValueError when ``data`` is not one)."""
    nodes = _parse_many(data, 0)
    if len(nodes) != 1:
        raise ValueError("not exactly one element")
    return nodes[0]


Path = tuple[int, ...]


def _paths(node: Tlv, path: Path = ()) -> list[Path]:
    found = [path]
    for index, child in enumerate(node.children or ()):
        found.extend(_paths(child, (*path, index)))
    return found


def _at(node: Tlv, path: Path) -> Tlv:
    for index in path:
        assert node.children is not None
        node = node.children[index]
    return node


def _encode_with(node: Tlv, path: Path, raw: bytes, fix_lengths: bool) -> bytes:
    """``node`` with the element at ``path`` replaced by ``raw`` (any bytes: one element,
    none or several), the ancestors re-encoded around it."""
    if not path:
        return raw
    assert node.children is not None
    index, rest = path[0], path[1:]
    parts = [encode_tlv(child) for child in node.children]
    original = parts[index]
    parts[index] = _encode_with(node.children[index], rest, raw, fix_lengths)
    body = node.prefix + b"".join(parts)
    if fix_lengths or len(parts[index]) == len(original):
        return node.identifier + _definite_length(len(body)) + body
    # Keep the enclosing length as it was: the element now ends early or runs on.
    return node.identifier + _definite_length(len(node.body())) + body


def replace_element(data: bytes, old: bytes, new: bytes) -> bytes:
    """``data`` with its first element encoded as ``old`` replaced by ``new``, the
    enclosing lengths re-encoded (for hand-made regression examples)."""
    tree = parse_tlv(data)
    for path in _paths(tree):
        if encode_tlv(_at(tree, path)) == old:
            return _encode_with(tree, path, new, fix_lengths=True)
    raise ValueError("no such element")


def _wrong_length(node: Tlv, delta: int) -> bytes:
    body = node.body()
    return node.identifier + _definite_length(max(0, len(body) + delta)) + body


def _long_form(node: Tlv, extra: int) -> bytes:
    body = node.body()
    octets = len(body).to_bytes(max(1, (len(body).bit_length() + 7) // 8) + extra, "big")
    return node.identifier + bytes([0x80 | len(octets)]) + octets + body


def _indefinite(node: Tlv) -> bytes:
    identifier = bytes([node.identifier[0] | 0x20]) + node.identifier[1:]
    return identifier + b"\x80" + node.body() + b"\x00\x00"


_HUGE_LENGTHS = (
    b"\x84\xff\xff\xff\xff",
    b"\x88\x7f\xff\xff\xff\xff\xff\xff\xff",
    b"\x89\x01\x00\x00\x00\x00\x00\x00\x00\x00",
    b"\xfe" + b"\xff" * 126,
    b"\xff",  # reserved (X.690 8.1.3.5 c)
    b"\x80",  # indefinite on whatever the element is
    b"\x84\x00\x00\x00\x00",
)


def _huge_length(node: Tlv, length: bytes) -> bytes:
    return node.identifier + length + node.body()


def _nest(node: Tlv, depth: int, indefinite: bool) -> bytes:
    data = encode_tlv(node)
    if indefinite:
        return b"\x30\x80" * depth + data + b"\x00\x00" * depth
    for _ in range(depth):
        data = b"\x30" + _definite_length(len(data)) + data
    return data


_TAGS = (
    b"\x01",  # BOOLEAN
    b"\x02",  # INTEGER
    b"\x03",  # BIT STRING
    b"\x04",  # OCTET STRING
    b"\x05",  # NULL
    b"\x06",  # OBJECT IDENTIFIER
    b"\x0c",  # UTF8String
    b"\x13",  # PrintableString
    b"\x17",  # UTCTime
    b"\x18",  # GeneralizedTime
    b"\x30",  # SEQUENCE
    b"\x31",  # SET
    b"\xa0",  # [0] EXPLICIT
    b"\xa3",  # [3] EXPLICIT (extensions)
    b"\x80",  # [0] IMPLICIT
    b"\x1f\x81\x80\x00",  # high tag number form
    b"\x1f\x1e",  # high tag number form for a low tag (non-minimal)
    b"\x00",  # end-of-contents in the wrong place
)


def _retag(node: Tlv, identifier: bytes) -> bytes:
    return identifier + _definite_length(len(node.body())) + node.body()


_Mutation = Callable[[Tlv], bytes]


def _emptied(node: Tlv) -> bytes:
    return encode_tlv(replace(node, contents=b"", children=None if node.children is None else ()))


_INTEGERS = [
    b"\x02\x00",  # no contents octets
    b"\x02\x01\x00",  # zero (a serial number must be positive, RFC 5280 4.1.2.2)
    b"\x02\x01\xff",  # -1
    b"\x02\x02\x00\x01",  # non-minimal (X.690 8.3.2)
    b"\x02\x15\x01" + b"\x00" * 20,  # 21 octets: longer than a serial may be
    b"\x02\x09\x01" + b"\x00" * 8,  # beyond 64 bits
]


@dataclass(frozen=True, slots=True)
class _Donors:
    """Elements of the donor vectors: all of them, and grouped by identifier octets."""

    elements: tuple[bytes, ...]
    by_identifier: dict[bytes, tuple[bytes, ...]]


def _primitive_contents(node: Tlv, contents: bytes) -> bytes:
    return node.identifier + _definite_length(len(contents)) + contents


def _mutations(node: Tlv, donors: _Donors, well_formed: bool) -> st.SearchStrategy[_Mutation]:
    """One change to ``node``, as a function of the element. ``well_formed`` keeps to
    changes that leave the schema's shape mostly intact (only the meaning changes)."""
    same_kind = donors.by_identifier.get(node.identifier, ())
    strategies: list[st.SearchStrategy[_Mutation]] = [
        st.just(lambda n: b""),  # delete the element (e.g. a required extension)
        st.just(lambda n: encode_tlv(n) * 2),  # duplicate it (e.g. a repeated extension)
    ]
    # Changes that keep the element's kind reach furthest, so they weigh more there.
    weight = 3 if well_formed else 1
    if same_kind:
        # An element of the same kind from another vector: another OID (an unknown hash
        # or signature algorithm), another INTEGER, another name or extension.
        strategies += [st.sampled_from(same_kind).map(lambda data: lambda n: data)] * weight
    if node.children is None:
        # Damage the contents of a primitive (an OID arc, a time, a key's point).
        strategies += [
            byte_mutations(node.contents).map(
                lambda contents: lambda n: _primitive_contents(n, contents)
            )
        ] * weight
    if node.identifier == b"\x02" or not well_formed:
        strategies.append(st.sampled_from(_INTEGERS).map(lambda data: lambda n: data))
    if not well_formed:
        strategies += [
            st.sampled_from(_TAGS).map(lambda tag: lambda n: _retag(n, tag)),
            st.just(_emptied),
            # Splice in any element of a vector (e.g. a name where the serial number was).
            st.sampled_from(donors.elements).map(lambda data: lambda n: data),
            st.tuples(st.integers(1, 3000), st.booleans()).map(
                lambda a: lambda n: _nest(n, a[0], indefinite=a[1])
            ),
            st.sampled_from([-3, -2, -1, 1, 2, 3]).map(lambda d: lambda n: _wrong_length(n, d)),
            st.integers(0, 3).map(lambda extra: lambda n: _long_form(n, extra)),
            st.just(_indefinite),
            st.sampled_from(_HUGE_LENGTHS).map(lambda length: lambda n: _huge_length(n, length)),
            st.binary(max_size=8).map(lambda tail: lambda n: encode_tlv(n) + tail),
        ]
    return st.one_of(strategies)


def byte_mutations(data: bytes) -> st.SearchStrategy[bytes]:
    """A few bytes of ``data`` flipped, inserted or removed, or ``data`` cut short."""
    if not data:
        return st.binary(max_size=16)
    positions = st.integers(0, len(data) - 1)

    def flip(at_value: tuple[int, int]) -> bytes:
        at, value = at_value
        return data[:at] + bytes([data[at] ^ value]) + data[at + 1 :]

    return st.one_of(
        st.tuples(positions, st.integers(1, 255)).map(flip),
        st.tuples(positions, st.binary(min_size=1, max_size=4)).map(
            lambda a: data[: a[0]] + a[1] + data[a[0] :]
        ),
        st.tuples(positions, st.integers(1, 16)).map(lambda a: data[: a[0]] + data[a[0] + a[1] :]),
        positions.map(lambda at: data[:at]),
        st.binary(min_size=1, max_size=8).map(lambda tail: data + tail),
    )


@st.composite
def _der_mutation(
    draw: st.DrawFn, vectors: Sequence[bytes], donors: _Donors, well_formed: bool
) -> bytes:
    data = draw(st.sampled_from(vectors))
    tree = parse_tlv(data)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_paths(tree)))
        node = _at(tree, path)
        raw = draw(_mutations(node, donors, well_formed))(node)
        fix_lengths = well_formed or draw(st.integers(0, 7)) > 0
        data = _encode_with(tree, path, raw, fix_lengths=fix_lengths)
        try:
            tree = parse_tlv(data)
        except ValueError:
            break  # no longer DER: further structural changes make no sense
    if not well_formed and draw(st.integers(0, 4)) == 0:
        data = draw(byte_mutations(data))
    return data


def der_mutations(
    vectors: Sequence[bytes], donors: Sequence[bytes] | None = None, *, well_formed: bool = False
) -> st.SearchStrategy[bytes]:
    """Structurally broken variants of the DER ``vectors`` (see the module docstring).

    ``donors`` are vectors whose elements may be spliced in (default: ``vectors``).
    ``well_formed`` keeps the result a sequence of well-formed DER elements whose meaning
    changed (another OID, a missing or repeated element, an INTEGER edge case), for
    inputs that must get past the parser's framing to reach its checks.
    """
    trees = [parse_tlv(vector) for vector in donors or vectors]
    nodes = {_at(tree, path) for tree in trees for path in _paths(tree)}
    elements = sorted({encode_tlv(node) for node in nodes})
    by_identifier: dict[bytes, set[bytes]] = {}
    for node in nodes:
        by_identifier.setdefault(node.identifier, set()).add(encode_tlv(node))
    for vector in vectors:
        parse_tlv(vector)  # fail early on a vector that is not DER
    return _der_mutation(
        list(vectors),
        _Donors(
            elements=tuple(elements),
            by_identifier={key: tuple(sorted(value)) for key, value in by_identifier.items()},
        ),
        well_formed,
    )


# --- JSON -------------------------------------------------------------------------------

_HOSTILE_SCALARS: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2**53,
    2**53 + 1,
    -(2**63),
    2**64,
    0.5,
    -0.0,
    1e308,
    "",
    " ",
    "\u0000",
    "\ud800",  # a lone surrogate: valid JSON escape, not encodable as UTF-8
    "\udfff\ud800",
    "\u202e",
    "\ufeff",
    "1" * 40,
    "\uff21\uff22\uff23",  # full-width ABC
    "\u0663\u0664\u0665",  # Arabic-Indic digits: isdigit(), not ASCII
    "12.30",
    "EUR",
    "https://shop.example",
]

hostile_json_values: st.SearchStrategy[Any] = st.recursive(
    st.sampled_from(_HOSTILE_SCALARS)
    | st.builds(pow, st.just(10), st.sampled_from([20, 400]))  # beyond int64, beyond double
    | st.builds(str.__mul__, st.just("A"), st.sampled_from([300, 5000]))
    | st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)
"""JSON values a hostile client may send (all representable by ``json.dumps``)."""

JsonPath = tuple[str | int, ...]


def _json_paths(value: Any, path: JsonPath = ()) -> list[JsonPath]:
    found = [path]
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(_json_paths(child, (*path, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(_json_paths(child, (*path, index)))
    return found


def _copy(value: Any) -> Any:
    result: Any = json.loads(json.dumps(value))
    return result


def _set(document: Any, path: JsonPath, value: Any) -> Any:
    if not path:
        return value
    document = _copy(document)
    target = document
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    return document


def _delete(document: Any, path: JsonPath) -> Any:
    if not path:
        return document
    document = _copy(document)
    target = document
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]
    return document


_PLACEHOLDER = "\u0000fuzz-placeholder\u0000"


def _deep(depth: int, opener: str) -> str:
    closer = "]" if opener == "[" else "}"
    inner = "1" if opener == "[" else ""
    if opener == "{":
        return '{"a":' * depth + "1" + "}" * depth
    return opener * depth + inner + closer * depth


_RAW_VALUES = st.one_of(
    st.tuples(st.integers(2, 5000), st.sampled_from("[{")).map(lambda a: _deep(*a)),
    st.sampled_from(
        [
            "NaN",
            "Infinity",
            "-Infinity",
            "1e400",
            "-1e400",
            "1E+2",
            "-0",
            "0.1e-400",
            '"\\ud800"',
            '"\\u0000"',
            "[1,]",
            "{,}",
            "tru",
            "nul",
            '"unterminated',
            "01",
            "1.",
            "123456789012345678901234567890",
        ]
    ),
)


@st.composite
def _json_document(draw: st.DrawFn, documents: Sequence[Any]) -> bytes:
    document = draw(st.sampled_from(documents))
    raw: str | None = None
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_json_paths(document)))
        # Hostile values most often: they reach furthest into a parser.
        action = draw(st.sampled_from([0, 0, 0, 1, 2, 3, 4, 5]))
        if action == 0:
            document = _set(document, path, draw(hostile_json_values))
        elif action == 1:
            document = _delete(document, path)
        elif action == 2:
            # Splice: the value at the same path in another document, or any of its values.
            other = draw(st.sampled_from(documents))
            other_path = draw(st.sampled_from(_json_paths(other)))
            value: Any = other
            for part in other_path:
                value = value[part]
            document = _set(document, path, _copy(value))
        elif action == 3 and isinstance(document, dict):
            document = dict(document, **{draw(st.text(max_size=12)): draw(hostile_json_values)})
        elif action == 4 and raw is None and path:
            raw = draw(_RAW_VALUES)
            document = _set(document, path, _PLACEHOLDER)
        elif action == 5 and isinstance(document, dict) and document:
            # Rename a member: case variants and look-alikes of the real names.
            key = draw(st.sampled_from(sorted(document)))
            new_key = draw(
                st.sampled_from([key.upper(), key.lower(), key + " ", " " + key, key + "\u0000"])
            )
            document = {(new_key if k == key else k): v for k, v in document.items()}
    text = json.dumps(
        document,
        ensure_ascii=draw(st.booleans()),
        separators=draw(st.sampled_from([(",", ":"), (", ", ": ")])),
        sort_keys=draw(st.booleans()),
    )
    if raw is not None:
        text = text.replace(json.dumps(_PLACEHOLDER), raw)
    encoded = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 3)) == 0:
        return draw(json_text_mutations(encoded))
    return encoded


def json_document_mutations(documents: Sequence[Any]) -> st.SearchStrategy[bytes]:
    """UTF-8 JSON text of ``documents`` with one to three members replaced, removed,
    spliced from another document, renamed or added, then possibly re-encoded."""
    return _json_document(list(documents))


def json_text_mutations(text: bytes) -> st.SearchStrategy[bytes]:
    """Text-level damage to a JSON document: duplicate members, BOM, bad UTF-8, bytes."""
    duplicate = (
        st.just(text[:-1] + b"," + text[1:])
        if text[:1] == b"{" and text[-1:] == b"}"
        else st.nothing()
    )
    return st.one_of(
        duplicate,  # every member twice: {"a":1,"a":1}
        st.just(b"\xef\xbb\xbf" + text),  # UTF-8 byte order mark
        st.just(text.replace(b":", b" : ", 1)),
        st.just(text.decode("utf-8", "surrogateescape").encode("utf-16", "surrogatepass")),
        st.sampled_from([b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\xf4\x90\x80\x80"]).map(
            lambda bad: text[:1] + bad + text[1:]
        ),
        st.just(text + b"\x00"),
        st.just(b" \t\r\n" + text + b"\n"),
        st.just(text * 2),
        byte_mutations(text),
    )
