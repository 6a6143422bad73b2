//! The Envoys under test, one per set-up: started once, checked against the policy, then driven
//! in turn.

use std::path::Path;

use crate::envoy_config::{self, Policy, Setup};
use crate::preflight::{self, Probes};
use rolegate_testkit::envoy::{Bootstrap, Launch};
use rolegate_testkit::Envoy;

pub struct Fleet {
    envoys: Vec<(Setup, Envoy)>,
}

impl Fleet {
    /// Renders each set-up's configuration from `templates`, starts it in `<work>/<set-up>/` and
    /// checks that it answers as the policy says.
    pub fn start(
        binary: &Path,
        templates: &Path,
        work: &Path,
        policy: &Policy<'_>,
        probes: &Probes,
        setups: &[Setup],
    ) -> Result<Fleet, String> {
        let mut fleet = Fleet { envoys: Vec::new() };
        for &setup in setups {
            let config = envoy_config::render(templates, setup, policy)?;
            let envoy = Launch::new(binary, &work.join(setup.slug()))
                .concurrency(1)
                .start(&Bootstrap::Yaml(config))
                .map_err(|e| format!("{}: {e}", setup.label()))?;
            preflight::check(setup, envoy.port(), probes)?;
            println!(
                "{:<35} pid {:>7}, port {}, admin {}: policy checks passed",
                setup.label(),
                envoy.pid(),
                envoy.port(),
                envoy.admin_port()
            );
            fleet.envoys.push((setup, envoy));
        }
        Ok(fleet)
    }

    pub fn get(&self, setup: Setup) -> Result<&Envoy, String> {
        self.envoys
            .iter()
            .find(|(s, _)| *s == setup)
            .map(|(_, e)| e)
            .ok_or_else(|| format!("{} was not started", setup.label()))
    }
}
