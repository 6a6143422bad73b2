#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! The documentation is checked against the code, natively (no Envoy; `envoy-tests/tests/envoy/control_planes.rs`
//! runs what needs one):
//!
//! - every ```` ```json ```` block of README.md and docs/ is a rolegate configuration that
//!   `rolegate::Config::parse` accepts, the validation `rolegate config validate` runs;
//! - every Kubernetes manifest (envoy/istio/, envoy/envoy-gateway/, and YAML blocks of README.md
//!   and docs/ with `apiVersion` and `kind`) parses and carries what its CRD requires, its
//!   rolegate configuration passes the same validation, and every cluster that configuration
//!   names is one the manifests beside it create;
//! - every other YAML block of README.md and docs/ is a fragment found, as it is written, in a
//!   shipped example, which Envoy validates (`envoy-tests/tests/envoy/envoy_examples.rs`, and
//!   `envoy-tests/tests/envoy/control_planes.rs` for what Envoy Gateway adds to a bootstrap); a whole bootstrap
//!   belongs under envoy/;
//! - every relative link of README.md, CONTRIBUTING.md, docs/ and envoy/**/README.md reaches a
//!   file, and its `#anchor` a heading of it.
//!
//! Each check returns its problems; the last tests break real examples and assert that each
//! check reports them.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Component, Path, PathBuf};

use pulldown_cmark::{CodeBlockKind, Event, Options, Parser, Tag, TagEnd};
use serde::Deserialize;
use serde_json::{json, Value};

use rolegate_testkit::workspace;

// ---------------------------------------------------------------------------
// files

fn root() -> PathBuf {
    workspace::root()
}

/// `path` relative to the repository root, for messages.
fn shown(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// The files of `dir` whose names end with `suffix`, sorted.
fn files_in(dir: &Path, suffix: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("read {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|p| p.is_file() && p.to_string_lossy().ends_with(suffix))
        .collect();
    files.sort();
    files
}

/// Every `README.md` under `dir`, at any depth.
fn readmes_under(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read directory") {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            readmes_under(&path, found);
        } else if path.file_name().is_some_and(|n| n == "README.md") {
            found.push(path);
        }
    }
}

/// README.md and docs/*.md: the documents whose examples must be true.
fn example_documents() -> Vec<PathBuf> {
    let mut docs = vec![root().join("README.md")];
    docs.extend(files_in(&root().join("docs"), ".md"));
    docs
}

/// The documents whose links must resolve: the example documents, CONTRIBUTING.md if there
/// is one, and every README.md under envoy/.
fn linked_documents() -> Vec<PathBuf> {
    let mut docs = example_documents();
    let contributing = root().join("CONTRIBUTING.md");
    if contributing.is_file() {
        docs.push(contributing);
    }
    let mut readmes = Vec::new();
    readmes_under(&root().join("envoy"), &mut readmes);
    readmes.sort();
    docs.extend(readmes);
    docs
}

/// The shipped Kubernetes manifests.
fn manifest_files() -> Vec<PathBuf> {
    let mut files = files_in(&root().join("envoy/istio"), ".yaml");
    files.extend(files_in(&root().join("envoy/envoy-gateway"), ".yaml"));
    files
}

/// The shipped YAML a documentation fragment may quote: the Envoy examples and the manifests.
fn shipped_yaml_files() -> Vec<PathBuf> {
    let mut files = files_in(&root().join("envoy"), ".yaml");
    files.extend(manifest_files());
    files
}

// ---------------------------------------------------------------------------
// Markdown

/// A fenced code block: its info string (`json`, `yaml`, ...), its first line, its text.
struct Block {
    info: String,
    line: usize,
    text: String,
}

struct Markdown {
    path: PathBuf,
    blocks: Vec<Block>,
    /// Link and image destinations, with their line.
    links: Vec<(usize, String)>,
    /// The anchors GitHub gives the headings.
    anchors: BTreeSet<String>,
}

