//! The memory table: Envoy's resident memory (`VmRSS`) for each set-up at several worker counts,
//! after enough distinct valid tokens that every worker's token cache is full. Benchmark
//! figures, never asserted: the bench only checks that every request got its 200.

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use crate::envoy_config::{self, Filter, Policy, Setup};
use crate::preflight::{self, Probes};
use rolegate_bench::wrk::Wrk;
use rolegate_testkit::envoy::{Bootstrap, Launch};
use rolegate_testkit::Envoy;
use serde_json::Value;

/// The set-ups of the table, in its order: the two yardsticks first (no filter, a Wasm filter
/// that does nothing), then the two auth filters. The access log as the table has always been
/// measured: the three that the speed table had write it, the bare filter's Envoy does not.
pub const SETUPS: [Setup; 4] = [
    Setup::new(Filter::Passthrough, true),
    Setup::new(Filter::BareWasm, false),
    Setup::new(Filter::JwtAuthn, true),
    Setup::new(Filter::Rolegate, true),
];

/// Seconds of one wrk run while filling the caches; runs repeat until they are full.
const FILL_RUN_SECONDS: u32 = 2;
/// Filling gives up after this long.
const FILL_LIMIT: Duration = Duration::from_secs(90);
/// Pause between the last request and reading the memory figures.
const SETTLE: Duration = Duration::from_secs(2);

/// What the memory runs need.
pub struct Plan<'a> {
    pub binary: &'a Path,
    pub templates: &'a Path,
    pub work: &'a Path,
    pub policy: &'a Policy<'a>,
    pub probes: &'a Probes,
    pub wrk: &'a Wrk,
    /// Distinct valid tokens, one per line.
    pub cold_tokens: &'a Path,
    pub token_count: usize,
    /// `--concurrency` values.
    pub workers: &'a [u32],
    /// Envoys started per set-up and worker count; the median is kept.
    pub repeats: u32,
}

/// One set-up at one worker count.
#[derive(Debug, Clone, Default)]
pub struct Point {
    pub setup_slug: String,
    pub workers: u32,
    /// VmRSS once Envoy is ready and has answered the pre-flight's few requests.
    pub start_kib: u64,
    /// VmRSS after the caches were filled.
    pub filled_kib: u64,
    /// Requests sent to fill the caches.
    pub requests: u64,
    /// Envoy's own heap (tcmalloc, admin `/memory`): `allocated` and `heap_size`.
    pub allocated_kib: u64,
    pub heap_kib: u64,
    /// Resident pages of the Wasm VMs' linear memories (the anonymous mappings V8 reserves for
    /// them, several GiB each), from `/proc/<pid>/smaps`.
    pub linear_memory_kib: u64,
}

/// Every set-up at every worker count.
pub fn measure(plan: &Plan<'_>) -> Result<Vec<Point>, String> {
    let mut points = Vec::new();
    for &workers in plan.workers {
        for setup in SETUPS {
            let mut runs = Vec::new();
            for attempt in 1..=plan.repeats.max(1) {
                let point = measure_one(plan, setup, workers, attempt)?;
                println!(
                    "  {:<17} --concurrency {workers}: RSS {:.1} MiB at start, {:.1} MiB after \
                     {} requests (Envoy heap {:.1} MiB, Wasm linear memory {:.1} MiB)",
                    setup.label(),
                    mib(point.start_kib),
                    mib(point.filled_kib),
                    point.requests,
                    mib(point.heap_kib),
                    mib(point.linear_memory_kib),
                );
                runs.push(point);
            }
            runs.sort_by_key(|p| p.filled_kib);
            if let Some(median) = runs.get(runs.len() / 2) {
                points.push(median.clone());
            }
        }
    }
    Ok(points)
}

