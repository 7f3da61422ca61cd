"""The issuer's OpenAPI 3.1 document (``GET /openapi.json``), written by hand.

Every JSON endpoint has its request and response schemas and the error schema; each
operation lists the stable error codes it can answer with in ``x-error-codes``. The binary
endpoints (OCSP, CRL) and browser pages are described with their media types. A test checks
that every route of the application is documented here and every error code appears.
"""

from __future__ import annotations

from typing import Any

from issuer.settings import IssuerSettings

__all__ = ["openapi_document"]

_B64URL = {"type": "string", "contentEncoding": "base64url", "pattern": "^[A-Za-z0-9_-]*$"}
_TIME = {"type": "string", "format": "date-time"}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: str) -> dict[str, Any]:
    return _json(_ref("Error"), "Error; `error.code` is one of: " + ", ".join(codes))


def _operation(
    summary: str,
    *,
    responses: dict[str, Any],
    codes: tuple[str, ...] = (),
    body: str | None = None,
    secured: bool = False,
    parameters: list[dict[str, Any]] | None = None,
    tag: str,
) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": dict(responses)}
    if codes:
        operation["responses"]["default"] = _errors(*codes)
        operation["x-error-codes"] = list(codes)
    if body is not None:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    if secured:
        operation["security"] = [{"apiKey": []}]
    if parameters:
        operation["parameters"] = parameters
    return operation


def _path_parameter(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "path",
        "required": True,
        "description": description,
        "schema": {"type": "string"},
    }


_BODY_CODES = ("request_malformed", "unsupported_media_type", "payload_too_large")
_AUTH_CODES = ("unauthorized",)
_LIMIT_CODES = ("rate_limited",)
# The database unreachable (servicekit.middleware): any operation that reads or writes it.
_DB_CODES = ("service_unavailable",)
_REASONS = [
    "unspecified",
    "keyCompromise",
    "affiliationChanged",
    "superseded",
    "cessationOfOperation",
    "privilegeWithdrawn",
]


