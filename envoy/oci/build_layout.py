#!/usr/bin/env python3
"""Package a proxy-wasm module as an OCI image layout tarball (no daemon, no network).

The layout holds the module twice, in the two Wasm image variants that Istio (WasmPlugin,
`url: oci://...`) and Envoy Gateway (EnvoyExtensionPolicy, `code.type: Image`) pull:

  <version>       compat variant: an ordinary OCI image, config
                  application/vnd.oci.image.config.v1+json and one
                  application/vnd.oci.image.layer.v1.tar+gzip layer holding only `plugin.wasm`.
  <version>-wasm  oci variant (solo-io Wasm artifact spec, as `wasme` wrote it): config
                  application/vnd.module.wasm.config.v1+json and exactly two layers, that config
                  blob again and the raw module as application/vnd.module.wasm.content.layer.v1+wasm.
                  Istio and Envoy Gateway reject this variant unless it has exactly two layers.

The output is byte-for-byte reproducible: same module and version, same tarball, same digests.
Standard library only (Python 3.11+).

Usage: build_layout.py --wasm dist/rolegate.wasm [--version X] --out dist/rolegate-oci.tar
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import json
import os
import re
import sys
import tarfile
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

OCI_LAYOUT_VERSION = "1.0.0"
MT_INDEX = "application/vnd.oci.image.index.v1+json"
MT_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_IMAGE_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_IMAGE_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_WASM_CONFIG = "application/vnd.module.wasm.config.v1+json"
MT_WASM_LAYER = "application/vnd.module.wasm.content.layer.v1+wasm"

ANN_REF_NAME = "org.opencontainers.image.ref.name"
ANN_TITLE = "org.opencontainers.image.title"
ANN_VERSION = "org.opencontainers.image.version"

# Istio extracts exactly this file name from the compat layer.
PLUGIN_FILE = "plugin.wasm"
RUNTIME_CONFIG_FILE = "runtime-config.json"
# The root id the module answers to (envoy/envoy.yaml: root_id: rolegate).
ROOT_ID = "rolegate"
WASM_MAGIC = b"\x00asm"
# OCI distribution-spec tag grammar.
TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")


def canonical_json(obj: object) -> bytes:
    """Sorted keys, no insignificant whitespace: stable bytes, stable digest."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def descriptor(media_type: str, data: bytes, annotations: dict[str, str] | None = None) -> dict:
    d = {"mediaType": media_type, "digest": "sha256:" + sha256_hex(data), "size": len(data)}
    if annotations:
        d["annotations"] = annotations
    return d