fn measure_one(plan: &Plan<'_>, setup: Setup, workers: u32, attempt: u32) -> Result<Point, String> {
    let config = envoy_config::render(plan.templates, setup, plan.policy)?;
    let dir = plan
        .work
        .join(format!("memory-{}-c{workers}-{attempt}", setup.slug()));
    let envoy = Launch::new(plan.binary, &dir)
        .concurrency(workers)
        .start(&Bootstrap::Yaml(config))
        .map_err(|e| format!("{} (--concurrency {workers}): {e}", setup.label()))?;
    preflight::check(setup, envoy.port(), plan.probes)?;
    thread::sleep(SETTLE);
    let start_kib = envoy.rss_kib()?;
    let requests = fill(plan, &envoy, setup, workers)?;
    thread::sleep(SETTLE);
    let filled_kib = envoy.rss_kib()?;
    let (allocated_kib, heap_kib) = heap(&envoy)?;
    let linear_memory_kib = linear_memory_kib(envoy.pid())?;
    Ok(Point {
        setup_slug: setup.slug(),
        workers,
        start_kib,
        filled_kib,
        requests,
        allocated_kib,
        heap_kib,
        linear_memory_kib,
    })
}

/// Drives distinct tokens until every worker has had a connection and each connection carried
/// more tokens than a cache holds (wrk spreads requests evenly over its connections, and
/// consecutive requests carry consecutive tokens of the list, all distinct within a cache's
/// length): then every worker's cache is full. Returns the requests sent.
fn fill(plan: &Plan<'_>, envoy: &Envoy, setup: Setup, workers: u32) -> Result<u64, String> {
    let url = format!("http://127.0.0.1:{}{}", envoy.port(), preflight::PATH);
    let needed = (plan.wrk.connections as usize * plan.policy.cache_size * 3 / 2) as u64;
    let started = Instant::now();
    let mut sent = 0u64;
    loop {
        let offset = usize::try_from(sent).unwrap_or(0) % plan.token_count.max(1);
        let m = plan
            .wrk
            .run(&url, FILL_RUN_SECONDS, plan.cold_tokens, offset)?;
        if !m.all_ok() {
            return Err(format!(
                "{} (--concurrency {workers}): {} while filling the caches; first: {}",
                setup.label(),
                m.failures(),
                m.first_bad
            ));
        }
        sent += m.requests;
        let idle_worker = per_worker_connections(envoy)?.contains(&0);
        if sent >= needed && !idle_worker {
            return Ok(sent);
        }
        if started.elapsed() > FILL_LIMIT {
            return Err(format!(
                "{} (--concurrency {workers}): caches not full after {} s ({sent} requests, \
                 {needed} needed{})",
                setup.label(),
                FILL_LIMIT.as_secs(),
                if idle_worker {
                    ", a worker got no connection"
                } else {
                    ""
                }
            ));
        }
    }
}

/// Connections each worker accepted on the listener.
fn per_worker_connections(envoy: &Envoy) -> Result<Vec<u64>, String> {
    let stats = envoy.stats(r"^listener\..*\.worker_[0-9]+\.downstream_cx_total$")?;
    if stats.is_empty() {
        return Err("Envoy has no per-worker listener stats".to_string());
    }
    Ok(stats
        .iter()
        .map(|(_, v)| v.parse::<u64>().unwrap_or(0))
        .collect())
}

/// Envoy's heap from admin `/memory`: (allocated, heap_size) in KiB.
fn heap(envoy: &Envoy) -> Result<(u64, u64), String> {
    let text = envoy.admin_get("/memory")?;
    let memory: Value =
        serde_json::from_str(&text).map_err(|e| format!("admin /memory: {e}: {text}"))?;
    let field = |name: &str| {
        memory
            .get(name)
            .and_then(|v| {
                v.as_str()
                    .and_then(|s| s.parse::<u64>().ok())
                    .or(v.as_u64())
            })
            .unwrap_or(0)
            / 1024
    };
    Ok((field("allocated"), field("heap_size")))
}

/// V8 reserves each Wasm memory as one anonymous range of several GiB (the linear memory and
/// its guard region) and makes only the part in use accessible: a readable mapping followed,
/// right where it ends, by an inaccessible one at least this large. Nothing else in Envoy
/// reserves this much at once.
const WASM_GUARD_KIB: u64 = 1024 * 1024;

/// Resident KiB of the Wasm memories in use.
fn linear_memory_kib(pid: u32) -> Result<u64, String> {
    let file = format!("/proc/{pid}/smaps");
    let text = std::fs::read_to_string(&file).map_err(|e| format!("cannot read {file}: {e}"))?;
    Ok(guarded_rss_kib(&text, WASM_GUARD_KIB))
}

