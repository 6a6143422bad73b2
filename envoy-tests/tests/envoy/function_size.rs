//! No function of the shipped module is over the size budget that `src/lib.rs` states
//! ("Function size"): V8 compiles every function of the module with its optimizing compiler
//! when Envoy loads it, and Envoy keeps the memory that compiler took for the largest ones
//! (BENCHMARKS.md, Memory). `make build` strips the name section, so a function is named by its
//! index; a module that keeps one (`ROLEGATE_WASM=<module>`) gets its names too.

#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use rolegate_testkit::wasm::{FunctionBody, Module};
use rolegate_testkit::workspace;

/// "every function of rolegate stays under about 3.5 KB" (lib.rs): 3.5 KiB. The largest was
/// 3,499 bytes when that was written (142cc95).
const BUDGET: usize = 3 * 1024 + 512;

/// The functions allowed over [`BUDGET`], largest first, each with the most it may weigh and
/// what it is. Without names they are told apart by rank: the largest function of the module
/// must fit the first allowance, the second largest the second, and so on; every other
/// function must fit the budget. An allowance that its function no longer needs fails the test
/// too, so that the list only ever shrinks.
const OVER_BUDGET: [(usize, &str); 1] = [(
    5_000,
    "the allocator, wasi-libc's dlmalloc (4,910 B): C code that every Rust module for \
     wasm32-wasip1 carries (the bench's bare filter too), not rolegate's",
)];

#[test]
fn no_function_of_the_module_is_over_the_budget_of_lib_rs() {
    let path = workspace::wasm_module().unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let mut bodies = Module::parse(&bytes).unwrap().function_bodies().unwrap();
    assert!(
        bodies.len() > 100,
        "{}: only {} function bodies",
        path.display(),
        bodies.len()
    );
    bodies.sort_by(|a, b| b.size.cmp(&a.size).then(a.index.cmp(&b.index)));
    let largest = describe(&bodies[0]);

    for (rank, (allowed, what)) in OVER_BUDGET.iter().enumerate() {
        let body = &bodies[rank];
        assert!(
            body.size <= *allowed,
            "{}: {} is {} bytes, over the {allowed} allowed to the module's function number \
             {} by size, {what} (the budget is {BUDGET}; largest: {largest})",
            path.display(),
            body.label(),
            body.size,
            rank + 1
        );
        assert!(
            body.size > BUDGET,
            "{}: the module's function number {} by size ({}, {} bytes) is within the budget \
             of {BUDGET}: remove its allowance, {what}",
            path.display(),
            rank + 1,
            body.label(),
            body.size
        );
    }
    let over: Vec<String> = bodies[OVER_BUDGET.len()..]
        .iter()
        .filter(|body| body.size > BUDGET)
        .map(describe)
        .collect();
    assert!(
        over.is_empty(),
        "{}: over the budget of {BUDGET} bytes (src/lib.rs, \"Function size\"): {} (the {} \
         allowed ones aside; the module's largest: {largest})",
        path.display(),
        over.join(", "),
        OVER_BUDGET.len()
    );
}

fn describe(body: &FunctionBody) -> String {
    format!("{}, {} bytes", body.label(), body.size)
}
