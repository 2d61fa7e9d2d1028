//! `compile` and `check`: a policy file in, a bundle (or every error) out.

use std::collections::BTreeSet;

use crate::bundle::{Bundle, Propensity, RuleField};
use crate::cel::Expression;
use crate::diagnostic::{CheckReport, Diagnostic};
use crate::policy::parse_policy;
use crate::suggest::did_you_mean;

/// A compiled policy and the warnings found on the way.
#[derive(Debug, Clone)]
pub struct CompileOutput {
    pub bundle: Bundle,
    pub warnings: Vec<Diagnostic>,
}

/// Parses, validates and compiles a policy file into a bundle with the given
/// version. `known_traits` are the trait names seen in the workspace; a rule
/// reading any other trait gets an `unknown_trait` warning.
pub fn compile(
    source: &str,
    version: u64,
    known_traits: &[String],
) -> Result<CompileOutput, Vec<Diagnostic>> {
    let (doc, mut warnings) = parse_policy(source, version)?;
    let bundle = Bundle::load(doc)?;
    warnings.extend(trait_warnings(&bundle, known_traits));
    Ok(CompileOutput { bundle, warnings })
}

/// Checks a policy file: the errors of [`compile`], or its warnings.
pub fn check(source: &str, known_traits: &[String]) -> Result<CheckReport, Vec<Diagnostic>> {
    compile(source, 0, known_traits).map(|output| CheckReport {
        warnings: output.warnings,
    })
}

fn trait_warnings(bundle: &Bundle, known_traits: &[String]) -> Vec<Diagnostic> {
    let known: BTreeSet<&str> = known_traits.iter().map(String::as_str).collect();
    let mut warnings = Vec::new();
    for (doc, compiled) in bundle.actions() {
        let mut rules: Vec<(RuleField, &Expression)> = [
            (RuleField::Eligibility, compiled.eligibility.as_ref()),
            (RuleField::Applicability, compiled.applicability.as_ref()),
            (RuleField::Suitability, compiled.suitability.as_ref()),
            (RuleField::ContextWeight, compiled.context_weight.as_ref()),
        ]
        .into_iter()
        .filter_map(|(field, expression)| Some((field, expression?)))
        .collect();
        match &compiled.propensity {
            Propensity::Expression(expression) => rules.push((RuleField::Propensity, expression)),
            Propensity::Beta { .. } => {}
            Propensity::Linear { features, .. } => {
                rules.extend(features.iter().map(|f| (RuleField::Feature, f)));
            }
        }
        for (field, expression) in rules {
            let mut reported = BTreeSet::new();
            for (name, span) in &expression.traits {
                if known.contains(name.as_str()) || !reported.insert(name.clone()) {
                    continue;
                }
                let (line, column) = span.line_col(&expression.source);
                warnings.push(
                    Diagnostic::new(
                        "unknown_trait",
                        format!(
                            "action `{}`, {} {line}:{column}: trait `{name}` has never been seen in this workspace{}",
                            doc.id,
                            field.name(),
                            did_you_mean(name, known.iter().copied())
                        ),
                    )
                    .at_action(&doc.id, Some(field.name()))
                    .at(line, column),
                );
            }
        }
    }
    warnings
}