/// GitHub's anchor for a heading: lower case; letters, digits, `-` and `_` kept, spaces
/// become `-`, everything else goes.
fn github_slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn parse_markdown(path: &Path, text: &str) -> Markdown {
    let line_of = |offset: usize| text[..offset].matches('\n').count() + 1;
    let mut md = Markdown {
        path: path.to_path_buf(),
        blocks: Vec::new(),
        links: Vec::new(),
        anchors: BTreeSet::new(),
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut block: Option<Block> = None;
    let mut heading: Option<String> = None;
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    for (event, range) in Parser::new_ext(text, options).into_offset_iter() {
        match event {
            Event::Start(Tag::CodeBlock(kind)) => {
                let info = match kind {
                    CodeBlockKind::Fenced(info) => info.to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                block = Some(Block {
                    info,
                    line: line_of(range.start),
                    text: String::new(),
                });
            }
            Event::End(TagEnd::CodeBlock) => md.blocks.extend(block.take()),
            Event::Start(Tag::Heading { .. }) => heading = Some(String::new()),
            Event::End(TagEnd::Heading(_)) => {
                if let Some(h) = heading.take() {
                    let slug = github_slug(&h);
                    let n = seen.entry(slug.clone()).or_insert(0);
                    md.anchors.insert(match *n {
                        0 => slug,
                        k => format!("{slug}-{k}"),
                    });
                    *n += 1;
                }
            }
            Event::Text(t) | Event::Code(t) => {
                if let Some(b) = block.as_mut() {
                    b.text.push_str(&t);
                } else if let Some(h) = heading.as_mut() {
                    h.push_str(&t);
                }
            }
            Event::Start(Tag::Link { dest_url, .. })
            | Event::Start(Tag::Image { dest_url, .. }) => {
                md.links.push((line_of(range.start), dest_url.to_string()));
            }
            _ => {}
        }
    }
    md
}

fn markdown(path: &Path) -> Markdown {
    parse_markdown(path, &read(path))
}

/// The first word of a block's info string: its language.
fn language(block: &Block) -> &str {
    block.info.split_whitespace().next().unwrap_or("")
}

// ---------------------------------------------------------------------------
// links

/// `path` with `.` and `..` resolved, without touching the file system.
fn normalized(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

/// Every relative link of `md` that reaches no file, leaves the repository, or names an
/// anchor its target does not have.
fn link_problems(md: &Markdown) -> Vec<String> {
    let mut problems = Vec::new();
    let here = md.path.parent().expect("a document is in a directory");
    for (line, dest) in &md.links {
        let at = format!("{}:{line}: link {dest}", shown(&md.path));
        if dest.contains("://") || dest.starts_with("mailto:") {
            continue;
        }
        let (file, anchor) = match dest.split_once('#') {
            Some((file, anchor)) => (file, Some(anchor)),
            None => (dest.as_str(), None),
        };
        let target = if file.is_empty() {
            md.path.clone()
        } else {
            normalized(&here.join(file))
        };
        if !target.starts_with(root()) {
            problems.push(format!("{at}: leaves the repository"));
            continue;
        }
        if !file.is_empty() && !target.exists() {
            problems.push(format!("{at}: {} does not exist", shown(&target)));
            continue;
        }
        let Some(anchor) = anchor else { continue };
        if target.extension().is_none_or(|e| e != "md") {
            problems.push(format!("{at}: an anchor into a file that is not Markdown"));
            continue;
        }
        let anchors = if target == md.path {
            md.anchors.clone()
        } else {
            markdown(&target).anchors
        };
        if !anchors.contains(anchor) {
            problems.push(format!(
                "{at}: {} has no heading #{anchor} (it has: {})",
                shown(&target),
                anchors.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    problems
}

// ---------------------------------------------------------------------------
// rolegate configurations

/// Why `config` is not a configuration `rolegate config validate` accepts, if it is not.
fn config_problems(config: &[u8]) -> Option<String> {
    match rolegate::Config::parse(config) {
        Ok(_) => None,
        Err(errors) => Some(
            errors
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; "),
        ),
    }
}

/// Every ```` ```json ```` block of `md` that is not a valid configuration.
fn json_block_problems(md: &Markdown) -> Vec<String> {
    md.blocks
        .iter()
        .filter(|b| language(b) == "json")
        .filter_map(|b| {
            config_problems(b.text.as_bytes()).map(|why| {
                format!(
                    "{}:{}: a ```json block must be a rolegate configuration: {why}",
                    shown(&md.path),
                    b.line
                )
            })
        })
        .collect()
}

// ---------------------------------------------------------------------------
// YAML

/// The documents of a YAML text, as JSON values (a document that is only a comment is null).
fn yaml_documents(text: &str) -> Result<Vec<Value>, String> {
    serde_norway::Deserializer::from_str(text)
        .map(|doc| Value::deserialize(doc).map_err(|e| e.to_string()))
        .filter(|v| !matches!(v, Ok(Value::Null)))
        .collect()
}

fn yaml_file(path: &Path) -> Vec<Value> {
    yaml_documents(&read(path)).unwrap_or_else(|e| panic!("{}: not YAML: {e}", shown(path)))
}

/// Whether `part` is in `whole` as written: `part`'s mappings are sub-mappings (every key with a
/// value contained in the other's), each element of its sequences is contained in an element
/// of the other's, scalars are equal.
fn contained(part: &Value, whole: &Value) -> bool {
    match (part, whole) {
        (Value::Object(p), Value::Object(w)) => p
            .iter()
            .all(|(k, pv)| w.get(k).is_some_and(|wv| contained(pv, wv))),
        (Value::Array(p), Value::Array(w)) => {
            p.iter().all(|pv| w.iter().any(|wv| contained(pv, wv)))
        }
        (p, w) => p == w,
    }
}

/// Whether `part` is contained in `whole` or in any value nested in it.
fn found_in(part: &Value, whole: &Value) -> bool {
    contained(part, whole)
        || match whole {
            Value::Object(m) => m.values().any(|v| found_in(part, v)),
            Value::Array(a) => a.iter().any(|v| found_in(part, v)),
            _ => false,
        }
}

/// What a YAML block of the documentation is.
#[derive(Debug, PartialEq)]
enum YamlKind {
    Manifests(Vec<Value>),
    Bootstrap(Value),
    Fragment(Value),
}

fn yaml_kind(docs: Vec<Value>) -> YamlKind {
    if docs
        .iter()
        .any(|d| d.get("apiVersion").is_some() || d.get("kind").is_some())
    {
        YamlKind::Manifests(docs)
    } else if docs.len() == 1 && docs[0].get("static_resources").is_some() {
        YamlKind::Bootstrap(docs[0].clone())
    } else {
        YamlKind::Fragment(Value::Array(docs))
    }
}

/// The YAML blocks of `md`, each with where it is.
fn yaml_blocks(md: &Markdown) -> Vec<(String, Result<YamlKind, String>)> {
    md.blocks
        .iter()
        .filter(|b| matches!(language(b), "yaml" | "yml"))
        .map(|b| {
            (
                format!("{}:{}", shown(&md.path), b.line),
                yaml_documents(&b.text).map(yaml_kind),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------
// manifests

/// The value at `path` (`spec.wasm.url`; a number picks a sequence element).
fn at<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    path.split('.')
        .try_fold(v, |v, key| match key.parse::<usize>() {
            Ok(i) => v.get(i),
            Err(_) => v.get(key),
        })
}

fn text_at<'v>(v: &'v Value, path: &str) -> Option<&'v str> {
    at(v, path).and_then(Value::as_str)
}

fn items<'v>(v: &'v Value, path: &str) -> &'v [Value] {
    at(v, path)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// A manifest's problems go here, each naming the manifest.
struct Report<'a> {
    what: String,
    problems: &'a mut Vec<String>,
}

impl Report<'_> {
    fn problem(&mut self, why: impl std::fmt::Display) {
        self.problems.push(format!("{}: {why}", self.what));
    }

    /// `path` must hold a non-empty string.
    fn text(&mut self, m: &Value, path: &str) {
        if text_at(m, path).is_none_or(str::is_empty) {
            self.problem(format!("{path} is required (a non-empty string)"));
        }
    }

    /// `path`, if present, must be one of `allowed`.
    fn one_of(&mut self, m: &Value, path: &str, allowed: &[&str]) {
        if let Some(v) = at(m, path) {
            if !v.as_str().is_some_and(|s| allowed.contains(&s)) {
                self.problem(format!("{path} is {v}, not one of {allowed:?}"));
            }
        }
    }

    /// Every element of the sequence at `path` must hold each of `fields`.
    fn each_has(&mut self, m: &Value, path: &str, fields: &[&str]) {
        for (i, item) in items(m, path).iter().enumerate() {
            for field in fields {
                if item.get(field).is_none_or(Value::is_null) {
                    self.problem(format!("{path}[{i}].{field} is required"));
                }
            }
        }
    }

    /// `path`, if present, must be 64 lower-case hex digits (Istio's and Envoy Gateway's
    /// pattern for a digest).
    fn sha256(&mut self, m: &Value, path: &str) {
        if let Some(v) = at(m, path) {
            let ok = v.as_str().is_some_and(|s| {
                s.len() == 64
                    && s.bytes()
                        .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            });
            if !ok {
                self.problem(format!("{path} is {v}, not 64 lower-case hex digits"));
            }
        }
    }

    /// The rolegate configuration at `path` must be there and valid; returns it.
    fn rolegate_config<'v>(&mut self, m: &'v Value, path: &str) -> Option<&'v Value> {
        let Some(config) = at(m, path) else {
            self.problem(format!("{path}: the rolegate configuration is missing"));
            return None;
        };
        if let Some(why) = config_problems(config.to_string().as_bytes()) {
            self.problem(format!("{path}: not a valid rolegate configuration: {why}"));
        }
        Some(config)
    }
}

/// The clusters a rolegate configuration sends its key-set calls to.
fn key_clusters(config: &Value) -> Vec<String> {
    let mut clusters = Vec::new();
    for provider in items(config, "providers") {
        for path in [
            "remote_jwks.cluster",
            "discovery.cluster",
            "discovery.jwks_cluster",
            "azure_ad.cluster",
        ] {
            clusters.extend(text_at(provider, path).map(String::from));
        }
    }
    clusters
}

fn namespace(m: &Value) -> &str {
    text_at(m, "metadata.namespace").unwrap_or("default")
}

/// The manifest of `kind` named `name` in `namespace` among `all`.
fn find<'v>(all: &'v [Value], kind: &str, name: &str, ns: &str) -> Option<&'v Value> {
    all.iter().find(|m| {
        text_at(m, "kind") == Some(kind)
            && text_at(m, "metadata.name") == Some(name)
            && namespace(m) == ns
    })
}

/// An Istio key-set cluster `outbound|<port>||<host>` must be created by a ServiceEntry among
/// `all` for that host and port, visible in the plugin's namespace, and have a DestinationRule
/// that originates TLS (rolegate's own call is plain HTTP).
fn istio_cluster(r: &mut Report<'_>, cluster: &str, ns: &str, all: &[Value]) {
    let parts: Vec<&str> = cluster.split('|').collect();
    let (Some(&"outbound"), Some(port), Some(&""), Some(host), 4) = (
        parts.first(),
        parts.get(1).and_then(|p| p.parse::<u64>().ok()),
        parts.get(2),
        parts.get(3),
        parts.len(),
    ) else {
        r.problem(format!(
            "cluster {cluster:?} is not an Istio service cluster outbound|<port>||<host>"
        ));
        return;
    };
    let visible = |m: &Value| {
        namespace(m) == ns
            || items(m, "spec.exportTo")
                .iter()
                .any(|e| e.as_str() == Some("*"))
    };
    let service_entry = all.iter().any(|m| {
        text_at(m, "kind") == Some("ServiceEntry")
            && visible(m)
            && items(m, "spec.hosts")
                .iter()
                .any(|h| h.as_str() == Some(host))
            && items(m, "spec.ports")
                .iter()
                .any(|p| p.get("number").and_then(Value::as_u64) == Some(port))
    });
    if !service_entry {
        r.problem(format!(
            "cluster {cluster:?}: no ServiceEntry beside it for host {host} port {port}"
        ));
    }
    let tls = all.iter().any(|m| {
        text_at(m, "kind") == Some("DestinationRule")
            && visible(m)
            && text_at(m, "spec.host") == Some(host)
            && matches!(
                text_at(m, "spec.trafficPolicy.tls.mode"),
                Some("SIMPLE" | "MUTUAL")
            )
    });
    if !tls {
        r.problem(format!(
            "cluster {cluster:?}: no DestinationRule beside it originating TLS to {host}"
        ));
    }
}

/// The static clusters an EnvoyProxy's bootstrap adds.
fn bootstrap_clusters(r: &mut Report<'_>, envoy_proxy: &Value) -> Vec<String> {
    let Some(text) = text_at(envoy_proxy, "spec.bootstrap.value") else {
        return Vec::new();
    };
    match yaml_documents(text) {
        Ok(docs) => docs
            .iter()
            .flat_map(|d| items(d, "static_resources.clusters"))
            .filter_map(|c| text_at(c, "name").map(String::from))
            .collect(),
        Err(e) => {
            r.problem(format!("spec.bootstrap.value is not YAML: {e}"));
            Vec::new()
        }
    }
}

/// An Envoy Gateway key-set cluster must be a static cluster of the bootstrap that the
/// EnvoyProxy of every Gateway of every targeted route adds.
fn gateway_clusters(r: &mut Report<'_>, policy: &Value, clusters: &[String], all: &[Value]) {
    let ns = namespace(policy);
    for target in items(policy, "spec.targetRefs") {
        let kind = text_at(target, "kind").unwrap_or("");
        let name = text_at(target, "name").unwrap_or("");
        let gateways: Vec<&Value> = match kind {
            "Gateway" => find(all, "Gateway", name, ns).into_iter().collect(),
            "HTTPRoute" | "GRPCRoute" => {
                let Some(route) = find(all, kind, name, ns) else {
                    r.problem(format!("targetRefs: no {kind} {ns}/{name} beside it"));
                    continue;
                };
                items(route, "spec.parentRefs")
                    .iter()
                    .filter_map(|p| text_at(p, "name"))
                    .filter_map(|g| find(all, "Gateway", g, ns))
                    .collect()
            }
            _ => Vec::new(),
        };
        if gateways.is_empty() {
            r.problem(format!("targetRefs {kind} {name}: no Gateway beside it"));
        }
        for gateway in gateways {
            let proxy = text_at(gateway, "spec.infrastructure.parametersRef.name")
                .and_then(|p| find(all, "EnvoyProxy", p, ns));
            let Some(proxy) = proxy else {
                r.problem(format!(
                    "Gateway {}: no EnvoyProxy beside it through infrastructure.parametersRef, \
                     so nothing adds the key-set clusters {clusters:?}",
                    text_at(gateway, "metadata.name").unwrap_or("")
                ));
                continue;
            };
            let defined = bootstrap_clusters(r, proxy);
            for cluster in clusters {
                if !defined.contains(cluster) {
                    r.problem(format!(
                        "cluster {cluster:?} is not in the bootstrap of EnvoyProxy {} (it adds {defined:?})",
                        text_at(proxy, "metadata.name").unwrap_or("")
                    ));
                }
            }
        }
    }
}

const ISTIO_PHASES: &[&str] = &["UNSPECIFIED_PHASE", "AUTHN", "AUTHZ", "STATS"];
const ISTIO_FAIL: &[&str] = &["FAIL_CLOSE", "FAIL_OPEN", "FAIL_RELOAD"];
const ISTIO_MODES: &[&str] = &["UNDEFINED", "CLIENT", "SERVER", "CLIENT_AND_SERVER"];
const ISTIO_PULL: &[&str] = &["UNSPECIFIED_POLICY", "IfNotPresent", "Always"];

/// What Istio's WasmPlugin and TrafficExtension share: targeting and traffic selection.
fn istio_targeting(r: &mut Report<'_>, m: &Value) {
    if at(m, "spec.selector").is_some() && at(m, "spec.targetRefs").is_some() {
        r.problem("only one of selector and targetRefs may be set");
    }
    r.each_has(m, "spec.targetRefs", &["kind", "name"]);
    for (i, _) in items(m, "spec.match").iter().enumerate() {
        r.one_of(m, &format!("spec.match.{i}.mode"), ISTIO_MODES);
        r.each_has(m, &format!("spec.match.{i}.ports"), &["number"]);
    }
}

/// The problems of one manifest; `all` holds the manifests beside it (cross references).
fn manifest_problems(where_: &str, m: &Value, all: &[Value], problems: &mut Vec<String>) {
    let kind = text_at(m, "kind").unwrap_or("");
    let api = text_at(m, "apiVersion").unwrap_or("");
    let name = text_at(m, "metadata.name").unwrap_or("");
    let mut r = Report {
        what: format!("{where_}: {kind} {name}"),
        problems,
    };
    r.text(m, "apiVersion");
    r.text(m, "kind");
    r.text(m, "metadata.name");
    if !at(m, "spec").is_some_and(Value::is_object) {
        r.problem("spec is required");
        return;
    }
    let ns = namespace(m).to_string();
    let api_of = |known: &[&str]| known.contains(&api);
    match kind {
        "WasmPlugin" if api_of(&["extensions.istio.io/v1alpha1"]) => {
            r.text(m, "spec.url");
            r.sha256(m, "spec.sha256");
            r.one_of(m, "spec.phase", ISTIO_PHASES);
            r.one_of(m, "spec.failStrategy", ISTIO_FAIL);
            r.one_of(m, "spec.imagePullPolicy", ISTIO_PULL);
            istio_targeting(&mut r, m);
            if let Some(config) = r.rolegate_config(m, "spec.pluginConfig") {
                for cluster in key_clusters(config) {
                    istio_cluster(&mut r, &cluster, &ns, all);
                }
            }
        }
        "TrafficExtension" if api_of(&["extensions.istio.io/v1alpha1"]) => {
            if at(m, "spec.wasm").is_some() == at(m, "spec.lua").is_some() {
                r.problem("exactly one of wasm and lua must be set");
            }
            if items(m, "spec.targetRefs").len() > 16 {
                r.problem("targetRefs holds at most 16 references");
            }
            r.text(m, "spec.wasm.url");
            r.sha256(m, "spec.wasm.sha256");
            r.one_of(m, "spec.phase", &["UNSPECIFIED", "AUTHN", "AUTHZ", "STATS"]);
            r.one_of(m, "spec.wasm.failStrategy", ISTIO_FAIL);
            r.one_of(m, "spec.wasm.imagePullPolicy", ISTIO_PULL);
            istio_targeting(&mut r, m);
            if let Some(config) = r.rolegate_config(m, "spec.wasm.pluginConfig") {
                for cluster in key_clusters(config) {
                    istio_cluster(&mut r, &cluster, &ns, all);
                }
            }
        }
        "ServiceEntry"
            if api_of(&[
                "networking.istio.io/v1",
                "networking.istio.io/v1beta1",
                "networking.istio.io/v1alpha3",
            ]) =>
        {
            if items(m, "spec.hosts").is_empty() {
                r.problem("spec.hosts is required (at least one host)");
            }
            r.each_has(m, "spec.ports", &["number", "name"]);
        }
        "DestinationRule"
            if api_of(&[
                "networking.istio.io/v1",
                "networking.istio.io/v1beta1",
                "networking.istio.io/v1alpha3",
            ]) =>
        {
            r.text(m, "spec.host");
        }
        "EnvoyExtensionPolicy" if api_of(&["gateway.envoyproxy.io/v1alpha1"]) => {
            let targets = ["targetRef", "targetRefs", "targetSelectors"]
                .iter()
                .filter(|t| at(m, &format!("spec.{t}")).is_some())
                .count();
            if targets != 1 {
                r.problem("exactly one of targetRef, targetRefs and targetSelectors must be set");
            }
            r.each_has(m, "spec.targetRefs", &["group", "kind", "name"]);
            for (i, target) in items(m, "spec.targetRefs").iter().enumerate() {
                r.one_of(
                    m,
                    &format!("spec.targetRefs.{i}.group"),
                    &["gateway.networking.k8s.io"],
                );
                if target.get("kind").is_some() {
                    r.one_of(
                        m,
                        &format!("spec.targetRefs.{i}.kind"),
                        &[
                            "Gateway",
                            "ListenerSet",
                            "HTTPRoute",
                            "GRPCRoute",
                            "UDPRoute",
                            "TCPRoute",
                            "TLSRoute",
                        ],
                    );
                }
            }
            let wasms = items(m, "spec.wasm");
            if wasms.is_empty() {
                r.problem("spec.wasm: rolegate's extension is missing");
            }
            for i in 0..wasms.len() {
                let code = format!("spec.wasm.{i}.code");
                r.text(m, &format!("{code}.type"));
                r.one_of(m, &format!("{code}.type"), &["HTTP", "Image"]);
                for (ty, field) in [("HTTP", "http"), ("Image", "image")] {
                    let is = text_at(m, &format!("{code}.type")) == Some(ty);
                    if is != at(m, &format!("{code}.{field}")).is_some() {
                        r.problem(format!("{code}: type {ty} goes with {field}, and only it"));
                    }
                }
                for field in ["http", "image"] {
                    if at(m, &format!("{code}.{field}")).is_some() {
                        r.text(m, &format!("{code}.{field}.url"));
                        r.sha256(m, &format!("{code}.{field}.sha256"));
                    }
                }
                if let Some(v) = at(m, &format!("spec.wasm.{i}.failOpen")) {
                    if !v.is_boolean() {
                        r.problem(format!("spec.wasm.{i}.failOpen must be a boolean"));
                    }
                }
                if let Some(config) = r.rolegate_config(m, &format!("spec.wasm.{i}.config")) {
                    gateway_clusters(&mut r, m, &key_clusters(config), all);
                }
            }
        }
        "EnvoyProxy" if api_of(&["gateway.envoyproxy.io/v1alpha1"]) => {
            if at(m, "spec.bootstrap").is_some() {
                r.one_of(m, "spec.bootstrap.type", &["Merge", "Replace", "JSONPatch"]);
                if text_at(m, "spec.bootstrap.type") == Some("JSONPatch") {
                    if items(m, "spec.bootstrap.jsonPatches").is_empty() {
                        r.problem("spec.bootstrap.jsonPatches is required with type JSONPatch");
                    }
                } else {
                    r.text(m, "spec.bootstrap.value");
                    bootstrap_clusters(&mut r, m);
                }
            }
        }
        "Gateway"
            if api_of(&[
                "gateway.networking.k8s.io/v1",
                "gateway.networking.k8s.io/v1beta1",
            ]) =>
        {
            r.text(m, "spec.gatewayClassName");
            if items(m, "spec.listeners").is_empty() {
                r.problem("spec.listeners is required (at least one listener)");
            }
            r.each_has(m, "spec.listeners", &["name", "port", "protocol"]);
            if at(m, "spec.infrastructure.parametersRef").is_some() {
                for field in ["group", "kind", "name"] {
                    r.text(m, &format!("spec.infrastructure.parametersRef.{field}"));
                }
            }
        }
        "HTTPRoute"
            if api_of(&[
                "gateway.networking.k8s.io/v1",
                "gateway.networking.k8s.io/v1beta1",
            ]) =>
        {
            r.each_has(m, "spec.parentRefs", &["name"]);
            for (i, _) in items(m, "spec.rules").iter().enumerate() {
                r.each_has(m, &format!("spec.rules.{i}.backendRefs"), &["name"]);
            }
        }
        _ => r.problem(format!(
            "{kind} {api} is a kind this test does not know: give it the checks its CRD requires"
        )),
    }
}

/// The problems of a set of manifests that refer to each other.
fn manifests_problems(where_: &str, all: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    for m in all {
        manifest_problems(where_, m, all, &mut problems);
    }
    problems
}

/// The shipped manifests, by directory: the Istio ones refer to each other, and so do the
/// Envoy Gateway ones.
fn shipped_manifests() -> Vec<(String, Vec<Value>)> {
    ["envoy/istio", "envoy/envoy-gateway"]
        .iter()
        .map(|dir| {
            let all = files_in(&root().join(dir), ".yaml")
                .iter()
                .flat_map(|f| yaml_file(f))
                .collect();
            (dir.to_string(), all)
        })
        .collect()
}

/// A documentation fragment not found as written in any shipped YAML.
fn fragment_problem(
    where_: &str,
    fragment: &Value,
    shipped: &[(PathBuf, Vec<Value>)],
) -> Option<String> {
    let docs = fragment.as_array().map_or(&[][..], Vec::as_slice);
    let found = docs.iter().all(|part| {
        shipped
            .iter()
            .any(|(_, values)| values.iter().any(|whole| found_in(part, whole)))
    });
    (!found).then(|| {
        format!(
            "{where_}: this YAML is neither a manifest nor an Envoy bootstrap, and no shipped \
             example ({}) holds it as written: {fragment}",
            shipped
                .iter()
                .map(|(p, _)| shown(p))
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

fn shipped_yaml() -> Vec<(PathBuf, Vec<Value>)> {
    shipped_yaml_files()
        .into_iter()
        .map(|f| {
            let values = yaml_file(&f);
            (f, values)
        })
        .collect()
}

/// Every YAML block of `md` that is wrong: not YAML, a manifest with problems, or a fragment
/// no shipped example holds. Returns the problems and how many blocks there were.
fn yaml_block_problems(md: &Markdown, shipped: &[(PathBuf, Vec<Value>)]) -> (Vec<String>, usize) {
    let mut problems = Vec::new();
    let blocks = yaml_blocks(md);
    for (where_, kind) in &blocks {
        match kind {
            Err(e) => problems.push(format!("{where_}: not YAML: {e}")),
            Ok(YamlKind::Manifests(all)) => problems.extend(manifests_problems(where_, all)),
            Ok(YamlKind::Bootstrap(_)) => problems.push(format!(
                "{where_}: a whole Envoy bootstrap belongs under envoy/, where \
                 envoy-tests/tests/envoy/envoy_examples.rs runs envoy --mode validate on it; link it from here"
            )),
            Ok(YamlKind::Fragment(f)) => problems.extend(fragment_problem(where_, f, shipped)),
        }
    }
    (problems, blocks.len())
}

fn assert_none(problems: &[String], what: &str) {
    assert!(
        problems.is_empty(),
        "{what}: {} problem(s):\n{}",
        problems.len(),
        problems.join("\n")
    );
}

// ---------------------------------------------------------------------------
// the documentation as it is

#[test]
fn every_json_example_is_a_valid_configuration() {
    let mut problems = Vec::new();
    let mut checked = 0;
    for doc in example_documents() {
        let md = markdown(&doc);
        checked += md.blocks.iter().filter(|b| language(b) == "json").count();
        problems.extend(json_block_problems(&md));
    }
    assert_none(&problems, "JSON examples");
    // README's example and the configuration reference's two.
    assert!(checked >= 3, "only {checked} JSON examples found");
}

#[test]
fn every_shipped_manifest_carries_what_its_crd_requires() {
    let mut problems = Vec::new();
    let mut kinds = BTreeSet::new();
    for (dir, all) in shipped_manifests() {
        kinds.extend(
            all.iter()
                .filter_map(|m| text_at(m, "kind").map(String::from)),
        );
        problems.extend(manifests_problems(&dir, &all));
    }
    assert_none(&problems, "shipped manifests");
    let want: BTreeSet<String> = [
        "WasmPlugin",
        "TrafficExtension",
        "ServiceEntry",
        "DestinationRule",
        "EnvoyExtensionPolicy",
        "EnvoyProxy",
        "Gateway",
        "HTTPRoute",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(kinds, want, "the kinds of the shipped manifests");
}

#[test]
fn every_yaml_example_is_a_manifest_a_bootstrap_or_a_quote_of_a_shipped_example() {
    let shipped = shipped_yaml();
    let mut problems = Vec::new();
    let mut checked = 0;
    for doc in example_documents() {
        let (p, n) = yaml_block_problems(&markdown(&doc), &shipped);
        problems.extend(p);
        checked += n;
    }
    assert_none(&problems, "YAML examples");
    // The connection manager's host settings (Hosts) and the access log (Rolling out).
    assert!(checked >= 2, "only {checked} YAML examples found");
}

#[test]
fn every_relative_link_resolves() {
    let mut problems = Vec::new();
    let mut checked = 0;
    let docs = linked_documents();
    for doc in &docs {
        let md = markdown(doc);
        checked += md.links.len();
        problems.extend(link_problems(&md));
    }
    assert_none(&problems, "links");
    assert!(docs.len() >= 9, "documents: {docs:?}");
    assert!(checked >= 60, "only {checked} links found");
}

#[test]
fn the_readme_is_short_and_leads_to_the_demo_and_the_deployment_page() {
    let path = root().join("README.md");
    let text = read(&path);
    assert!(text.len() <= 15 * 1024, "README.md is {} bytes", text.len());
    let md = parse_markdown(&path, &text);
    let targets: Vec<&str> = md.links.iter().map(|(_, d)| d.as_str()).collect();
    for page in [
        "docs/configuration.md",
        "docs/deploying.md",
        "docs/rolling-out.md",
        "docs/security.md",
        "docs/cli.md",
        "docs/performance.md",
    ] {
        assert!(targets.contains(&page), "README.md links no {page}");
    }
    assert!(text.contains("make demo"), "README names make demo");
    assert!(
        !text.contains("2026-") && !text.contains("2025-"),
        "README.md holds dated history; it belongs in BENCHMARKS.md and git"
    );
}

// ---------------------------------------------------------------------------
// each check catches a broken example

/// The README's configuration example.
fn readme_config() -> String {
    let md = markdown(&root().join("README.md"));
    md.blocks
        .iter()
        .find(|b| language(b) == "json")
        .expect("README.md has a JSON example")
        .text
        .clone()
}

#[test]
fn a_broken_json_example_is_reported() {
    let good = readme_config();
    assert!(config_problems(good.as_bytes()).is_none());
    let broken = good.replacen("\"rules\"", "\"rulez\"", 1);
    assert_ne!(broken, good);
    let path = root().join("docs/broken.md");
    let md = parse_markdown(&path, &format!("# x\n\n```json\n{broken}```\n"));
    let problems = json_block_problems(&md);
    assert_eq!(problems.len(), 1, "{problems:?}");
    assert!(problems[0].contains("rulez: unknown field"), "{problems:?}");
    assert!(problems[0].starts_with("docs/broken.md:3:"), "{problems:?}");
}

/// `all` with `change` applied to the first manifest of `kind`.
fn changed(all: &[Value], kind: &str, change: impl FnOnce(&mut Value)) -> Vec<Value> {
    let mut all = all.to_vec();
    let m = all
        .iter_mut()
        .find(|m| text_at(m, "kind") == Some(kind))
        .unwrap_or_else(|| panic!("no {kind}"));
    change(m);
    all
}

fn pointer_mut<'v>(v: &'v mut Value, pointer: &str) -> &'v mut Value {
    v.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer}"))
}

/// The problems of `all` after `change`; asserts there are some and that one says `says`.
fn assert_caught(all: &[Value], kind: &str, says: &str, change: impl FnOnce(&mut Value)) {
    let problems = manifests_problems("test", &changed(all, kind, change));
    assert!(
        problems.iter().any(|p| p.contains(says)),
        "breaking the {kind} must be reported with {says:?}, got {problems:?}"
    );
}

#[test]
fn a_broken_manifest_is_reported() {
    let shipped: BTreeMap<String, Vec<Value>> = shipped_manifests().into_iter().collect();
    let istio = &shipped["envoy/istio"];
    let gateway = &shipped["envoy/envoy-gateway"];
    assert_none(&manifests_problems("istio", istio), "as shipped");
    assert_none(&manifests_problems("gateway", gateway), "as shipped");

    let remove = |pointer: &'static str, key: &'static str| {
        move |m: &mut Value| {
            pointer_mut(m, pointer)
                .as_object_mut()
                .expect("an object")
                .remove(key)
                .unwrap_or_else(|| panic!("no {key} at {pointer}"));
        }
    };
    let set =
        |pointer: &'static str, value: Value| move |m: &mut Value| *pointer_mut(m, pointer) = value;
    assert_caught(
        istio,
        "WasmPlugin",
        "spec.url is required",
        remove("/spec", "url"),
    );
    assert_caught(istio, "WasmPlugin", "spec.sha256", |m| {
        drop(
            m["spec"]
                .as_object_mut()
                .unwrap()
                .insert("sha256".into(), json!("<digest>")),
        )
    });
    assert_caught(istio, "WasmPlugin", "rulez: unknown field", |m| {
        let config = m["spec"]["pluginConfig"].as_object_mut().unwrap();
        let rules = config.remove("rules").unwrap();
        config.insert("rulez".into(), rules);
    });
    assert_caught(
        istio,
        "WasmPlugin",
        "no ServiceEntry",
        set(
            "/spec/pluginConfig/providers/0/azure_ad/cluster",
            json!("outbound|443||login.example.com"),
        ),
    );
    assert_caught(
        istio,
        "WasmPlugin",
        "spec.match.0.mode",
        set("/spec/match/0/mode", json!("INBOUND")),
    );
    assert_caught(
        istio,
        "TrafficExtension",
        "spec.wasm.url is required",
        remove("/spec/wasm", "url"),
    );
    assert_caught(
        istio,
        "TrafficExtension",
        "exactly one of wasm and lua",
        |m| {
            m["spec"]["lua"] = json!({"inlineCode": "function envoy_on_request(h) end"});
        },
    );
    assert_caught(
        istio,
        "TrafficExtension",
        "not a valid rolegate configuration",
        set(
            "/spec/wasm/pluginConfig/providers/0/azure_ad/tenant",
            json!("contoso.com"),
        ),
    );
    assert_caught(
        istio,
        "ServiceEntry",
        "spec.hosts is required",
        remove("/spec", "hosts"),
    );
    assert_caught(
        istio,
        "ServiceEntry",
        "no ServiceEntry",
        set("/spec/ports/0/number", json!(8443)),
    );
    assert_caught(
        istio,
        "DestinationRule",
        "originating TLS",
        remove("/spec", "trafficPolicy"),
    );
    assert_caught(
        istio,
        "DestinationRule",
        "spec.host is required",
        remove("/spec", "host"),
    );

    assert_caught(
        gateway,
        "EnvoyExtensionPolicy",
        "spec.targetRefs[0].group is required",
        remove("/spec/targetRefs/0", "group"),
    );
    assert_caught(
        gateway,
        "EnvoyExtensionPolicy",
        "exactly one of targetRef, targetRefs and targetSelectors",
        remove("/spec", "targetRefs"),
    );
    assert_caught(
        gateway,
        "EnvoyExtensionPolicy",
        "type Image goes with image",
        set("/spec/wasm/0/code/type", json!("HTTP")),
    );
    assert_caught(
        gateway,
        "EnvoyExtensionPolicy",
        "spec.wasm.0.code.image.url is required",
        remove("/spec/wasm/0/code/image", "url"),
    );
    assert_caught(
        gateway,
        "EnvoyExtensionPolicy",
        "is not in the bootstrap of EnvoyProxy",
        set(
            "/spec/wasm/0/config/providers/0/azure_ad/cluster",
            json!("login"),
        ),
    );
    assert_caught(
        gateway,
        "EnvoyExtensionPolicy",
        "no HTTPRoute",
        set("/spec/targetRefs/0/name", json!("other")),
    );
    assert_caught(
        gateway,
        "Gateway",
        "no EnvoyProxy beside it",
        remove("/spec", "infrastructure"),
    );
    assert_caught(
        gateway,
        "Gateway",
        "spec.gatewayClassName is required",
        remove("/spec", "gatewayClassName"),
    );
    assert_caught(
        gateway,
        "HTTPRoute",
        "spec.parentRefs[0].name is required",
        remove("/spec/parentRefs/0", "name"),
    );
    assert_caught(gateway, "EnvoyProxy", "is not in the bootstrap", |m| {
        let value = m["spec"]["bootstrap"]["value"]
            .as_str()
            .unwrap()
            .replace("name: entra", "name: other");
        m["spec"]["bootstrap"]["value"] = json!(value);
    });
    assert_caught(
        gateway,
        "EnvoyProxy",
        "a kind this test does not know",
        set("/kind", json!("EnvoyPatchPolicy")),
    );
}

#[test]
fn a_yaml_fragment_that_no_shipped_example_holds_is_reported() {
    let shipped = shipped_yaml();
    let path = root().join("docs/broken.md");
    let good = "```yaml\nstrip_any_host_port: true\nstrip_trailing_host_dot: true\n```\n";
    let md = parse_markdown(&path, good);
    assert_none(
        &yaml_block_problems(&md, &shipped).0,
        "as in envoy/envoy.yaml",
    );
    for broken in [
        "```yaml\nstrip_any_host_port: false\n```\n",
        "```yaml\nstrip_any_host_port: true\nmerge_slashes: false\n```\n",
        "```yaml\naccess_log:\n- name: envoy.access_loggers.file\n```\n",
        "```yaml\nkey: [unclosed\n```\n",
        "```yaml\nstatic_resources: {clusters: []}\n```\n",
    ] {
        let md = parse_markdown(&path, broken);
        let (problems, n) = yaml_block_problems(&md, &shipped);
        assert_eq!((problems.len(), n), (1, 1), "{broken}: {problems:?}");
    }
    // A manifest in a block is checked as the shipped ones are.
    let manifest = "```yaml\napiVersion: extensions.istio.io/v1alpha1\nkind: WasmPlugin\nmetadata: {name: x}\nspec: {}\n```\n";
    let (problems, _) = yaml_block_problems(&parse_markdown(&path, manifest), &shipped);
    assert!(
        problems.iter().any(|p| p.contains("spec.url is required")),
        "{problems:?}"
    );
}

#[test]
fn a_broken_link_is_reported() {
    let path = root().join("docs/broken.md");
    let text = "# Broken\n\n## A heading\n\n\
        [fine](configuration.md#paths) [fine](#a-heading) [fine](../envoy/istio) \
        [web](https://example.com/x#y)\n\n\
        [gone](missing.md) [no anchor](configuration.md#no-such-heading) [here](#nowhere) \
        [out](../../outside.md) [not markdown](../Makefile#x) ![image](gone.png)\n";
    let problems = link_problems(&parse_markdown(&path, text));
    assert_eq!(problems.len(), 6, "{problems:#?}");
    for (problem, says) in problems.iter().zip([
        "missing.md does not exist",
        "has no heading #no-such-heading",
        "has no heading #nowhere",
        "leaves the repository",
        "not Markdown",
        "gone.png does not exist",
    ]) {
        assert!(problem.contains(says), "{problem} should say {says}");
    }
}

#[test]
fn anchors_are_githubs() {
    let md = parse_markdown(
        Path::new("x.md"),
        "# `providers[].remote_jwks`\n## Entra ID app registrations → rolegate fields\n\
         ## The shared `vm_id`\n## Hosts\n## Hosts\n",
    );
    let want: BTreeSet<String> = [
        "providersremote_jwks",
        "entra-id-app-registrations--rolegate-fields",
        "the-shared-vm_id",
        "hosts",
        "hosts-1",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(md.anchors, want);
}