/// One mapping of `/proc/<pid>/smaps`.
#[derive(Default)]
struct Mapping {
    start: u64,
    end: u64,
    accessible: bool,
    anonymous: bool,
    size_kib: u64,
    rss_kib: u64,
}

/// The `Rss` of every anonymous accessible mapping that an inaccessible anonymous mapping of
/// at least `guard_kib` follows directly, summed.
fn guarded_rss_kib(smaps: &str, guard_kib: u64) -> u64 {
    let mut maps: Vec<Mapping> = Vec::new();
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or_default();
        if let Some((a, b)) = first.split_once('-') {
            if let (Ok(start), Ok(end)) = (u64::from_str_radix(a, 16), u64::from_str_radix(b, 16)) {
                let perms = fields.next().unwrap_or_default();
                maps.push(Mapping {
                    start,
                    end,
                    accessible: !perms.starts_with("---"),
                    anonymous: fields.nth(3).is_none(),
                    ..Mapping::default()
                });
                continue;
            }
        }
        let value = fields.next().and_then(|n| n.parse::<u64>().ok());
        if let (Some(m), Some(v)) = (maps.last_mut(), value) {
            match first {
                "Size:" => m.size_kib = v,
                "Rss:" => m.rss_kib = v,
                _ => {}
            }
        }
    }
    maps.windows(2)
        .filter_map(|pair| match pair {
            [used, guard]
                if used.accessible
                    && used.anonymous
                    && guard.anonymous
                    && !guard.accessible
                    && guard.start == used.end
                    && guard.size_kib >= guard_kib =>
            {
                Some(used.rss_kib)
            }
            _ => None,
        })
        .sum()
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn find(points: &[Point], setup: Setup, workers: u32) -> Option<&Point> {
    points
        .iter()
        .find(|p| p.setup_slug == setup.slug() && p.workers == workers)
}

/// RSS growth per worker between the fewest and the most workers measured, in KiB.
fn per_worker_kib(points: &[Point], setup: Setup, workers: &[u32]) -> Option<f64> {
    let (first, last) = (*workers.first()?, *workers.last()?);
    if last <= first {
        return None;
    }
    let low = find(points, setup, first)?.filled_kib as f64;
    let high = find(points, setup, last)?.filled_kib as f64;
    Some((high - low) / f64::from(last - first))
}

/// The table (Markdown): RSS per set-up and worker count, the growth per extra worker, then
/// the differences that matter.
pub fn table(points: &[Point], workers: &[u32]) -> String {
    let [passthrough, bare, jwt_authn, rolegate] = SETUPS;
    let mut out = String::from("| Envoy RSS after the caches filled (MiB) |");
    for w in workers {
        out.push_str(&format!(" `--concurrency {w}` |"));
    }
    out.push_str(" per extra worker |\n|---|");
    for _ in workers {
        out.push_str("---:|");
    }
    out.push_str("---:|\n");
    // Per set-up, RSS after filling at `w` workers and growth per extra worker, in KiB.
    let filled = |setup, w| find(points, setup, w).map(|p| p.filled_kib as f64);
    let slope = |setup| per_worker_kib(points, setup, workers);
    for setup in SETUPS {
        let cells = workers
            .iter()
            .map(|&w| filled(setup, w).map(|kib| format!("{:.1}", kib / 1024.0)));
        let per_worker = slope(setup).map(|k| format!("{:.2}", k / 1024.0));
        out.push_str(&row(setup.filter.label(), cells.chain([per_worker])));
    }
    let differences = [
        ("**rolegate − bare Wasm filter**", rolegate, bare),
        ("bare Wasm filter − passthrough (V8)", bare, passthrough),
        ("jwt_authn + rbac − passthrough", jwt_authn, passthrough),
    ];
    for (label, top, bottom) in differences {
        let cells = workers.iter().map(|&w| {
            let pair = filled(top, w).zip(filled(bottom, w));
            pair.map(|(t, b)| format!("{:+.1}", (t - b) / 1024.0))
        });
        let pair = slope(top).zip(slope(bottom));
        let per_worker = pair.map(|(t, b)| format!("{:+.2}", (t - b) / 1024.0));
        out.push_str(&row(label, cells.chain([per_worker])));
    }
    out
}

