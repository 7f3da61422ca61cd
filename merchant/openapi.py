"""The OpenAPI 3.1 description of every JSON endpoint (served at ``GET /openapi.json``).

Every error answer is ``{"error": {"code", "message"}}``; each operation documents its
error statuses with the stable codes each one carries, and lists all of them in
``x-error-codes`` (as the issuer's document does). tests/hardening/test_api_schema.py
holds the service to it.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from merchant.version import __version__

__all__ = ["openapi_document"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_CARD_DATA_CODES = ("pan_invalid", "expiry_invalid", "security_code_invalid", "name_invalid")
_BODY_ERRORS: dict[str, tuple[str, ...]] = {
    "400": ("request_malformed",),
    "413": ("payload_too_large",),
    "415": ("unsupported_media_type",),
}
# Every operation that uses the database answers 503 when it is unreachable
# (servicekit.middleware).
_DB_ERRORS: dict[str, tuple[str, ...]] = {"503": ("service_unavailable",)}
_AUTH_ERRORS: dict[str, tuple[str, ...]] = {"401": ("unauthorized",), **_DB_ERRORS}
_LOOKUP_ERRORS: dict[str, tuple[str, ...]] = {**_AUTH_ERRORS, "404": ("not_found",)}


def _errors(statuses: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    """The error responses and ``x-error-codes`` of an operation: status -> stable codes."""
    responses = {
        status: _json(_ref("Error"), "Error; `error.code` is " + ", ".join(f"`{c}`" for c in codes))
        for status, codes in sorted(statuses.items())
    }
    codes = sorted({code for listed in statuses.values() for code in listed})
    return {"responses": responses, "x-error-codes": codes}


def _operation(
    operation: dict[str, Any], responses: dict[str, Any], errors: dict[str, tuple[str, ...]]
) -> dict[str, Any]:
    documented = _errors(errors)
    return {
        **operation,
        "responses": {**responses, **documented["responses"]},
        "x-error-codes": documented["x-error-codes"],
    }


_B64URL = {"type": "string", "pattern": "^[A-Za-z0-9_-]*$", "description": "unpadded base64url"}
_CHECKOUT_ID = {"name": "checkoutId", "in": "path", "required": True, "schema": {"type": "string"}}

_SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "examples": ["issuer_not_participating"]},
                    "message": {"type": "string"},
                },
            }
        },
    },
    "CardHint": {
        "type": "object",
        "required": ["bin", "last4"],
        "properties": {
            "bin": {"type": "string", "pattern": "^[0-9]{6,8}$"},
            "last4": {"type": "string", "pattern": "^[0-9]{4}$"},
        },
    },
    "CardData": {
        "type": "object",
        "description": "As typed by the shopper. Never logged; stored only AES-256-GCM encrypted "
        "until the verdict.",
        "required": ["pan", "expiry", "securityCode"],
        "properties": {
            "pan": {"type": "string"},
            "expiry": {"type": "string", "examples": ["12/29", "2029-12"]},
            "securityCode": {"type": "string"},
            "name": {"type": ["string", "null"]},
        },
    },
    "CheckoutRequest": {
        "type": "object",
        "required": ["amount", "currency", "returnUrl"],
        "properties": {
            "amount": {"type": "string", "examples": ["12.30"]},
            "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
            "orderReference": {"type": ["string", "null"], "maxLength": 128},
            "returnUrl": {"type": "string", "format": "uri"},
            "card": _ref("CardHint"),
            "cardData": {"oneOf": [_ref("CardData"), {"type": "null"}]},
            "display": {"enum": ["redirect", "popup"], "default": "redirect"},
        },
    },
    "TransactionRequest": {
        "type": "object",
        "description": "docs/interfaces.md section 4",
        "required": [
            "version",
            "merchantName",
            "amount",
            "currency",
            "checkoutId",
            "nonce",
            "returnUrl",
            "cardHint",
            "display",
        ],
        "properties": {
            "version": {"const": 1},
            "merchantName": {"type": "string"},
            "amount": {"type": "string"},
            "currency": {"type": "string"},
            "checkoutId": {"type": "string"},
            "nonce": _B64URL,
            "returnUrl": {"type": "string"},
            "cardHint": _ref("CardHint"),
            "display": {"enum": ["redirect", "popup"]},
        },
    },
    "CheckoutCreated": {
        "type": "object",
        "required": [
            "checkoutId",
            "nonce",
            "expiresAt",
            "transactionRequest",
            "payUrl",
            "redirectUrl",
            "issuer",
        ],
        "properties": {
            "checkoutId": {"type": "string"},
            "state": {"const": "pending"},
            "nonce": _B64URL,
            "expiresAt": {"type": "string", "format": "date-time"},
            "transactionRequest": _ref("TransactionRequest"),
            "payUrl": {"type": "string"},
            "redirectUrl": {"type": "string"},
            "issuer": {
                "type": "object",
                "properties": {"name": {"type": "string"}, "origin": {"type": "string"}},
            },
        },
    },
    "Presentation": {
        "type": "object",
        "description": "Wire form of certs.presentation.Presentation",
        "required": [
            "version",
            "transaction",
            "signature",
            "certificateChain",
            "status",
            "cardDataSecret",
        ],
        "properties": {
            "version": {"const": 1},
            "transaction": _B64URL,
            "signature": _B64URL,
            "certificateChain": {"type": "array", "items": _B64URL, "minItems": 1, "maxItems": 3},
            "status": {"oneOf": [_B64URL, {"type": "null"}]},
            "cardDataSecret": _B64URL,
        },
    },
    "VerifyRequest": {
        "type": "object",
        "required": ["presentation"],
        "properties": {
            "presentation": {"oneOf": [_ref("Presentation"), {"type": "string"}]},
            "cardData": {
                "oneOf": [_ref("CardData"), {"type": "null"}],
                "description": "Required unless the checkout was created with cardData.",
            },
        },
    },
    "Verdict": {
        "type": "object",
        "required": ["result", "code", "liabilityShift", "evidenceId"],
        "properties": {
            "result": {"enum": ["authenticated", "failed", "unavailable"]},
            "code": {"type": ["string", "null"]},
            "liabilityShift": {"type": "boolean"},
            "evidenceId": {"type": ["string", "null"]},
            "confirmation": {"enum": ["explicit", "frictionless", None]},
            "revocationChecked": {"type": "boolean"},
            "revocationSource": {"enum": ["stapled", "live", "none", None]},
        },
    },
    "State": {
        "enum": ["pending", "authenticated", "failed", "unavailable", "cancelled", "expired"]
    },
    "VerifyResult": {
        "type": "object",
        "required": ["checkoutId", "state", "verdict"],
        "properties": {
            "checkoutId": {"type": "string"},
            "state": _ref("State"),
            "verdict": _ref("Verdict"),
        },
    },
    "CheckoutStatus": {
        "type": "object",
        "required": ["checkoutId", "state", "verdict"],
        "properties": {
            "checkoutId": {"type": "string"},
            "state": _ref("State"),
            "amount": {"type": "string"},
            "currency": {"type": "string"},
            "orderReference": {"type": ["string", "null"]},
            "createdAt": {"type": "string", "format": "date-time"},
            "expiresAt": {"type": "string", "format": "date-time"},
            "verifiedAt": {"type": ["string", "null"], "format": "date-time"},
            "verdict": {"oneOf": [_ref("Verdict"), {"type": "null"}]},
        },
    },
    "Evidence": {
        "type": "object",
        "description": "cardcert evidence record version 1 (docs/merchant.md, Evidence)",
        "required": ["type", "version", "evidenceId", "verdict", "integrity"],
        "properties": {"type": {"const": "cardcert.evidence"}, "version": {"const": 1}},
    },
    "Health": {
        "type": "object",
        "properties": {"status": {"const": "ok"}, "version": {"type": "string"}},
    },
}


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document (built once)."""
    bearer: list[dict[str, list[str]]] = [{"merchantKey": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "cardcert merchant verifier",
            "version": __version__,
            "description": "Checkout API, presentation verification and evidence export.",
        },
        "components": {
            "schemas": _SCHEMAS,
            "securitySchemes": {"merchantKey": {"type": "http", "scheme": "bearer"}},
        },
        "paths": {
            "/health": {
                "get": _operation(
                    {"operationId": "health"},
                    {"200": _json(_ref("Health"), "The service and its database are up")},
                    {"503": ("service_unavailable",)},
                )
            },
            "/metrics": {
                "get": {
                    "operationId": "metrics",
                    "responses": {
                        "200": {
                            "description": "Prometheus text format 0.0.4",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "responses": {"200": _json({"type": "object"}, "This document")},
                }
            },
            "/v1/checkouts": {
                "post": _operation(
                    {
                        "operationId": "createCheckout",
                        "description": "Rate limited per client address and per API key "
                        "(MERCHANT_CHECKOUT_RATE, MERCHANT_CHECKOUT_BURST): 429 with "
                        "Retry-After.",
                        "security": bearer,
                        "parameters": [
                            {
                                "name": "Idempotency-Key",
                                "in": "header",
                                "required": False,
                                "schema": {"type": "string", "maxLength": 255},
                                "description": "Same key and body: the same answer; same key, "
                                "another body: `idempotency_key_reused`.",
                            }
                        ],
                        "requestBody": {
                            "required": True,
                            "content": {"application/json": {"schema": _ref("CheckoutRequest")}},
                        },
                    },
                    {"201": _json(_ref("CheckoutCreated"), "Checkout created")},
                    {
                        **_BODY_ERRORS,
                        **_AUTH_ERRORS,
                        "422": (
                            "issuer_not_participating",
                            "idempotency_key_reused",
                            "return_url_not_allowed",
                            "amount_invalid",
                            "currency_invalid",
                            "card_hint_invalid",
                            *_CARD_DATA_CODES,
                        ),
                        "429": ("rate_limited",),
                    },
                )
            },
            "/v1/checkouts/{checkoutId}": {
                "get": _operation(
                    {
                        "operationId": "getCheckout",
                        "security": bearer,
                        "parameters": [_CHECKOUT_ID],
                    },
                    {"200": _json(_ref("CheckoutStatus"), "State")},
                    _LOOKUP_ERRORS,
                )
            },
            "/v1/checkouts/{checkoutId}/verify": {
                "post": _operation(
                    {
                        "operationId": "verifyCheckout",
                        "security": bearer,
                        "parameters": [_CHECKOUT_ID],
                        "requestBody": {
                            "required": True,
                            "content": {"application/json": {"schema": _ref("VerifyRequest")}},
                        },
                    },
                    {"200": _json(_ref("VerifyResult"), "The verdict of this attempt")},
                    {
                        **_BODY_ERRORS,
                        **_LOOKUP_ERRORS,
                        "422": ("card_data_unavailable", *_CARD_DATA_CODES),
                    },
                )
            },
            "/v1/evidence/{evidenceId}": {
                "get": _operation(
                    {
                        "operationId": "getEvidence",
                        "security": bearer,
                        "parameters": [
                            {
                                "name": "evidenceId",
                                "in": "path",
                                "required": True,
                                "schema": {"type": "string"},
                            }
                        ],
                    },
                    {"200": _json(_ref("Evidence"), "The evidence file")},
                    _LOOKUP_ERRORS,
                )
            },
            "/checkout/return": {
                "post": _operation(
                    {
                        "operationId": "checkoutReturn",
                        "description": "Browser return endpoint (docs/interfaces.md section 5); "
                        "answers an HTML page. Rate limited per client address.",
                        "requestBody": {
                            "required": True,
                            "content": {
                                "application/x-www-form-urlencoded": {
                                    "schema": {
                                        "type": "object",
                                        "required": ["checkoutId", "result"],
                                        "properties": {
                                            "checkoutId": {"type": "string"},
                                            "result": {"enum": ["presented", "cancelled"]},
                                            "presentation": {"type": "string"},
                                        },
                                    }
                                }
                            },
                        },
                    },
                    {
                        "200": {
                            "description": "Result page",
                            "content": {"text/html": {"schema": {"type": "string"}}},
                        }
                    },
                    {
                        "400": ("request_malformed",),
                        "404": ("not_found",),
                        "413": ("payload_too_large",),
                        "429": ("rate_limited",),
                        **_DB_ERRORS,
                    },
                )
            },
        },
    }
