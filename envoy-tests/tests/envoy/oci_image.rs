#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! `envoy/oci/build_layout.py` (what `make oci` runs) packs `dist/rolegate.wasm` into an OCI
//! image layout tarball that Istio and Envoy Gateway can pull once pushed. The tarball is read
//! back here with an independent ustar reader and gzip decoder, and every digest is recomputed.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use rolegate_testkit::workspace;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

const SCRIPT: &str = "envoy/oci/build_layout.py";

const MT_INDEX: &str = "application/vnd.oci.image.index.v1+json";
const MT_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const MT_IMAGE_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const MT_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const MT_WASM_CONFIG: &str = "application/vnd.module.wasm.config.v1+json";
const MT_WASM_LAYER: &str = "application/vnd.module.wasm.content.layer.v1+wasm";
const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// rolegate's version, the tag the builder gives the image by default: the root Cargo.toml's
/// `[package]` `version` (this package's own version is not the module's).
fn version() -> &'static str {
    static VERSION: OnceLock<String> = OnceLock::new();
    VERSION.get_or_init(|| {
        let manifest = std::fs::read_to_string(workspace::root().join("Cargo.toml")).unwrap();
        let package = manifest
            .split("\n[")
            .find(|table| table.starts_with("[package]") || table.starts_with("package]"))
            .expect("a [package] table");
        package
            .lines()
            .find_map(|line| line.strip_prefix("version = "))
            .map(|quoted| quoted.trim().trim_matches('"').to_owned())
            .expect("a version in [package]")
    })
}

/// The module (see `workspace::wasm_module`). Fails, never skips, when it is missing.
fn module_path() -> PathBuf {
    workspace::wasm_module().unwrap_or_else(|e| panic!("{e}"))
}

fn module() -> Vec<u8> {
    std::fs::read(module_path()).unwrap()
}

/// A fresh, empty directory under Cargo's per-target temp dir, removed when dropped.
fn scratch(name: &str) -> TempDir {
    let prefix = format!("oci_image-{name}-");
    tempfile::Builder::new()
        .prefix(&prefix)
        .tempdir_in(env!("CARGO_TARGET_TMPDIR"))
        .unwrap()
}

fn run_builder(args: &[&str]) -> Output {
    Command::new("python3")
        .current_dir(workspace::root())
        .arg(SCRIPT)
        .args(args)
        .output()
        .expect("run python3 (needed by `make oci`)")
}