/// A row of the table: the label, then each cell (`-` for none).
fn row(label: &str, cells: impl Iterator<Item = Option<String>>) -> String {
    let cells: String = cells
        .map(|cell| format!(" {} |", cell.as_deref().unwrap_or("-")))
        .collect();
    format!("| {label} |{cells}\n")
}

/// Where the memory of each set-up is, at the fewest workers measured (Markdown).
pub fn breakdown(points: &[Point], workers: &[u32]) -> String {
    let Some(&w) = workers.first() else {
        return String::new();
    };
    let mut out = format!(
        "| `--concurrency {w}` (MiB) | RSS at start | RSS after | Envoy heap in use | Envoy \
         heap free but kept | Wasm linear memory | the rest |\n|---|---:|---:|---:|---:|---:|---:|\n"
    );
    for setup in SETUPS {
        if let Some(p) = find(points, setup, w) {
            let kept = p.heap_kib.saturating_sub(p.allocated_kib);
            let rest = p
                .filled_kib
                .saturating_sub(p.heap_kib)
                .saturating_sub(p.linear_memory_kib);
            out.push_str(&format!(
                "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
                setup.filter.label(),
                mib(p.start_kib),
                mib(p.filled_kib),
                mib(p.allocated_kib),
                mib(kept),
                mib(p.linear_memory_kib),
                mib(rest),
            ));
        }
    }
    out
}