def _schemas() -> dict[str, Any]:
    nullable_time = {"type": ["string", "null"], "format": "date-time"}
    nullable_text = {"type": ["string", "null"]}
    return {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": {
                    "type": "object",
                    "required": ["code", "message"],
                    "properties": {
                        "code": {"type": "string", "description": "stable error code"},
                        "message": {"type": "string"},
                    },
                }
            },
        },
        "IssuerMetadata": {
            "type": "object",
            "required": [
                "version",
                "issuerName",
                "issuerOrigin",
                "caCertificate",
                "binPrefixes",
                "payUrl",
                "enrollUrl",
                "ocspUrl",
                "crlUrl",
                "statusUrl",
                "serviceWorker",
                "statusFreshnessSeconds",
            ],
            "properties": {
                "version": {"const": 1},
                "issuerName": {"type": "string"},
                "issuerOrigin": {"type": "string", "format": "uri"},
                "caCertificate": {"type": "string", "description": "issuer CA, PEM"},
                "binPrefixes": {"type": "array", "items": {"type": "string"}},
                "payUrl": {"type": "string", "format": "uri"},
                "enrollUrl": {"type": "string", "format": "uri"},
                "ocspUrl": {"type": "string", "format": "uri"},
                "crlUrl": {"type": "string", "format": "uri"},
                "statusUrl": {"type": "string", "description": "template with {fingerprint}"},
                "serviceWorker": {
                    "type": "object",
                    "required": ["url", "scope"],
                    "properties": {"url": {"type": "string"}, "scope": {"type": "string"}},
                },
                "statusFreshnessSeconds": {"type": "integer"},
                "frictionless": {
                    "type": "object",
                    "description": "Optional (absent = off): per-currency ceiling up to which "
                    "the Service Worker may sign without showing the confirmation page "
                    "(`confirmation: frictionless`, docs/browser.md). Keys are ISO 4217 codes, "
                    "values canonical amounts for the currency (ISSUER_FRICTIONLESS_LIMITS).",
                    "propertyNames": {"pattern": "^[A-Z]{3}$"},
                    "additionalProperties": {
                        "type": "string",
                        "pattern": "^(0|[1-9][0-9]*)(\\.[0-9]+)?$",
                    },
                    "examples": [{"EUR": "30.00", "USD": "30.00"}],
                },
            },
        },
        "Health": {
            "type": "object",
            "required": ["status"],
            "properties": {"status": {"const": "ok"}, "issuerName": {"type": "string"}},
        },
        "CardRegistration": {
            "type": "object",
            "required": ["pan", "expiry", "securityCode"],
            "properties": {
                "pan": {"type": "string", "description": "12-19 digits, Luhn-valid"},
                "expiry": {"type": "string", "description": "MM/YY, MM/YYYY, MMYY or YYYY-MM"},
                "securityCode": {"type": "string", "description": "3-4 digits (alias: cvc)"},
                "name": {"type": "string"},
            },
        },
        "IssuedActivationCode": {
            "type": "object",
            "required": ["cardId", "bin", "last4", "activationCode", "activationCodeExpiresAt"],
            "properties": {
                "cardId": {"type": "string"},
                "bin": {"type": "string"},
                "last4": {"type": "string"},
                "activationCode": {
                    "type": "string",
                    "pattern": "^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$",
                    "description": "one-time code, shown once, Crockford base32 (80 bits)",
                },
                "activationCodeExpiresAt": _TIME,
            },
        },
        "Card": {
            "type": "object",
            "required": ["cardId", "bin", "last4", "status", "createdAt"],
            "properties": {
                "cardId": {"type": "string"},
                "bin": {"type": "string"},
                "last4": {"type": "string"},
                "status": {"enum": ["active", "revoked"]},
                "createdAt": _TIME,
                "revokedAt": nullable_time,
                "revocationReason": nullable_text,
            },
        },
        "Certificate": {
            "type": "object",
            "required": ["serialNumber", "fingerprint", "status", "notBefore", "notAfter"],
            "properties": {
                "serialNumber": {"type": "string", "description": "hex"},
                "fingerprint": _B64URL,
                "status": {"enum": ["good", "superseded", "revoked"]},
                "notBefore": _TIME,
                "notAfter": _TIME,
                "createdAt": _TIME,
                "revokedAt": nullable_time,
                "revocationReason": nullable_text,
                "supersededBy": nullable_text,
            },
        },
        "Credential": {
            "type": "object",
            "required": ["credentialId", "cardId", "status", "createdAt"],
            "properties": {
                "credentialId": {"type": "string"},
                "cardId": {"type": "string"},
                "status": {"enum": ["active", "revoked"]},
                "createdAt": _TIME,
                "renewedAt": nullable_time,
                "revokedAt": nullable_time,
                "revocationReason": nullable_text,
                "certificates": {"type": "array", "items": _ref("Certificate")},
            },
        },
        "CardCredentials": {
            "type": "object",
            "required": ["card", "credentials"],
            "properties": {
                "card": _ref("Card"),
                "credentials": {"type": "array", "items": _ref("Credential")},
                "revokedCertificates": {"type": "integer"},
            },
        },
        "Revocation": {
            "type": "object",
            "properties": {
                "reason": {
                    "enum": [*_REASONS, None],
                    "default": "unspecified",
                    "description": "RFC 5280 CRLReason name; absent or null: unspecified",
                }
            },
        },
        "Empty": {"type": "object"},
        "Challenge": {
            "type": "object",
            "required": ["challenge", "expiresAt"],
            "properties": {"challenge": _B64URL, "expiresAt": _TIME},
        },
        "Enrollment": {
            "type": "object",
            "required": ["activationCode", "publicKey", "cardDataSecret", "challenge", "signature"],
            "properties": {
                "activationCode": {"type": "string"},
                "publicKey": {**_B64URL, "description": "P-256 SubjectPublicKeyInfo DER"},
                "cardDataSecret": {**_B64URL, "description": "32 bytes"},
                "challenge": _B64URL,
                "signature": {
                    **_B64URL,
                    "description": "raw r||s over pop_message(enrollment, origin, challenge)",
                },
            },
        },
        "Renewal": {
            "type": "object",
            "required": ["certificate", "challenge", "signature"],
            "properties": {
                "certificate": {**_B64URL, "description": "current card certificate DER"},
                "challenge": _B64URL,
                "signature": {
                    **_B64URL,
                    "description": "raw r||s over pop_message(renewal, origin, challenge)",
                },
            },
        },
        "IssuedCredential": {
            "type": "object",
            "required": [
                "credentialId",
                "certificateChain",
                "fingerprint",
                "notAfter",
                "issuerName",
                "last4",
                "bin",
                "status",
            ],
            "properties": {
                "credentialId": {"type": "string"},
                "certificateChain": {"type": "array", "items": _B64URL, "minItems": 2},
                "fingerprint": _B64URL,
                "notAfter": _TIME,
                "issuerName": {"type": "string"},
                "last4": {"type": "string"},
                "bin": {"type": "string"},
                "status": {**_B64URL, "description": "DER OCSP response"},
            },
        },
    }


def _binary(media_type: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {media_type: {"schema": {"type": "string", "contentEncoding": "binary"}}},
    }


