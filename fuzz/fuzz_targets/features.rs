//! The feature-file parser and the step router on arbitrary text, as a hand-edited or
//! half-written feature file brings it.
//!
//! Properties: parsing ends with scenarios or an error, never a panic; every routed step's
//! process is one of its scenario's roles (roles in order of first appearance, each once); a
//! step that names its process is routed to it; each step has its source line; and the
//! scenario selection (`N.M`, names) answers for every title.

#![no_main]

use std::path::Path;

use harmony_wire::routing::extract_process;
use harmony_wire::selection::scenario_number;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let Ok(scenarios) = harmony::features::parse_text(text, Path::new("99-Fuzz.feature")) else {
        return;
    };
    for scenario in &scenarios {
        assert_eq!(scenario.feature_id, 99);
        assert_eq!(scenario.source.steps.len(), scenario.steps.len());
        for (i, role) in scenario.roles.iter().enumerate() {
            assert!(
                !scenario.roles[..i].contains(role),
                "role {role} listed twice"
            );
        }
        let mut first_seen = Vec::new();
        for step in &scenario.steps {
            if let Some(process) = &step.process {
                assert!(
                    scenario.roles.contains(process),
                    "step {:?} goes to {process}, not a role",
                    step.text
                );
                if !first_seen.contains(process) {
                    first_seen.push(process.clone());
                }
            }
            if let Some(named) = extract_process(&step.text) {
                assert_eq!(step.process.as_ref(), Some(&named), "{:?}", step.text);
            }
            assert_eq!(step.text, step.text.trim(), "routed text is trimmed");
        }
        assert_eq!(first_seen, scenario.roles, "roles out of order");
        if let Some(number) = scenario_number(&scenario.name) {
            assert!(scenario.name.contains(number));
        }
    }
});
