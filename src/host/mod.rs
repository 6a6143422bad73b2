//! The proxy-wasm shell: reads requests, asks the core, carries out its answer, and fetches
//! key sets with dispatched HTTP calls. No decision is made here.

mod clock;
mod crypto;
mod log;
mod metrics;
mod outcome;
mod plugin;
mod request;
mod shared_data;
mod worker;

use proxy_wasm::traits::RootContext;

proxy_wasm::main! {{
    proxy_wasm::set_root_context(|context_id| -> Box<dyn RootContext> {
        Box::new(plugin::Plugin::new(context_id))
    });
}}