def openapi_document(settings: IssuerSettings) -> dict[str, Any]:
    """The OpenAPI 3.1 description of the issuer at ``settings.public_origin``."""
    card_id = _path_parameter("card_id", "card id (card_...)")
    credential_id = _path_parameter("credential_id", "credential id (cred_...)")
    enrollment_codes = (
        *_BODY_CODES,
        *_LIMIT_CODES,
        *_DB_CODES,
        "activation_code_invalid",
        "activation_code_expired",
        "activation_code_used",
        "activation_code_locked",
        "challenge_invalid",
        "public_key_malformed",
        "unsupported_key",
        "signature_malformed",
        "signature_invalid",
        "card_revoked",
        "card_expired",
        "credential_revoked",
        "enrollment_conflict",
    )
    renewal_codes = (
        *_BODY_CODES,
        *_LIMIT_CODES,
        *_DB_CODES,
        "credential_unknown",
        "credential_revoked",
        "card_expired",
        "cert_expired",
        "challenge_invalid",
        "signature_malformed",
        "signature_invalid",
    )
    paths: dict[str, Any] = {
        "/.well-known/cardcert-issuer": {
            "get": _operation(
                "Issuer metadata (docs/interfaces.md section 1)",
                responses={"200": _json(_ref("IssuerMetadata"), "Metadata")},
                tag="metadata",
            )
        },
        "/health": {
            "get": _operation(
                "Liveness and database check",
                responses={"200": _json(_ref("Health"), "Healthy")},
                codes=("service_unavailable",),
                tag="operations",
            )
        },
        "/metrics": {
            "get": _operation(
                "Prometheus metrics (text exposition format 0.0.4)",
                responses={"200": {"description": "Metrics", "content": {"text/plain": {}}}},
                tag="operations",
            )
        },
        "/openapi.json": {
            "get": _operation(
                "This document",
                responses={"200": _json({"type": "object"}, "OpenAPI 3.1")},
                tag="operations",
            )
        },
        "/v1/cards": {
            "post": _operation(
                "Register a card and issue a one-time activation code",
                body="CardRegistration",
                responses={
                    "201": _json(_ref("IssuedActivationCode"), "Card registered"),
                    "200": _json(_ref("IssuedActivationCode"), "Already registered: new code"),
                },
                codes=(
                    *_BODY_CODES,
                    *_AUTH_CODES,
                    *_DB_CODES,
                    "pan_invalid",
                    "expiry_invalid",
                    "security_code_invalid",
                    "name_invalid",
                    "bin_not_issued",
                    "card_expired",
                    "card_already_registered",
                    "card_revoked",
                ),
                secured=True,
                tag="back office",
            )
        },
        "/v1/cards/{card_id}/activation-codes": {
            "post": _operation(
                "Issue a new activation code (outstanding ones expire)",
                responses={"201": _json(_ref("IssuedActivationCode"), "New code")},
                codes=(*_AUTH_CODES, *_DB_CODES, "card_unknown", "card_revoked", "card_expired"),
                secured=True,
                parameters=[card_id],
                tag="back office",
            )
        },
        "/v1/cards/{card_id}/credentials": {
            "get": _operation(
                "A card's credentials and certificates",
                responses={"200": _json(_ref("CardCredentials"), "Credentials")},
                codes=(*_AUTH_CODES, *_DB_CODES, "card_unknown"),
                secured=True,
                parameters=[card_id],
                tag="back office",
            )
        },
        "/v1/cards/{card_id}/revoke": {
            "post": _operation(
                "Revoke a card: all its credentials, outstanding codes and future enrollment",
                body="Revocation",
                responses={"200": _json(_ref("CardCredentials"), "Revoked")},
                codes=(
                    *_BODY_CODES,
                    *_AUTH_CODES,
                    *_DB_CODES,
                    "card_unknown",
                    "revocation_reason_invalid",
                ),
                secured=True,
                parameters=[card_id],
                tag="back office",
            )
        },
        "/v1/credentials/{credential_id}/revoke": {
            "post": _operation(
                "Revoke one credential (all its certificates)",
                body="Revocation",
                responses={"200": _json(_ref("Credential"), "Revoked")},
                codes=(
                    *_BODY_CODES,
                    *_AUTH_CODES,
                    *_DB_CODES,
                    "credential_unknown",
                    "revocation_reason_invalid",
                ),
                secured=True,
                parameters=[credential_id],
                tag="back office",
            )
        },
        "/v1/enrollment/challenge": {
            "post": _operation(
                "A single-use challenge for enrollment or renewal (5 minutes)",
                body="Empty",
                responses={"200": _json(_ref("Challenge"), "Challenge")},
                codes=(*_BODY_CODES, *_LIMIT_CODES, *_DB_CODES),
                tag="cardholder",
            )
        },
        "/v1/enrollment": {
            "post": _operation(
                "Enroll a browser key with an activation code and proof of possession",
                body="Enrollment",
                responses={
                    "201": _json(_ref("IssuedCredential"), "Enrolled"),
                    "200": _json(_ref("IssuedCredential"), "Identical retry: same credential"),
                },
                codes=enrollment_codes,
                tag="cardholder",
            )
        },
        "/v1/credentials/renew": {
            "post": _operation(
                "Renew a card certificate: same key, same card binding",
                body="Renewal",
                responses={
                    "201": _json(_ref("IssuedCredential"), "Renewed"),
                    "200": _json(_ref("IssuedCredential"), "Already renewed: current certificate"),
                },
                codes=renewal_codes,
                tag="cardholder",
            )
        },
        "/ocsp": {
            "post": {
                "summary": "OCSP responder (RFC 6960), signed by the issuer CA",
                "tags": ["status"],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/ocsp-request": {
                            "schema": {"type": "string", "contentEncoding": "binary"}
                        }
                    },
                },
                "responses": {"200": _binary("application/ocsp-response", "OCSP response")},
            }
        },
        "/ocsp/{request}": {
            "get": {
                "summary": "OCSP GET (RFC 6960 appendix A.1): URL-encoded base64 DER request",
                "tags": ["status"],
                "parameters": [_path_parameter("request", "base64 of the DER OCSPRequest")],
                "responses": {"200": _binary("application/ocsp-response", "OCSP response")},
            }
        },
        "/status/{fingerprint}": {
            "get": _operation(
                "Current OCSP response for a card certificate, for stapling",
                responses={
                    "200": _binary(
                        "application/ocsp-response",
                        "DER OCSP response, nextUpdate = thisUpdate + statusFreshnessSeconds",
                    )
                },
                codes=("credential_unknown", *_DB_CODES),
                parameters=[_path_parameter("fingerprint", "base64url SHA-256 of the DER")],
                tag="status",
            )
        },
        "/crl": {
            "get": {
                "summary": "Certificate revocation list (RFC 5280), DER",
                "tags": ["status"],
                "responses": {"200": _binary("application/pkix-crl", "CRL")},
            }
        },
        "/sw.js": {
            "get": _operation(
                "The issuer's Service Worker script",
                responses={
                    "200": {"description": "JavaScript", "content": {"text/javascript": {}}}
                },
                codes=("not_found",),
                tag="browser",
            )
        },
        "/static/{path}": {
            "get": _operation(
                "Static files of the browser pages (js, css, svg, png, webmanifest, ...)",
                responses={"200": {"description": "The file, with its type"}},
                codes=("not_found",),
                parameters=[_path_parameter("path", "file below service_worker/static/")],
                tag="browser",
            )
        },
        "/enroll": {
            "get": {
                "summary": "Enrollment page",
                "tags": ["browser"],
                "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}},
            }
        },
        "/pay": {
            "get": {
                "summary": "Pay page: the not-enrolled fallback (the Service Worker answers first)",
                "tags": ["browser"],
                "parameters": [
                    {
                        "name": "request",
                        "in": "query",
                        "required": False,
                        "description": "base64url of the transaction request JSON",
                        "schema": {"type": "string"},
                    }
                ],
                "responses": {"200": {"description": "HTML", "content": {"text/html": {}}}},
            },
            "post": {
                "summary": "Form POST of a transaction request without a worker: see other",
                "tags": ["browser"],
                "requestBody": {
                    "content": {
                        "application/x-www-form-urlencoded": {
                            "schema": {
                                "type": "object",
                                "properties": {"request": {"type": "string"}},
                            }
                        }
                    }
                },
                "responses": {
                    "303": {"description": "Location: /pay?request=<base64url>"},
                    "default": _errors("request_malformed", "payload_too_large"),
                },
                "x-error-codes": ["request_malformed", "payload_too_large"],
            },
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": f"cardcert issuer ({settings.issuer_name})",
            "version": "1",
            "description": "Card registration, enrollment, renewal, revocation and status. "
            'Errors are {"error": {"code", "message"}} with stable codes.',
        },
        "servers": [{"url": settings.public_origin}],
        "paths": paths,
        "components": {
            "schemas": _schemas(),
            "securitySchemes": {
                "apiKey": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "back-office API key (python -m issuer create-api-key)",
                }
            },
        },
    }
