//! Journey definitions (JSON or YAML; JSON is YAML here):
//!
//! ```yaml
//! trigger: { event: "Signed Up" }          # or { segment: vip } or { date_trait: birthday, at: "09:00" }
//! steps:
//!   - { id: settle, wait: { duration: 1d } }
//!   - { id: morning, wait: { until: "09:00" } }     # in the person's own time zone
//!   - { id: check, branch: { if: 'profile.traits.plan == "pro"', then: pro_mail } }
//!   - { id: offer, decide: { channel: email } }     # best action, as `decision.*` for later sends
//!   - { id: welcome, send_email: { template: welcome } }
//!   - { id: pro_mail, send_email: { template: pro } }
//!   - { id: tag, set_trait: { name: onboarded, value: true } }
//!   - { id: notify, webhook: { event: journey.done } }
//! exit: { event: "Order Completed" }        # the goal: reaching it ends the run
//! reentry: never                            # never | after_exit | a duration such as 30d
//! holdout: 0.1                              # share of entrants who get no step
//! ```
//!
//! A `date_trait` trigger enters a person every year on the anniversary of
//! the trait's date once their local time reaches `at` (see
//! [`crate::anniversary`]); the year is the entry's key, so `reentry` does
//! not apply to it, except that a run still active is not entered again.
//!
//! Steps run in order; a branch jumps forward only (to `then` when its CEL
//! condition holds, else to `else` or the next step), so every run ends and
//! each step runs at most once per run, which is what makes a step's
//! idempotency key (`run:step`) sufficient.

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JourneyDef {
    pub trigger: Trigger,
    pub steps: Vec<Step>,
    #[serde(default)]
    pub exit: Option<Exit>,
    #[serde(default = "default_reentry")]
    pub reentry: String,
    #[serde(default)]
    pub holdout: f64,
}

