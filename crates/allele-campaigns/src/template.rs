//! Email templates in Liquid. A template is checked when it is saved: it
//! must parse, and rendering it against every variable a send can supply
//! (`profile.*` with every trait the workspace has seen, `decision.*`,
//! `message_id`, `unsubscribe_url`) must not name anything else, so a typo
//! such as `{{ profile.trait.first_name }}` is refused at save time instead
//! of failing every send. At send time a trait the person lacks renders
//! empty (it is present as nil), never as an error.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// A stored template: a subject and an HTML and/or plain-text body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailTemplate {
    pub subject: String,
    #[serde(default)]
    pub html: Option<String>,
    #[serde(default)]
    pub text: Option<String>,
}

/// A template that cannot be saved or rendered, naming the part at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template {part}: {message}")]
pub struct TemplateError {
    pub part: &'static str,
    pub message: String,
}

/// The rendered message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub html: Option<String>,
    pub text: Option<String>,
}

/// Computed traits every profile may carry (see the server's `computed`).
pub const COMPUTED_KEYS: &[&str] = &[
    "count_1d",
    "count_7d",
    "count_30d",
    "count_all",
    "revenue_30d",
    "revenue_all",
    "days_since_last_seen",
    "sentiment_30d",
    "posts_30d",
];

/// Fields of `decision` a send may carry (from `/v1/decide` or a journey's
/// decide step).
pub const DECISION_KEYS: &[&str] = &["decision_id", "action_id", "score", "bundle_version"];

fn one_line(part: &'static str, error: &liquid::Error) -> TemplateError {
    let text = error.to_string();
    let flat: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let joined = flat.join("; ");
    let mut chars = joined.chars();
    let message = match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => joined,
    };
    TemplateError { part, message }
}

struct Parts {
    subject: liquid::Template,
    html: Option<liquid::Template>,
    text: Option<liquid::Template>,
}

fn parse(template: &EmailTemplate) -> Result<Parts, TemplateError> {
    if template.html.is_none() && template.text.is_none() {
        return Err(TemplateError {
            part: "body",
            message: "a template needs `html`, `text` or both".into(),
        });
    }
    if template.subject.trim().is_empty() {
        return Err(TemplateError {
            part: "subject",
            message: "the subject is empty".into(),
        });
    }
    let parser = liquid::ParserBuilder::with_stdlib()
        .build()
        .map_err(|e| one_line("parser", &e))?;
    let one = |part: &'static str, source: &str| {
        if let Some(number) = oversized_number(source) {
            // liquid-core panics on an integer literal past i64 (found by
            // fuzzing): refuse it before the parser sees it.
            return Err(TemplateError {
                part,
                message: format!(
                    "the number `{number}` is too long; numbers in tags have at most {MAX_DIGITS} digits"
                ),
            });
        }
        // liquid-core also panics on some malformed input its grammar
        // admits (an unterminated block at the end of the text, found by
        // fuzzing): a panic there is a template error, not a crash.
        let parsed =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| parser.parse(source)));
        match parsed {
            Ok(result) => result.map_err(|e| one_line(part, &e)),
            Err(_) => Err(TemplateError {
                part,
                message: "the template could not be parsed (an unterminated tag or block?)".into(),
            }),
        }
    };
    Ok(Parts {
        subject: one("subject", &template.subject)?,
        html: template
            .html
            .as_deref()
            .map(|s| one("html", s))
            .transpose()?,
        text: template
            .text
            .as_deref()
            .map(|s| one("text", s))
            .transpose()?,
    })
}

/// Digits a number in a tag may have (any 18-digit integer fits in i64).
const MAX_DIGITS: usize = 18;

/// The first run of more than [`MAX_DIGITS`] digits inside `{{ }}` or
/// `{% %}` markup, if any. Long numbers in plain text are fine.
fn oversized_number(source: &str) -> Option<&str> {
    let bytes = source.as_bytes();
    let mut in_markup = false;
    let mut i = 0;
    while i < bytes.len() {
        let pair = bytes.get(i..i + 2);
        if !in_markup && matches!(pair, Some(b"{{") | Some(b"{%")) {
            in_markup = true;
            i += 2;
        } else if in_markup && matches!(pair, Some(b"}}") | Some(b"%}")) {
            in_markup = false;
            i += 2;
        } else if in_markup && bytes[i].is_ascii_digit() {
            let start = i;
            while i < bytes.len() && bytes[i].is_ascii_digit() {
                i += 1;
            }
            if i - start > MAX_DIGITS {
                return source.get(start..i);
            }
        } else {
            i += 1;
        }
    }
    None
}

