//! The proxy-wasm shell: reads requests, asks the core, carries out its answer, and fetches
//! key sets with dispatched HTTP calls. No decision is made here.

#![cfg_attr(feature = "crypto-probe", allow(dead_code))]

mod clock;
mod crypto;
#[cfg(feature = "crypto-probe")]
mod crypto_probe;
mod filter_state;
mod header_editor;
mod local_response;
mod log;
mod metrics;
mod outcome;
mod plugin;
mod randomness;
mod request;
mod request_snapshot;
mod shared_data;
mod worker;

use proxy_wasm::traits::RootContext;

#[cfg(not(feature = "crypto-probe"))]
proxy_wasm::main! {{
    proxy_wasm::set_root_context(|context_id| -> Box<dyn RootContext> {
        Box::new(plugin::Plugin::new(context_id))
    });
}}

#[cfg(feature = "crypto-probe")]
proxy_wasm::main! {{
    proxy_wasm::set_root_context(|_| -> Box<dyn RootContext> { Box::new(crypto_probe::CryptoProbe) });
}}
