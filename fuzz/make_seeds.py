#!/usr/bin/env python3
"""Writes fuzz/seeds/<target>/ from the shared test vectors (run from anywhere).

Usage: fuzz/make_seeds.py [VECTORS_ROOT]   (default: ../shared relative to the repository,
i.e. /work/shared). The seeds are committed; run this only to refresh them. The decision
target's seeds need signatures and come from `cargo +nightly run --example make_seeds` (in fuzz/).
"""
import glob
import hashlib
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
SHARED = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(REPO), "shared")
SEEDS = os.path.join(HERE, "seeds")
JWS = re.compile(rb"[A-Za-z0-9_\-+/=]{2,}\.[A-Za-z0-9_\-+/=]*\.[A-Za-z0-9_\-+/=]*")


def put(target, data, max_bytes=70000):
    if isinstance(data, str):
        data = data.encode()
    if len(data) > max_bytes:
        return
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from strings(v)


def key_sets(value):
    """Every object with a "keys" array, and JSON strings that hold one."""
    if isinstance(value, dict):
        if isinstance(value.get("keys"), list):
            yield value
        for v in value.values():
            yield from key_sets(v)
    elif isinstance(value, list):
        for v in value:
            yield from key_sets(v)
    elif isinstance(value, str) and '"keys"' in value:
        yield value