/// The variables a send supplies. `known_traits` become nil where the
/// person lacks them, so templates render the same set of names for all.
pub fn variables(
    profile: &Value,
    known_traits: &[String],
    decision: Option<&Value>,
    message_id: &str,
    unsubscribe_url: &str,
) -> Value {
    let mut traits: Map<String, Value> = known_traits
        .iter()
        .map(|k| (k.clone(), Value::Null))
        .collect();
    if let Some(own) = profile.get("traits").and_then(Value::as_object) {
        for (k, v) in own {
            traits.insert(k.clone(), v.clone());
        }
    }
    let mut computed: Map<String, Value> = COMPUTED_KEYS
        .iter()
        .map(|k| ((*k).to_string(), Value::Null))
        .collect();
    if let Some(own) = profile.get("computed").and_then(Value::as_object) {
        for (k, v) in own {
            computed.insert(k.clone(), v.clone());
        }
    }
    let mut decision_vars: Map<String, Value> = DECISION_KEYS
        .iter()
        .map(|k| ((*k).to_string(), Value::Null))
        .collect();
    if let Some(own) = decision.and_then(Value::as_object) {
        for (k, v) in own {
            if decision_vars.contains_key(k) {
                decision_vars.insert(k.clone(), v.clone());
            }
        }
    }
    json!({
        "profile": {
            "id": profile.get("id").cloned().unwrap_or(Value::Null),
            "user_id": profile.get("user_id").cloned().unwrap_or(Value::Null),
            "email": profile.get("email").cloned().unwrap_or(Value::Null),
            "traits": traits,
            "computed": computed,
            "segments": profile.get("segments").cloned().unwrap_or(json!([])),
        },
        "decision": decision_vars,
        "message_id": message_id,
        "unsubscribe_url": unsubscribe_url,
    })
}

/// Check a template before it is stored: it parses, and it names nothing
/// outside what [`variables`] supplies for this workspace.
pub fn check(template: &EmailTemplate, known_traits: &[String]) -> Result<(), TemplateError> {
    let sample = variables(&json!({}), known_traits, None, "", "");
    render(template, &sample).map(|_| ())
}

pub fn render(template: &EmailTemplate, vars: &Value) -> Result<Rendered, TemplateError> {
    let parts = parse(template)?;
    let globals = liquid::to_object(vars).map_err(|e| one_line("variables", &e))?;
    let one = |part: &'static str, t: &liquid::Template| {
        t.render(&globals).map_err(|e| one_line(part, &e))
    };
    Ok(Rendered {
        subject: one("subject", &parts.subject)?.replace(['\r', '\n'], " "),
        html: parts.html.as_ref().map(|t| one("html", t)).transpose()?,
        text: parts.text.as_ref().map(|t| one("text", t)).transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(html: &str) -> EmailTemplate {
        EmailTemplate {
            subject: "Hi {{ profile.traits.first_name }}".into(),
            html: Some(html.into()),
            text: None,
        }
    }

    #[test]
    fn numbers_past_i64_in_tags_are_refused_not_a_panic() {
        let known = vec!["first_name".to_string()];
        let crash = "{{9999999999999999999-}}99999999999999999999999999999 prof";
        let err = check(&template(crash), &known).unwrap_err();
        assert_eq!(err.part, "html");
        assert!(
            err.message.contains("`9999999999999999999` is too long"),
            "{err}"
        );
        let subject = EmailTemplate {
            subject: "{% if 123456789012345678901 > 1 %}x{% endif %}".into(),
            html: Some("<p>x</p>".into()),
            text: None,
        };
        assert_eq!(check(&subject, &known).unwrap_err().part, "subject");
        // Long numbers in text, and 18 digits in a tag, are fine.
        check(&template("<p>order 123456789012345678901234</p>"), &known).unwrap();
        check(&template("{{ 123456789012345678 | plus: 1 }}"), &known).unwrap();
    }

    #[test]
    fn input_the_liquid_parser_panics_on_is_a_template_error() {
        // What the email_template fuzz target found: subject, HTML and text
        // split at NUL bytes, as the target reads its input.
        let found = include_bytes!("../../../fuzz/corpus/email_template/crash-liquid-eoi");
        let text = std::str::from_utf8(found).unwrap();
        let mut parts = text.splitn(3, '\0');
        let t = EmailTemplate {
            subject: parts.next().unwrap().to_string(),
            html: parts.next().map(str::to_string),
            text: parts.next().map(str::to_string),
        };
        let err = check(&t, &["first_name".to_string(), "plan".to_string()]).unwrap_err();
        assert!(err.message.contains("could not be parsed"), "{err}");
    }

    #[test]
    fn known_variables_pass_and_render() {
        let known = vec!["first_name".to_string(), "plan".to_string()];
        let t = template("<p>{{ profile.traits.plan | upcase }} {{ decision.action_id }}</p>");
        check(&t, &known).unwrap();
        let vars = variables(
            &json!({"traits": {"first_name": "Ada"}}),
            &known,
            Some(&json!({"action_id": "gold_card"})),
            "m1",
            "https://u",
        );
        let out = render(&t, &vars).unwrap();
        assert_eq!(out.subject, "Hi Ada");
        // A trait the person lacks renders empty.
        assert_eq!(out.html.as_deref(), Some("<p> gold_card</p>"));
    }

    #[test]
    fn unknown_variables_and_bad_syntax_are_refused_with_the_name() {
        let known = vec!["first_name".to_string()];
        let error = check(&template("{{ profile.trait.first_name }}"), &known).unwrap_err();
        assert_eq!(error.part, "html");
        assert!(error.message.contains("trait"), "{error}");
        let error = check(&template("{{ profile.traits.frist_name }}"), &known).unwrap_err();
        assert!(error.message.contains("frist_name"), "{error}");
        let error = check(&template("{{ coupon }}"), &known).unwrap_err();
        assert!(error.message.contains("coupon"), "{error}");
        let error = check(&template("{% if x %}unclosed"), &known).unwrap_err();
        assert_eq!(error.part, "html");
        let error = check(
            &EmailTemplate {
                subject: "s".into(),
                html: None,
                text: None,
            },
            &known,
        )
        .unwrap_err();
        assert_eq!(error.part, "body");
    }
}
