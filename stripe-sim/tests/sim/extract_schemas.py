#!/usr/bin/env python3
"""Extracts the component schemas the simulator's tests validate against
(and everything they reference) from Stripe's OpenAPI spec, so the tests do
not need the 5 MB spec at run time.

Source: stripe/openapi openapi/spec3.yaml at 63a6746 (API version 2023-08-16),
converted to JSON. Two Checkout Session properties Stripe added later (new
properties reach every API version) are added by hand from the field set of
openapi/fixtures3.json at stripe/openapi HEAD f6c2a48: `collected_information`
(only its `shipping_details`) and `discounts`. Usage:
    extract_schemas.py openapi-spec3-2023-08-16.json > stripe-schemas-2023-08-16.json
"""
import json
import sys

ROOTS = ["checkout.session", "payment_intent", "customer", "refund", "event", "error",
         "item", "payment_method", "charge", "webhook_endpoint", "coupon", "promotion_code",
         "shipping_rate", "discount", "tax_rate"]

ADDRESS = {"$ref": "#/components/schemas/address"}
NEWER_SESSION_PROPERTIES = {
    "collected_information": {
        "nullable": True,
        "type": "object",
        "properties": {
            "shipping_details": {
                "nullable": True,
                "type": "object",
                "required": ["address", "name"],
                "properties": {"address": ADDRESS, "name": {"type": "string"}},
            },
        },
    },
    "discounts": {
        "nullable": True,
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                "coupon": {"nullable": True, "type": "string"},
                "promotion_code": {"nullable": True, "type": "string"},
            },
        },
    },
}

schemas = json.load(open(sys.argv[1]))["components"]["schemas"]
kept = {}


def walk(value):
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "$ref":
                name = inner.rsplit("/", 1)[-1]
                if name not in kept:
                    kept[name] = schemas[name]
                    walk(schemas[name])
            else:
                walk(inner)
    elif isinstance(value, list):
        for inner in value:
            walk(inner)


def strip_docs(value):
    """Drops prose (string-valued description/title keys); property maps keep their keys."""
    if isinstance(value, dict):
        return {k: strip_docs(v) for k, v in value.items()
                if not (k in ("description", "title", "x-stripeResource") and not isinstance(v, dict))}
    if isinstance(value, list):
        return [strip_docs(v) for v in value]
    return value


schemas["checkout.session"]["properties"].update(NEWER_SESSION_PROPERTIES)
for root in ROOTS:
    kept[root] = schemas[root]
    walk(schemas[root])
json.dump(strip_docs(dict(sorted(kept.items()))), sys.stdout, separators=(",", ":"), sort_keys=True)