fn default_reentry() -> String {
    "never".into()
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trigger {
    #[serde(default)]
    pub event: Option<String>,
    #[serde(default)]
    pub segment: Option<String>,
    #[serde(default)]
    pub date_trait: Option<String>,
    /// Local time of day a date trigger fires (default 09:00).
    #[serde(default)]
    pub at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exit {
    pub event: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub id: String,
    #[serde(default)]
    pub wait: Option<Wait>,
    #[serde(default)]
    pub branch: Option<Branch>,
    #[serde(default)]
    pub send_email: Option<SendEmail>,
    #[serde(default)]
    pub decide: Option<Decide>,
    #[serde(default)]
    pub set_trait: Option<SetTrait>,
    #[serde(default)]
    pub webhook: Option<Webhook>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Wait {
    #[serde(default)]
    pub duration: Option<String>,
    /// `HH:MM` on the person's wall clock.
    #[serde(default)]
    pub until: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Branch {
    #[serde(rename = "if")]
    pub condition: String,
    pub then: String,
    #[serde(default, rename = "else")]
    pub otherwise: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SendEmail {
    pub template: String,
    /// `marketing` (default) or `transactional`.
    #[serde(default)]
    pub kind: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Decide {
    pub channel: String,
    #[serde(default)]
    pub touchpoint: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetTrait {
    pub name: String,
    pub value: Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Webhook {
    pub event: String,
}

/// A step's kind after validation, with jump targets as indexes.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    WaitFor(i64),
    WaitUntil(jiff::civil::Time),
    Branch {
        condition: String,
        then: usize,
        otherwise: usize,
    },
    SendEmail(SendEmail),
    Decide(Decide),
    SetTrait(SetTrait),
    Webhook(Webhook),
}

/// `30s`, `15m`, `2h`, `7d` in milliseconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim();
    let unit = text.chars().last()?;
    let number: i64 = text.get(..text.len() - unit.len_utf8())?.parse().ok()?;
    let scale = match unit {
        's' => 1_000,
        'm' => 60_000,
        'h' => 3_600_000,
        'd' => 86_400_000,
        _ => return None,
    };
    (number >= 0).then_some(number.checked_mul(scale)?)
}

pub fn parse_time_of_day(text: &str) -> Option<jiff::civil::Time> {
    let (h, m) = text.split_once(':')?;
    jiff::civil::Time::new(h.parse().ok()?, m.parse().ok()?, 0, 0).ok()
}

impl JourneyDef {
    /// Parse and validate; every problem is one clear line.
    pub fn parse(source: &str) -> Result<(JourneyDef, Vec<Kind>), String> {
        let def: JourneyDef =
            serde_yaml_ng::from_str(source).map_err(|e| format!("journey definition: {e}"))?;
        let kinds = def.validate()?;
        Ok((def, kinds))
    }

    pub fn validate(&self) -> Result<Vec<Kind>, String> {
        let t = &self.trigger;
        let triggers = [
            t.event.is_some(),
            t.segment.is_some(),
            t.date_trait.is_some(),
        ];
        if triggers.iter().filter(|b| **b).count() != 1 {
            return Err("the trigger needs exactly one of `event`, `segment`, `date_trait`".into());
        }
        if let Some(name) = &t.date_trait
            && (name.trim().is_empty() || name.contains(['"', '\\']))
        {
            return Err(format!(
                "date trait `{name}` must be a trait name without quotes or backslashes"
            ));
        }
        if let Some(at) = &t.at
            && parse_time_of_day(at).is_none()
        {
            return Err(format!("trigger time `{at}` is not `HH:MM`"));
        }
        if !(0.0..1.0).contains(&self.holdout) {
            return Err(format!("holdout `{}` must be in [0, 1)", self.holdout));
        }
        if !matches!(self.reentry.as_str(), "never" | "after_exit")
            && parse_duration(&self.reentry).is_none()
        {
            return Err(format!(
                "reentry `{}` must be `never`, `after_exit` or a duration such as `30d`",
                self.reentry
            ));
        }
        if self.steps.is_empty() {
            return Err("a journey needs at least one step".into());
        }
        let index_of = |id: &str| self.steps.iter().position(|s| s.id == id);
        let mut kinds = Vec::with_capacity(self.steps.len());
        for (index, step) in self.steps.iter().enumerate() {
            if index_of(&step.id) != Some(index) {
                return Err(format!("step id `{}` is used twice", step.id));
            }
            let set = [
                step.wait.is_some(),
                step.branch.is_some(),
                step.send_email.is_some(),
                step.decide.is_some(),
                step.set_trait.is_some(),
                step.webhook.is_some(),
            ];
            if set.iter().filter(|b| **b).count() != 1 {
                return Err(format!(
                    "step `{}` needs exactly one of wait, branch, send_email, decide, set_trait, webhook",
                    step.id
                ));
            }
            let forward = |target: &str| match index_of(target) {
                Some(to) if to > index => Ok(to),
                Some(_) => Err(format!(
                    "step `{}` jumps back to `{target}`; branches only jump forward",
                    step.id
                )),
                None => Err(format!(
                    "step `{}` jumps to unknown step `{target}`",
                    step.id
                )),
            };
            let kind = if let Some(wait) = &step.wait {
                match (&wait.duration, &wait.until) {
                    (Some(d), None) => Kind::WaitFor(parse_duration(d).ok_or_else(|| {
                        format!(
                            "step `{}`: duration `{d}` is not like `30m`, `2h`, `7d`",
                            step.id
                        )
                    })?),
                    (None, Some(u)) => Kind::WaitUntil(parse_time_of_day(u).ok_or_else(|| {
                        format!("step `{}`: `until` `{u}` is not `HH:MM`", step.id)
                    })?),
                    _ => {
                        return Err(format!(
                            "step `{}`: a wait needs exactly one of `duration`, `until`",
                            step.id
                        ));
                    }
                }
            } else if let Some(branch) = &step.branch {
                Kind::Branch {
                    condition: branch.condition.clone(),
                    then: forward(&branch.then)?,
                    otherwise: match &branch.otherwise {
                        Some(target) => forward(target)?,
                        None => index + 1,
                    },
                }
            } else if let Some(send) = &step.send_email {
                if !matches!(
                    send.kind.as_deref(),
                    None | Some("marketing" | "transactional")
                ) {
                    return Err(format!(
                        "step `{}`: kind must be `marketing` or `transactional`",
                        step.id
                    ));
                }
                Kind::SendEmail(send.clone())
            } else if let Some(decide) = &step.decide {
                Kind::Decide(decide.clone())
            } else if let Some(set) = &step.set_trait {
                Kind::SetTrait(set.clone())
            } else if let Some(hook) = &step.webhook {
                Kind::Webhook(hook.clone())
            } else {
                return Err(format!("step `{}` does nothing", step.id));
            };
            kinds.push(kind);
        }
        Ok(kinds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_yaml_and_json_and_names_mistakes() {
        let yaml = "trigger: { event: Signed Up }\nsteps:\n  - { id: w, wait: { duration: 2h } }\n  - { id: s, send_email: { template: t } }\n";
        let (_, kinds) = JourneyDef::parse(yaml).unwrap();
        assert_eq!(kinds[0], Kind::WaitFor(7_200_000));
        let json = r#"{"trigger":{"segment":"vip"},"steps":[{"id":"b","branch":{"if":"true","then":"s"}},{"id":"x","webhook":{"event":"e"}},{"id":"s","set_trait":{"name":"a","value":1}}]}"#;
        let (_, kinds) = JourneyDef::parse(json).unwrap();
        assert!(matches!(
            kinds[0],
            Kind::Branch {
                then: 2,
                otherwise: 1,
                ..
            }
        ));
        let back = r#"{"trigger":{"event":"e"},"steps":[{"id":"s","set_trait":{"name":"a","value":1}},{"id":"b","branch":{"if":"true","then":"s"}}]}"#;
        assert!(JourneyDef::parse(back).unwrap_err().contains("forward"));
        let two = r#"{"trigger":{"event":"e","segment":"s"},"steps":[{"id":"s","webhook":{"event":"e"}}]}"#;
        assert!(JourneyDef::parse(two).unwrap_err().contains("exactly one"));
        let bad = r#"{"trigger":{"event":"e"},"steps":[{"id":"w","wait":{"duration":"2 weeks"}}]}"#;
        assert!(JourneyDef::parse(bad).unwrap_err().contains("2 weeks"));
    }
}
