"""Hostile requests for the relay, as hypothesis strategies: every operation of its OpenAPI schema with
parameters and bodies of every shape, and STK callback bodies that are garbage in some way (wrong types,
NUL bytes, duplicated keys, absurd amounts, deep nesting, sizes around the body limit).

Shared by tests/relay/test_fuzz.py (a modest number of examples) and benchmarks/fuzz_relay.py (many).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from relay.simulate import stk_callback_body

FUZZ_CHECKOUT_ID = "ws_CO_FUZZ_PENDING"
FUZZ_AMOUNT = 10


@dataclass(frozen=True)
class Probe:
    method: str
    url: str
    headers: dict[str, str]
    body: bytes | None

    def __repr__(self) -> str:  # hypothesis prints failing examples; keep them readable
        body = None if self.body is None else self.body[:300]
        return f"Probe({self.method} {self.url[:300]!r} headers={list(self.headers)} body={body!r})"


# Values of the wrong type, size or alphabet, for any field.
junk_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([2**31, 2**63, -(2**31) - 1, 0, -1, 1e308, -0.0, 10.5]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["", "\x00", "a\x00b", "１０", "1e1", "07²³¹²³¹²³", "-254708374149", "x" * 5000, "%00"]),
)
json_values = st.recursive(
    junk_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
path_values = st.one_of(
    st.text(min_size=1, max_size=30).map(lambda text: quote(text, safe="")),
    st.sampled_from(["%00", "%ff%fe", "..", "a" * 200, "ws_CO_" + "9" * 150, "%2F", "NLJ7RT61SV"]),
)
query_values = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.sampled_from(["0", "0.01", "nan", "inf", "-1", "1e400", "%00", "", "30", "31"]),
    st.text(max_size=20).map(lambda text: quote(text, safe="")),
)


def _schema_body(schema: dict[str, Any]) -> st.SearchStrategy[bytes]:
    properties = schema.get("properties", {})
    plausible = {
        "order_id": st.text(min_size=1, max_size=10),
        "checkout_request_id": st.text(min_size=1, max_size=10),
        "amount_kes": st.integers(min_value=1, max_value=1000),
        "phone": st.sampled_from(["254708374149", "0708374149"]),
    }
    fields = st.fixed_dictionaries(
        {},
        optional={name: plausible.get(name, json_values) | json_values for name in properties},
    )
    return st.one_of(
        fields.map(lambda value: json.dumps(value).encode()),
        json_values.map(lambda value: json.dumps(value).encode()),
        st.binary(max_size=200),
    )


def api_probes(schema: dict[str, Any], keys: list[str]) -> st.SearchStrategy[Probe]:
    """One request to any operation in `schema`, with any of `keys` (or none, or garbage) as its key."""
    operations: list[st.SearchStrategy[Probe]] = []
    authorizations = st.one_of(
        st.sampled_from([f"Bearer {key}" for key in keys]),
        st.sampled_from(["", "Bearer", "Bearer rk_forged", "Basic abc", "Bearer " + "k" * 9000]),
    )
    for template, methods in schema["paths"].items():
        for method, operation in methods.items():
            parameters = operation.get("parameters", [])
            body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})

            @st.composite
            def probe(
                draw: st.DrawFn,
                template: str = template,
                method: str = method,
                parameters: list[dict[str, Any]] = parameters,
                body_schema: dict[str, Any] | None = body.get("schema"),
            ) -> Probe:
                path = template
                query: list[str] = []
                for parameter in parameters:
                    if parameter["in"] == "path":
                        path = path.replace("{" + parameter["name"] + "}", draw(path_values))
                    elif parameter["in"] == "query" and draw(st.booleans()):
                        query.append(f"{parameter['name']}={draw(query_values)}")
                url = path + ("?" + "&".join(query) if query else "")
                headers = {"authorization": draw(authorizations), "content-type": "application/json"}
                content = None if body_schema is None else draw(_schema_body(body_schema))
                return Probe(method.upper(), url, headers, content)

            operations.append(probe())
    return st.one_of(operations)


def _stk(result_code: Any = 0, amount: Any = FUZZ_AMOUNT, receipt: Any = "TKL5550001") -> dict[str, Any]:
    body = stk_callback_body(FUZZ_CHECKOUT_ID, amount=FUZZ_AMOUNT, receipt="TKL5550001")
    inner = body["Body"]["stkCallback"]
    inner["ResultCode"] = result_code
    for item in inner["CallbackMetadata"]["Item"]:
        if item["Name"] == "Amount":
            item["Value"] = amount
        if item["Name"] == "MpesaReceiptNumber":
            item["Value"] = receipt
    return body


# A ResultCode that is not Daraja's success (0): wrong types, unknown codes, look-alikes.
_not_success = st.one_of(
    st.sampled_from(
        ["00", "-1", None, [], {}, "0\x00", "\uff10", "0 ", " 0", "zero", 2**70, "1032", 1032, 1]
    ),
    st.integers(min_value=1, max_value=2**40),
    st.text(min_size=1, max_size=6).filter(lambda text: text.strip() != "0"),
)
# An Amount or receipt a genuine paid callback never carries.
_absurd_amount = st.sampled_from(
    ["1e1", "１０", -10, 10.5, 2**31, 2**63, 2**70, None, "10\x00", [], {}, "", 1e308, 0, True]
)
_bad_receipt = st.sampled_from([None, "", "\x00", "TKL\x005550001", "R" * 200, 12345, [], "TKL555000１"])


def _duplicated_keys(code: Any) -> bytes:
    """`{"ResultCode": 1032, …, "ResultCode": 0}`: read last-wins it would pay (docs/daraja.md §4)."""
    text = json.dumps(_stk(result_code=code))
    return text.replace(
        '"ResultCode": ' + json.dumps(code), '"ResultCode": ' + json.dumps(code) + ', "ResultCode": 0'
    )


def _nested(depth: int) -> bytes:
    return b'{"Body":' * depth + b"{}" + b"}" * depth


def callback_bodies(max_body_bytes: int) -> st.SearchStrategy[bytes]:
    """Bodies naming the pending payment FUZZ_CHECKOUT_ID that must never mark it paid."""
    dumps = st.just(json.dumps)
    return st.one_of(
        st.builds(lambda code: json.dumps(_stk(result_code=code)).encode(), _not_success),
        st.builds(lambda amount: json.dumps(_stk(amount=amount)).encode(), _absurd_amount),
        st.builds(lambda receipt: json.dumps(_stk(receipt=receipt)).encode(), _bad_receipt),
        st.builds(lambda code: _duplicated_keys(code).encode(), st.sampled_from([1032, 1, 2001, "1032"])),
        st.builds(lambda value: json.dumps({"Body": {"stkCallback": value}}).encode(), json_values),
        st.builds(lambda f, value: f(value).encode(), dumps, json_values),
        st.integers(min_value=1, max_value=200_000).map(_nested),
        st.binary(max_size=500),
        st.sampled_from([b"", b"\x00" * 100, b"\xff\xfe\xfd", b"[" * 100_000, b'{"a":"\\ud800"}']),
        st.integers(min_value=max_body_bytes - 100, max_value=max_body_bytes + 100).map(
            lambda size: (json.dumps(_stk(result_code=1032)) + " " * size)[:size].encode()
        ),
        st.builds(
            lambda code, size: json.dumps(_stk(result_code=code)).encode() + b" " * size,
            _not_success,
            st.integers(min_value=0, max_value=4 * max_body_bytes),
        ),
    )
