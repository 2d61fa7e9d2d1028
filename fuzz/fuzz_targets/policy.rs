//! Any text as a policy file: compiling it answers a bundle or diagnostics,
//! never a panic; a bundle that compiles also decides without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(source) = std::str::from_utf8(data) else { return };
    let Ok(compiled) = allele_engine::compile(source, 1, &[]) else { return };
    let input = allele_engine::DecisionInput {
        profile: allele_engine::ProfileView::default(),
        request: allele_engine::DecisionRequest {
            touchpoint: "web".into(),
            channel: "email".into(),
            context: serde_json::Map::new(),
            limit: 3,
        },
        now_ms: 0,
        seed: 7,
        workspace_salt: String::new(),
        contact_history: Default::default(),
        customer_caps: None,
        arm_stats: Default::default(),
    };
    let decision = allele_engine::decide(&compiled.bundle, &input);
    assert!(!decision.trace.is_empty() || compiled.bundle.doc().actions.is_empty());
});