/// The Markdown section `## Memory`, up to (not including) the next section.
pub fn section(points: &[Point], workers: &[u32], settings: &str, module_bytes: u64) -> String {
    format!(
        "## Memory\n\
         \n\
         Envoy's resident memory (`VmRSS` of the Envoy process) per set-up and worker count, \
         after the pre-flight's requests and then distinct valid tokens, sent until every \
         worker had a connection and each wrk connection had carried more tokens than a token \
         cache holds, so every worker's cache is full. The **bare Wasm filter** is \
         [`bench/bare-wasm`](bench/bare-wasm), built by `make bench-wasm`: the same SDK as rolegate \
         (proxy-wasm 0.2.5) reading one request header, in the same `vm_config` \
         ([`envoy/bench/bare_wasm.yaml`](envoy/bench/bare_wasm.yaml)). It is what any Rust \
         proxy-wasm filter costs, so rolegate's own memory is its RSS minus this one's. \
         Benchmark figures, not asserted: memory moves by a few hundred KiB between runs.\n\
         \n\
         {table}\n\
         Where it is, from admin `/memory` and `/proc/<pid>/smaps`: **Envoy heap in use** is \
         tcmalloc's `allocated`; **free but kept** is `heap_size` minus that, memory freed but \
         kept by the allocator (with a Wasm filter, mostly what V8's optimizing compiler used \
         while it compiled the module at start-up: V8 compiles every function of the module \
         then, and a larger or more tangled function needs more); **Wasm linear memory** is \
         the resident part of the VMs' linear memories (each in a multi-GiB reservation of \
         V8's); **the rest** is Envoy's and V8's code pages, V8's heaps, the compiled module \
         and the stacks.\n\
         \n\
         {breakdown}\n\
         What rolegate's share is made of, found by A/B runs in this Envoy (2026-12-01, \
         medians of 3 Envoys, RSS with the caches full unless said; a few hundred KiB of \
         noise):\n\
         \n\
         - **Compiling the module.** Envoy's V8 compiles every function of the module with its \
         optimizing compiler when it loads it (once per Envoy: the VMs of the main thread and \
         the workers are clones that share the compiled code). The compiler's working memory \
         grows with how large and tangled a function is, and Envoy's allocator keeps much of it \
         afterwards: a never-called 111 KB function added 21 MiB to the bare filter's Envoy. \
         What counts is the few largest functions together, not the total: four more copies of \
         the largest function, or 76 KB more of mid-sized ones, added under 1 MiB, while \
         removing the five functions over 4 KB took 5 MiB off. `wasm-opt -Oz` used to inline \
         every function with a single caller, however large (9 MiB; the build passes \
         `-ocimfs 0` since). LLVM does the same: it had merged the configuration readers, the \
         decision's token check and the key-fetch answer into functions of 4 to 9 KB, and sha2 \
         unrolls SHA-256's 64 rounds into an 8 KB function. Those callees are now \
         `#[inline(never)]` (`src/lib.rs`, \"Function size\") and the wasm build takes sha2's \
         compact rounds (`.cargo/config.toml`; in Envoy, RS256 goes to Envoy's own crypto, so \
         the module hashes only key fingerprints). rolegate's largest function went from 9 KB \
         to 3.5 KB (the largest of the module is now the allocator's, 4.9 KB, which the bare \
         filter has too), and rolegate − bare from +11.3 to +5.6 MiB at one worker, +12.3 to \
         +6.9 at two, +14.8 to +10.0 at four. The memory tcmalloc keeps in its free lists after \
         start-up is now the same as with the bare filter (10.6 against 10.7 MiB). What remains \
         at start, about 4 MiB, is the compiled module itself: 2.1 MiB more heap in use (V8's \
         data for the module), 0.8 MiB more machine code (602 KiB against 194 KiB) and 0.5 MiB \
         more of Envoy's own code pages. `opt-level = \"z\"` for rolegate made the module 14 KB \
         smaller and the RSS no smaller.\n\
         - **Releasing freed memory.** Envoy's bootstrap `memory_allocator_manager` \
         (`bytes_to_release`, here 1 MiB each `memory_release_interval` of 1 s) makes tcmalloc \
         return free pages to the system. With the 9 KB functions it took 3.3 MiB off \
         rolegate's Envoy at one worker; now it changes nothing measurable for rolegate or the \
         bare filter (0.3 MiB or less at 1, 2 and 4 workers): what tcmalloc keeps is in its \
         thread and transfer caches, which it does not release.\n\
         - **Running the configuration** (parsing it and the key set, in each VM: a \
         1-worker Envoy creates four and keeps three, `wasm.envoy.wasm.runtime.v8.created` 4, \
         `active` 3): under 0.3 MiB at start (A/B with `proxy_on_configure` stubbed out).\n\
         - **The token cache.** Linear memory is 0.2 MiB at start (17 pages of 64 KiB \
         declared, of which the 1 MiB stack is barely touched). The cache used to keep each \
         token whole (0.95 KB here, often more from Entra ID) with its facts: 1,000 of them \
         added about 1.6 MiB to their worker's VM, and rolegate − bare was +5.6 / +7.3 / \
         +10.0 MiB at 1 / 2 / 4 workers. It now files each token under its 128-bit \
         SipHash-2-4 under a secret key of the worker (`src/crypto/siphash.rs`, \
         `src/token/verified_token_cache.rs`), and entries verified one after another share \
         the key's name, the roles and the claim-header values they have in common: an entry \
         is about 0.15 KB, and the full cache adds about 0.3 MiB (Wasm linear memory 1.5 → \
         0.4 MiB at one worker). Hashing a 0.95 KB token takes about 0.35 µs in V8, which a \
         cache hit would pay on every request (hot fell to 0.99× `jwt_authn` + `rbac` in a \
         3-round run); so the last 16 tokens admitted are also kept whole, and a token sent \
         again is found by a comparison, as before. (A 32-byte SHA-256 or BLAKE3 digest, \
         tried before, cost 2.8 or 1 µs per hit.)\n\
         - **Module bytes.** Envoy keeps about five copies of the module's bytes (the \
         configuration's, V8's wire bytes, the VMs'): a 1 MiB custom section, which V8 \
         ignores, added 5.1 MiB at one worker and 6.4 at four. rolegate's 280 KB against the \
         bare filter's 100 KB are about 0.9 MiB of its share.\n\
         - **Shared data**: one key set per Envoy, a few KB.\n\
         \n\
         Module: `dist/rolegate.wasm`, {module_bytes} bytes. Settings: {settings}.\n\
         \n\
         Only this section: `BENCH_MEMORY_ONLY=1 make bench` (or `-- --memory`) measures the \
         memory alone and rewrites this section of the file, leaving the rest as it is. \
         `BENCH_MEMORY_WORKERS` (default `1,2,4`) and `BENCH_MEMORY_REPEATS` (Envoys per cell, \
         the median is shown; default 1) change it; `BENCH_MEMORY_WORKERS=none` skips it.\n",
        table = table(points, workers),
        breakdown = breakdown(points, workers),
    )
}