/// Builds a layout tarball at `out` from the real module; returns (tarball bytes, stdout).
fn build(out: &Path, extra: &[&str]) -> (Vec<u8>, String) {
    let wasm = module_path();
    let mut args = vec![
        "--wasm",
        wasm.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = run_builder(&args);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{SCRIPT} failed ({}):\n{stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    (std::fs::read(out).unwrap(), stdout)
}

fn sha256_hex(data: &[u8]) -> String {
    Sha256::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// One member of a ustar archive.
struct Entry {
    name: String,
    typeflag: u8,
    mode: u64,
    mtime: u64,
    uid: u64,
    gid: u64,
    data: Vec<u8>,
}

fn octal(field: &[u8]) -> u64 {
    let text = std::str::from_utf8(field).unwrap();
    let text = text.trim_matches(|c: char| c == '\0' || c == ' ');
    u64::from_str_radix(text, 8).unwrap_or_else(|_| panic!("bad octal field {field:?}"))
}

fn cstr(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8(field[..end].to_vec()).unwrap()
}

/// A strict reader for plain ustar: every member is one 512-byte header (no PAX or GNU
/// extension headers, which oras's tar reader does not expect), checksums must match, and
/// the archive ends with zero blocks.
fn untar(archive: &[u8]) -> Vec<Entry> {
    assert_eq!(archive.len() % 512, 0, "tar size is not a multiple of 512");
    let mut entries = Vec::new();
    let mut at = 0;
    loop {
        let header = &archive[at..at + 512];
        if header.iter().all(|&b| b == 0) {
            assert!(
                archive[at..].iter().all(|&b| b == 0),
                "data after the end-of-archive marker"
            );
            return entries;
        }
        assert_eq!(&header[257..263], b"ustar\0", "not a POSIX ustar header");
        let mut sum: u64 = header.iter().map(|&b| u64::from(b)).sum();
        sum -= header[148..156].iter().map(|&b| u64::from(b)).sum::<u64>();
        sum += 8 * u64::from(b' ');
        assert_eq!(octal(&header[148..156]), sum, "bad header checksum");
        let typeflag = header[156];
        assert!(
            typeflag == b'0' || typeflag == b'5',
            "unexpected tar member type {:?}",
            typeflag as char
        );
        let prefix = cstr(&header[345..500]);
        let name = cstr(&header[0..100]);
        let name = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let size = usize::try_from(octal(&header[124..136])).unwrap();
        let start = at + 512;
        entries.push(Entry {
            name,
            typeflag,
            mode: octal(&header[100..108]),
            uid: octal(&header[108..116]),
            gid: octal(&header[116..124]),
            mtime: octal(&header[136..148]),
            data: archive[start..start + size].to_vec(),
        });
        at = start + size.div_ceil(512) * 512;
    }
}

fn gunzip(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(data)
        .read_to_end(&mut out)
        .expect("valid gzip (CRC and length checked)");
    out
}

/// The layout read back: `oci-layout`, `index.json` and the blobs by hex digest.
struct Layout {
    oci_layout: Value,
    index: Value,
    blobs: BTreeMap<String, Vec<u8>>,
}

impl Layout {
    fn read(tarball: &[u8]) -> Self {
        let mut files = BTreeMap::new();
        for entry in untar(tarball) {
            assert_eq!(
                (entry.mtime, entry.uid, entry.gid),
                (0, 0, 0),
                "{}: metadata not fixed",
                entry.name
            );
            if entry.typeflag == b'5' {
                assert!(
                    ["blobs/", "blobs/sha256/"].contains(&entry.name.as_str()),
                    "unexpected directory {}",
                    entry.name
                );
                continue;
            }
            assert_eq!(entry.mode, 0o644, "{}", entry.name);
            let previous = files.insert(entry.name.clone(), entry.data);
            assert!(previous.is_none(), "{} appears twice", entry.name);
        }
        let oci_layout = serde_json::from_slice(&files.remove("oci-layout").unwrap()).unwrap();
        let index = serde_json::from_slice(&files.remove("index.json").unwrap()).unwrap();
        let mut blobs = BTreeMap::new();
        for (name, data) in files {
            let hex = name
                .strip_prefix("blobs/sha256/")
                .unwrap_or_else(|| panic!("unexpected file {name}"));
            assert_eq!(
                sha256_hex(&data),
                hex,
                "blob {name} does not match its name"
            );
            blobs.insert(hex.to_owned(), data);
        }
        Self {
            oci_layout,
            index,
            blobs,
        }
    }

    /// The blob a descriptor points at, checking its digest and size.
    fn blob(&self, descriptor: &Value) -> &[u8] {
        let digest = descriptor["digest"].as_str().unwrap();
        let hex = digest
            .strip_prefix("sha256:")
            .unwrap_or_else(|| panic!("digest {digest} is not sha256"));
        let data = self
            .blobs
            .get(hex)
            .unwrap_or_else(|| panic!("blob {digest} missing"));
        assert_eq!(
            descriptor["size"].as_u64().unwrap(),
            data.len() as u64,
            "size of {digest}"
        );
        data
    }

    fn json(&self, descriptor: &Value) -> Value {
        serde_json::from_slice(self.blob(descriptor)).unwrap()
    }

    /// The manifest descriptor of `ref_name` in `index.json`.
    fn manifest_descriptor(&self, ref_name: &str) -> &Value {
        self.index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["annotations"][REF_NAME] == ref_name)
            .unwrap_or_else(|| panic!("no manifest named {ref_name} in index.json"))
    }
}

/// `manifest <ref>: sha256:<hex>` lines of the builder's output.
fn printed_manifests(stdout: &str) -> BTreeMap<String, String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_prefix("manifest "))
        .filter_map(|l| l.split_once(": sha256:"))
        .map(|(name, rest)| {
            let hex = rest.split_whitespace().next().unwrap();
            (name.to_owned(), format!("sha256:{hex}"))
        })
        .collect()
}