def tar_bytes(entries: list[tuple[str, bytes | None]]) -> bytes:
    """A plain ustar archive with fixed metadata. `None` content means a directory.

    Plain ustar (no PAX or GNU extension headers) on purpose: oras reads an OCI layout
    tarball assuming every entry has a single 512-byte header.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 0
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.type = tarfile.REGTYPE
                info.mode = 0o644
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def gzip_bytes(data: bytes) -> bytes:
    """gzip with header mtime 0 and no file name, so the bytes depend on the input only."""
    buf = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=buf, compresslevel=9, mtime=0) as gz:
        gz.write(data)
    return buf.getvalue()


def cargo_version(cargo_toml: Path) -> str:
    with cargo_toml.open("rb") as f:
        return tomllib.load(f)["package"]["version"]


def build(wasm: bytes, version: str, variants: tuple[str, ...]) -> tuple[bytes, dict]:
    """Returns the layout tarball and a summary of what is in it."""
    blobs: dict[str, bytes] = {}

    def add_blob(data: bytes) -> None:
        blobs[sha256_hex(data)] = data

    manifests: list[dict] = []
    summary: dict = {"module_sha256": sha256_hex(wasm), "module_size": len(wasm), "manifests": {}}

    if "compat" in variants:
        layer_tar = tar_bytes([(PLUGIN_FILE, wasm)])
        layer = gzip_bytes(layer_tar)
        config = canonical_json(
            {
                "architecture": "wasm",
                "os": "wasip1",
                "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha256_hex(layer_tar)]},
            }
        )
        manifest = canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": MT_MANIFEST,
                "config": descriptor(MT_IMAGE_CONFIG, config),
                "layers": [descriptor(MT_IMAGE_LAYER_GZIP, layer)],
                "annotations": {"module.wasm.image/variant": "compat", ANN_VERSION: version},
            }
        )
        for blob in (layer, config, manifest):
            add_blob(blob)
        ref = version
        manifests.append(descriptor(MT_MANIFEST, manifest, {ANN_REF_NAME: ref}))
        summary["manifests"][ref] = ("compat", "sha256:" + sha256_hex(manifest))

    if "wasm" in variants:
        runtime_config = canonical_json(
            {
                "type": "envoy_proxy",
                "abiVersions": ["proxy_abi_version_0_2_1"],
                "config": {"root_ids": [ROOT_ID]},
            }
        )
        manifest = canonical_json(
            {
                "schemaVersion": 2,
                "mediaType": MT_MANIFEST,
                "config": descriptor(MT_WASM_CONFIG, runtime_config),
                "layers": [
                    descriptor(MT_WASM_CONFIG, runtime_config, {ANN_TITLE: RUNTIME_CONFIG_FILE}),
                    descriptor(MT_WASM_LAYER, wasm, {ANN_TITLE: PLUGIN_FILE}),
                ],
                "annotations": {
                    "module.wasm.runtime/abi_version": "proxy_abi_version_0_2_1",
                    "module.wasm.runtime/type": "envoy_proxy",
                    ANN_VERSION: version,
                },
            }
        )
        for blob in (wasm, runtime_config, manifest):
            add_blob(blob)
        ref = version + "-wasm"
        manifests.append(descriptor(MT_MANIFEST, manifest, {ANN_REF_NAME: ref}))
        summary["manifests"][ref] = ("wasm artifact", "sha256:" + sha256_hex(manifest))

    index = canonical_json({"schemaVersion": 2, "mediaType": MT_INDEX, "manifests": manifests})
    layout = canonical_json({"imageLayoutVersion": OCI_LAYOUT_VERSION})
    entries: list[tuple[str, bytes | None]] = [
        ("oci-layout", layout),
        ("index.json", index),
        ("blobs/", None),
        ("blobs/sha256/", None),
    ]
    entries += [("blobs/sha256/" + hex_, blobs[hex_]) for hex_ in sorted(blobs)]
    return tar_bytes(entries), summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--wasm", required=True, type=Path, help="the module, e.g. dist/rolegate.wasm")
    p.add_argument("--version", help="tag to use (default: [package] version in Cargo.toml)")
    p.add_argument("--out", required=True, type=Path, help="tarball to write, e.g. dist/rolegate-oci.tar")
    p.add_argument(
        "--variant",
        choices=("all", "compat", "wasm"),
        default="all",
        help="all (default), or a single variant: crane push wants a layout with one manifest",
    )
    args = p.parse_args(argv)

    try:
        wasm = args.wasm.read_bytes()
    except FileNotFoundError:
        print(f"error: {args.wasm} not found: run `make build` first", file=sys.stderr)
        return 1
    if len(wasm) < 8 or wasm[:4] != WASM_MAGIC:
        print(f"error: {args.wasm} is not a Wasm module (no \\0asm header)", file=sys.stderr)
        return 1
    version = args.version or cargo_version(REPO / "Cargo.toml")
    # Both ref names must be valid registry tags (a SemVer `+build` suffix is not).
    if not TAG.fullmatch(version + "-wasm"):
        print(f"error: {version!r} does not make a valid OCI tag", file=sys.stderr)
        return 1
    variants = ("compat", "wasm") if args.variant == "all" else (args.variant,)

    tarball, summary = build(wasm, version, variants)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".tmp")
    tmp.write_bytes(tarball)
    os.replace(tmp, args.out)

    print(f"oci layout:    {args.out} ({len(tarball)} bytes, sha256:{sha256_hex(tarball)})")
    print(f"module sha256: {summary['module_sha256']}  ({args.wasm}, {summary['module_size']} bytes)")
    for ref, (variant, digest) in summary["manifests"].items():
        print(f"manifest {ref}: {digest}  ({variant} variant)")
    print("note: pin with the module sha256 for http(s):// URLs; for oci:// pulls (Istio WasmPlugin")
    print("note: `sha256:`, Envoy Gateway `image.sha256`, `@sha256:` pins) use the pushed tag's manifest digest.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
