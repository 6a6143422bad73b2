//! proxy-wasm shared data: one store for all worker VMs of the same `vm_id` in one Envoy.

use crate::keys::shared_data::SharedData;
use proxy_wasm::hostcalls;

pub struct HostSharedData;

impl SharedData for HostSharedData {
    fn get(&self, key: &str) -> Option<(Vec<u8>, u32)> {
        match hostcalls::get_shared_data(key) {
            Ok((Some(value), Some(cas))) => Some((value, cas)),
            _ => None,
        }
    }

    fn set(&self, key: &str, value: &[u8], cas: u32) -> bool {
        let cas = (cas != 0).then_some(cas);
        hostcalls::set_shared_data(key, Some(value), cas).is_ok()
    }
}