def main():
    vector_files = sorted(glob.glob(os.path.join(SHARED, "vectors", "**", "*"), recursive=True))
    vector_files += sorted(glob.glob(os.path.join(SHARED, "azure-real", "*")))
    tokens = set()
    for path in vector_files:
        if not os.path.isfile(path):
            continue
        with open(path, "rb") as f:
            raw = f.read()
        if path.endswith(".jwt"):
            tokens.add(raw.strip())
        if path.endswith(".json"):
            for s in strings(json.loads(raw)):
                for m in JWS.findall(s.encode()):
                    tokens.add(m)
    # Tokens: a few hundred, smallest first, plus every real Entra token.
    for t in sorted(tokens, key=lambda t: (len(t), t))[:400]:
        put("token_parse", t)
    for path in glob.glob(os.path.join(SHARED, "azure-real", "*.jwt")):
        with open(path, "rb") as f:
            put("token_parse", f.read().strip())

    sets = 0
    real = sorted(glob.glob(os.path.join(SHARED, "vectors", "jwks_real", "*.json")))
    real += sorted(glob.glob(os.path.join(SHARED, "azure-real", "*.json")))
    for path in real:
        with open(path, "rb") as f:
            put("jwks_parse", f.read())
            sets += 1
    for path in sorted(glob.glob(os.path.join(SHARED, "vectors", "**", "*.json"), recursive=True)):
        if "jwks_real" in path:
            continue
        with open(path, "rb") as f:
            doc = json.load(f)
        for ks in key_sets(doc):
            put("jwks_parse", ks if isinstance(ks, str) else json.dumps(ks, separators=(",", ":")), 20000)
    with open(os.path.join(SHARED, "vectors", "rfc", "rfc7520_cookbook", "jwk_3_3.rsa_public_key.json")) as f:
        put("jwks_parse", json.dumps({"keys": [json.load(f)]}))
    put("jwks_parse", '{"keys":[]}')
    put("jwks_parse", '{"keys":[{"kty":"RSA","kid":1},{"kty":"EC"},{}]}')

    # Discovery documents and shared records (shared_documents: first byte picks the kind).
    for doc in [
        b'{"issuer":"https://idp.example/","jwks_uri":"https://idp.example/keys"}',
        b'{"issuer":"https://idp.example/","jwks_uri":"/keys"}',
        b'{"issuer":"https://evil.example/","jwks_uri":"https://evil.example/keys"}',
        b'{"issuer":"","jwks_uri":"http://h"}',
    ]:
        put("shared_documents", b"\x01" + doc)
    ops = bytes([0]) + (5).to_bytes(8, "little") + (1000).to_bytes(8, "little")
    ops += bytes([0x81]) + (5).to_bytes(8, "little") + (2000).to_bytes(8, "little")
    ops += bytes([2]) + (5).to_bytes(8, "little") + (2 ** 64 - 2).to_bytes(8, "little")
    ops += bytes([3]) + (2 ** 63).to_bytes(8, "little") + (3000).to_bytes(8, "little")
    for rec in [
        b"v1 0 0 0 0 0 0 0 0 0",
        b"v1 3 1700000000000 9 2 7 42 11 12 1",
        b"v1 18446744073709551615 18446744073709551615 18446744073709551615 4294967295 18446744073709551615 18446744073709551615 18446744073709551615 18446744073709551615 1",
    ]:
        put("shared_documents", b"\x00" + rec + b"\x00" + ops)
        put("shared_documents", b"\x02" + rec)
    # The host's verify_signature answers (protobuf): true, false with an error text.
    put("shared_documents", b"\x03\x08\x01")
    put("shared_documents", b"\x03\x08\x00\x12\x02no")
    with open(os.path.join(SHARED, "vectors", "jwks_real", "google.jwks.json"), "rb") as f:
        put("shared_documents", b"\x02v1 1 5 600000 0 1 0 0 0 0\x00" + f.read())

    # Configurations: the README's example, and hand-written ones for each key source.
    readme = open(os.path.join(REPO, "README.md"), encoding="utf-8").read()
    for block in re.findall(r"```json\n(.*?)```", readme, re.S):
        if '"providers"' in block:
            put("config_parse", block)
    n = json.load(open(os.path.join(SHARED, "vectors", "rfc", "rfc7520_cookbook", "jwk_3_3.rsa_public_key.json")))
    rules = [{"match": {"prefix": "/healthz"}, "allow_anonymous": True},
             {"match": {"path": "/admin", "methods": ["GET"]}, "roles": ["a", "b"], "roles_match": "all"},
             {"match": {"prefix": "/"}}]
    configs = [
        {"providers": [{"name": "local", "issuer": "i", "audiences": ["a"], "local_jwks": {"keys": [n]}}], "rules": rules,
         "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}, {"name": "x-jwt"}],
         "claim_to_headers": [{"claim": "azp", "header": "x-client"}], "clock_skew_seconds": 3600,
         "max_token_bytes": 65536, "forward": True, "roles_claim": "scp", "dry_run": True},
        {"providers": [{"name": "r", "issuers": ["i1", "i2"], "audiences": ["a"],
                        "remote_jwks": {"cluster": "c", "uri": "https://idp/keys", "cache_duration_seconds": 1,
                                        "timeout_ms": 60000, "min_refetch_interval_seconds": 0, "max_jwks_bytes": 1024}}],
         "rules": rules[:2] + [{"name": "trial", "match": {"prefix": "/"}, "dry_run": True}]},
        {"providers": [{"name": "d", "issuer": "https://idp/", "audiences": ["a"],
                        "discovery": {"cluster": "c", "uri": "http://idp/.well-known/openid-configuration"}}],
         "rules": rules},
        {"providers": [{"name": "aad", "audiences": ["api://x"],
                        "azure_ad": {"tenant": "t-1", "cluster": "entra", "cloud": "china", "versions": ["v1", "v2"]}}],
         "rules": rules},
        {"providers": [{"name": "p p", "issuer": 1, "audiences": "a", "remote_jwks": {"cluster": "c", "uri": "ftp://x"}}],
         "rules": [{"match": {"prefix": "calc"}, "allow_anonymous": True, "roles": ["r"], "dry_run": 1}],
         "clock_skew_seconds": -1, "forward": "yes", "dry_run": "yes"},
    ]
    for c in configs:
        put("config_parse", json.dumps(c, indent=1))
    print(f"{len(tokens)} tokens found, {sets} key set files")
    for t in sorted(os.listdir(SEEDS)):
        print(t, len(os.listdir(os.path.join(SEEDS, t))))


main()