#[test]
fn the_layout_holds_both_wasm_image_variants() {
    let wasm = module();
    let dir = scratch("layout");
    let (tarball, stdout) = build(&dir.path().join("rolegate-oci.tar"), &[]);
    let layout = Layout::read(&tarball);

    assert_eq!(layout.oci_layout, json!({"imageLayoutVersion": "1.0.0"}));
    assert_eq!(layout.index["schemaVersion"], 2);
    assert_eq!(layout.index["mediaType"], MT_INDEX);
    let refs: Vec<&str> = layout.index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["annotations"][REF_NAME].as_str().unwrap())
        .collect();
    let wasm_ref = format!("{}-wasm", version());
    assert_eq!(refs, [version(), wasm_ref.as_str()], "ref names (the tags)");

    let mut referenced = BTreeSet::new();
    let mut note = |d: &Value| {
        let digest = d["digest"].as_str().unwrap().to_owned();
        referenced.insert(digest.trim_start_matches("sha256:").to_owned());
    };

    // compat: an ordinary OCI image whose one gzip'd tar layer holds only plugin.wasm.
    let desc = layout.manifest_descriptor(version());
    assert_eq!(desc["mediaType"], MT_MANIFEST);
    note(desc);
    let manifest = layout.json(desc);
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(manifest["mediaType"], MT_MANIFEST);
    assert_eq!(
        manifest["annotations"]["module.wasm.image/variant"],
        "compat"
    );
    assert_eq!(manifest["config"]["mediaType"], MT_IMAGE_CONFIG);
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1, "compat has exactly one layer");
    assert_eq!(layers[0]["mediaType"], MT_LAYER_GZIP);
    note(&manifest["config"]);
    note(&layers[0]);
    let layer_gz = layout.blob(&layers[0]);
    assert_eq!(
        &layer_gz[3..8],
        [0, 0, 0, 0, 0],
        "gzip header: no file name, mtime 0 (reproducible)"
    );
    let layer_tar = gunzip(layer_gz);
    let members = untar(&layer_tar);
    assert_eq!(members.len(), 1, "the compat layer holds one file");
    assert_eq!(members[0].name, "plugin.wasm");
    assert_eq!(members[0].typeflag, b'0');
    assert!(
        members[0].data == wasm,
        "plugin.wasm differs from the module"
    );
    let config = layout.json(&manifest["config"]);
    assert!(config["architecture"].is_string() && config["os"].is_string());
    assert_eq!(config["rootfs"]["type"], "layers");
    assert_eq!(
        config["rootfs"]["diff_ids"],
        json!([format!("sha256:{}", sha256_hex(&layer_tar))]),
        "diff_ids is the digest of the uncompressed layer"
    );

    // oci variant: wasm config, then exactly two layers (the config again and the raw
    // module), the shape Istio's and Envoy Gateway's fetchers require.
    let desc = layout.manifest_descriptor(&wasm_ref);
    assert_eq!(desc["mediaType"], MT_MANIFEST);
    note(desc);
    let manifest = layout.json(desc);
    assert_eq!(manifest["schemaVersion"], 2);
    assert_eq!(manifest["mediaType"], MT_MANIFEST);
    assert_eq!(manifest["config"]["mediaType"], MT_WASM_CONFIG);
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "the wasm artifact has exactly two layers");
    assert_eq!(layers[0]["mediaType"], MT_WASM_CONFIG);
    assert_eq!(layers[0]["digest"], manifest["config"]["digest"]);
    assert_eq!(layers[1]["mediaType"], MT_WASM_LAYER);
    assert_eq!(
        layers[1]["annotations"]["org.opencontainers.image.title"],
        "plugin.wasm"
    );
    note(&manifest["config"]);
    note(&layers[1]);
    assert!(
        layout.blob(&layers[1]) == wasm.as_slice(),
        "the wasm layer differs from the module"
    );
    let runtime = layout.json(&manifest["config"]);
    assert_eq!(runtime["type"], "envoy_proxy");

    let stored: BTreeSet<String> = layout.blobs.keys().cloned().collect();
    assert_eq!(stored, referenced, "every blob is referenced, none missing");

    // What the builder prints: the module's sha256 and the manifest digests to pin.
    let printed_module = stdout
        .lines()
        .find_map(|l| l.strip_prefix("module sha256: "))
        .and_then(|l| l.split_whitespace().next())
        .unwrap_or_else(|| panic!("no `module sha256:` line in:\n{stdout}"));
    assert_eq!(printed_module, sha256_hex(&wasm));
    let printed = printed_manifests(&stdout);
    let expected: BTreeMap<String, String> = [version(), wasm_ref.as_str()]
        .iter()
        .map(|r| {
            let digest = layout.manifest_descriptor(r)["digest"].as_str().unwrap();
            ((*r).to_owned(), digest.to_owned())
        })
        .collect();
    assert_eq!(printed, expected, "printed manifest digests");
}

#[test]
fn the_same_module_always_gives_the_same_tarball() {
    let dir = scratch("repro");
    let (first, _) = build(&dir.path().join("a.tar"), &[]);
    let (second, _) = build(&dir.path().join("b.tar"), &["--version", version()]);
    assert!(
        first == second,
        "two builds differ (sha256 {} vs {})",
        sha256_hex(&first),
        sha256_hex(&second)
    );

    // The single-variant layouts (for `crane push`, which wants one manifest) carry the very
    // same manifests, so the digests printed by `make oci` stay valid whichever is pushed.
    let all = Layout::read(&first);
    for (variant, ref_name) in [
        ("compat", version().to_owned()),
        ("wasm", format!("{}-wasm", version())),
    ] {
        let (tarball, _) = build(
            &dir.path().join(format!("{variant}.tar")),
            &["--variant", variant],
        );
        let one = Layout::read(&tarball);
        let manifests = one.index["manifests"].as_array().unwrap();
        assert_eq!(manifests.len(), 1, "--variant {variant}");
        assert_eq!(&manifests[0], all.manifest_descriptor(&ref_name));
    }
}

#[test]
fn a_missing_module_is_an_error_naming_make_build() {
    let dir = scratch("missing");
    let out = dir.path().join("x.tar");
    let output = run_builder(&[
        "--wasm",
        dir.path().join("absent.wasm").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "exit status {}", output.status);
    assert!(stderr.contains("make build"), "stderr: {stderr}");
    assert!(!out.exists());
}