/// `document` with its `## Memory` section replaced by `section` (or, without one, `section`
/// inserted before `## What was measured`, or appended).
pub fn splice(document: &str, section: &str) -> String {
    let section = format!("{}\n", section.trim_end());
    if let Some(start) = document.find("\n## Memory\n") {
        let start = start + 1;
        let rest = document.get(start + 1..).unwrap_or_default();
        let end = rest
            .find("\n## ")
            .map_or(document.len(), |i| start + 1 + i + 1);
        let before = document.get(..start).unwrap_or_default();
        let after = document.get(end..).unwrap_or_default();
        let gap = if after.is_empty() { "" } else { "\n" };
        return format!("{before}{section}{gap}{after}");
    }
    if let Some(at) = document.find("\n## What was measured") {
        let (before, after) = document.split_at(at + 1);
        return format!("{before}{section}\n{after}");
    }
    format!("{}\n\n{section}", document.trim_end())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(filter: Filter, workers: u32, filled_mib: u64) -> Point {
        Point {
            setup_slug: SETUPS
                .iter()
                .find(|s| s.filter == filter)
                .map_or(String::new(), |s| s.slug()),
            workers,
            filled_kib: filled_mib * 1024,
            ..Point::default()
        }
    }

    #[test]
    fn differences_and_slopes() {
        let points = vec![
            point(Filter::Passthrough, 1, 60),
            point(Filter::Passthrough, 4, 63),
            point(Filter::BareWasm, 1, 80),
            point(Filter::BareWasm, 4, 86),
            point(Filter::Rolegate, 1, 84),
            point(Filter::Rolegate, 4, 93),
        ];
        let t = table(&points, &[1, 4]);
        assert!(t.contains("| rolegate | 84.0 | 93.0 | 3.00 |"), "{t}");
        assert!(t.contains("| jwt_authn + rbac | - | - | - |"), "{t}");
        assert!(
            t.contains("| **rolegate − bare Wasm filter** | +4.0 | +7.0 | +1.00 |"),
            "{t}"
        );
    }

    #[test]
    fn counts_the_memories_before_their_guards() {
        let smaps = "1000-2000 rw-p 00000000 00:00 0\nSize: 4 kB\nRss: 4 kB\n\
                     2000-9000 ---p 00000000 00:00 0\nSize: 8388608 kB\nRss: 0 kB\n\
                     a000-b000 rw-p 00000000 00:00 0\nSize: 1088 kB\nRss: 212 kB\n\
                     b000-f000 ---p 00000000 00:00 0\nSize: 8387520 kB\nRss: 0 kB\n\
                     f000-f800 r-xp 00000000 08:01 12 /usr/bin/envoy\nSize: 2048 kB\nRss: 900 kB\n\
                     10000-11000 rw-p 00000000 00:00 0\nSize: 64 kB\nRss: 64 kB\n\
                     12000-13000 ---p 00000000 00:00 0\nSize: 8388608 kB\nRss: 0 kB\n";
        assert_eq!(guarded_rss_kib(smaps, WASM_GUARD_KIB), 216);
    }

    #[test]
    fn splices_the_memory_section() {
        let doc = "# t\n\n## Results\n\nr\n\n## Memory\n\nold\n\n## What was measured\n\nw\n";
        let out = splice(doc, "## Memory\n\nnew\n");
        assert_eq!(
            out,
            "# t\n\n## Results\n\nr\n\n## Memory\n\nnew\n\n## What was measured\n\nw\n"
        );
        let without = "# t\n\n## Results\n\nr\n\n## What was measured\n\nw\n";
        assert_eq!(splice(without, "## Memory\n\nnew\n"), out);
        let last = "# t\n\n## Memory\n\nold\n";
        assert_eq!(
            splice(last, "## Memory\n\nnew\n"),
            "# t\n\n## Memory\n\nnew\n"
        );
    }
}
