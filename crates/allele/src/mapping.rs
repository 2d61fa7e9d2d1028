//! Column mappings for `allele import`: which CSV column (or constant) feeds
//! which Segment field. Given as a YAML/JSON file or inline as
//! `type=track,event=Purchase,user_id=customer,properties.revenue=amount`.

use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Constant message type (identify, track, page, …). Default: the `type`
    /// column if any, else `track`.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// Constant event name for track rows.
    pub event: Option<String>,
    /// Column holding the event name.
    pub event_column: Option<String>,
    pub user_id: Option<String>,
    pub anonymous_id: Option<String>,
    pub timestamp: Option<String>,
    pub message_id: Option<String>,
    /// property name → column
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
    /// trait name → column
    #[serde(default)]
    pub traits: BTreeMap<String, String>,
}

const AUTO_COLUMNS: &[(&str, &str)] = &[
    ("type", "type"),
    ("userId", "user_id"),
    ("user_id", "user_id"),
    ("anonymousId", "anonymous_id"),
    ("anonymous_id", "anonymous_id"),
    ("event", "event_column"),
    ("timestamp", "timestamp"),
    ("messageId", "message_id"),
    ("message_id", "message_id"),
];

impl Mapping {
    /// Read `--map`: a file path, or inline `key=value` pairs.
    pub fn load(spec: &str) -> Result<Mapping, String> {
        let path = std::path::Path::new(spec);
        if path.is_file() {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read mapping `{spec}`: {e}"))?;
            return serde_yaml_ng::from_str(&text)
                .map_err(|e| format!("mapping `{spec}` is invalid: {e}"));
        }
        let mut mapping = Mapping::default();
        for pair in spec.split(',').filter(|p| !p.trim().is_empty()) {
            let (key, value) = pair
                .split_once('=')
                .ok_or_else(|| format!("mapping entry `{pair}` is not `field=column`"))?;
            let (key, value) = (key.trim(), value.trim().to_string());
            if let Some(name) = key.strip_prefix("properties.") {
                mapping.properties.insert(name.to_string(), value);
                continue;
            }
            if let Some(name) = key.strip_prefix("traits.") {
                mapping.traits.insert(name.to_string(), value);
                continue;
            }
            let slot = match key {
                "type" => &mut mapping.kind,
                "event" => &mut mapping.event,
                "event_column" => &mut mapping.event_column,
                "user_id" => &mut mapping.user_id,
                "anonymous_id" => &mut mapping.anonymous_id,
                "timestamp" => &mut mapping.timestamp,
                "message_id" => &mut mapping.message_id,
                other => {
                    return Err(format!(
                        "unknown mapping field `{other}`; use type, event, event_column, user_id, anonymous_id, timestamp, message_id, properties.X or traits.X"
                    ));
                }
            };
            *slot = Some(value);
        }
        Ok(mapping)
    }

    /// Fill what the mapping leaves open from well-known header names; every
    /// other column becomes a property (track) or trait (identify).
    pub fn complete(mut self, headers: &[String]) -> Result<Mapping, String> {
        let explicit = !self.properties.is_empty() || !self.traits.is_empty();
        for (column, field) in AUTO_COLUMNS {
            if !headers.iter().any(|h| h == column) {
                continue;
            }
            let slot = match *field {
                "type" => &mut self.kind,
                "user_id" => &mut self.user_id,
                "anonymous_id" => &mut self.anonymous_id,
                "event_column" if self.event.is_none() => &mut self.event_column,
                "timestamp" => &mut self.timestamp,
                "message_id" => &mut self.message_id,
                _ => continue,
            };
            if slot.is_none() && *field != "type" {
                *slot = Some((*column).to_string());
            }
        }
        for column in [
            &self.user_id,
            &self.anonymous_id,
            &self.timestamp,
            &self.message_id,
            &self.event_column,
        ]
        .into_iter()
        .flatten()
        .chain(self.properties.values())
        .chain(self.traits.values())
        {
            if !headers.contains(column) {
                return Err(format!(
                    "mapping names column `{column}`, which the file does not have"
                ));
            }
        }
        if !explicit {
            let used: Vec<&String> = [
                &self.user_id,
                &self.anonymous_id,
                &self.timestamp,
                &self.message_id,
                &self.event_column,
            ]
            .into_iter()
            .flatten()
            .collect();
            let identify = self.kind.as_deref() == Some("identify");
            for header in headers {
                if used.contains(&header) || header == "type" {
                    continue;
                }
                let target = if identify {
                    &mut self.traits
                } else {
                    &mut self.properties
                };
                target.insert(header.clone(), header.clone());
            }
        }
        Ok(self)
    }

    /// Build a Segment message object from one CSV row.
    pub fn row_to_object(&self, headers: &[String], row: &csv::StringRecord) -> Map<String, Value> {
        let cell = |column: &str| -> Option<&str> {
            let index = headers.iter().position(|h| h == column)?;
            row.get(index).filter(|v| !v.is_empty())
        };
        let mut object = Map::new();
        let kind = match (&self.kind, headers.iter().any(|h| h == "type")) {
            (Some(kind), _) => kind.clone(),
            (None, true) => cell("type").unwrap_or("track").to_string(),
            (None, false) => "track".to_string(),
        };
        object.insert("type".into(), Value::String(kind));
        if let Some(event) = &self.event {
            object.insert("event".into(), Value::String(event.clone()));
        } else if let Some(value) = self.event_column.as_deref().and_then(cell) {
            object.insert("event".into(), Value::String(value.to_string()));
        }
        for (field, column) in [
            ("userId", &self.user_id),
            ("anonymousId", &self.anonymous_id),
            ("timestamp", &self.timestamp),
            ("messageId", &self.message_id),
        ] {
            if let Some(value) = column.as_deref().and_then(cell) {
                object.insert(field.into(), Value::String(value.to_string()));
            }
        }
        for (field, columns) in [("properties", &self.properties), ("traits", &self.traits)] {
            if columns.is_empty() {
                continue;
            }
            let mut values = Map::new();
            for (name, column) in columns {
                if let Some(value) = cell(column) {
                    values.insert(name.clone(), typed_cell(value));
                }
            }
            object.insert(field.into(), Value::Object(values));
        }
        object
    }
}

/// Numbers and booleans in CSV become JSON numbers and booleans; text with
/// leading zeros (postcodes, account numbers) stays text.
pub fn typed_cell(text: &str) -> Value {
    match text {
        "true" => return Value::Bool(true),
        "false" => return Value::Bool(false),
        _ => {}
    }
    let leading_zero = text.len() > 1 && text.starts_with('0') && !text.starts_with("0.");
    if !leading_zero {
        if let Ok(int) = text.parse::<i64>() {
            return Value::from(int);
        }
        if let Ok(float) = text.parse::<f64>()
            && float.is_finite()
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.' || b == b'-')
        {
            return Value::from(float);
        }
    }
    Value::String(text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_mapping_reads_fields_and_nested_columns() {
        let m = Mapping::load("type=track,event=Purchase,user_id=cust,properties.revenue=amount")
            .unwrap();
        assert_eq!(m.kind.as_deref(), Some("track"));
        assert_eq!(m.event.as_deref(), Some("Purchase"));
        assert_eq!(
            m.properties.get("revenue").map(String::as_str),
            Some("amount")
        );
        assert!(
            Mapping::load("bogus=1")
                .unwrap_err()
                .contains("unknown mapping field `bogus`")
        );
    }

    #[test]
    fn typed_cells() {
        assert_eq!(typed_cell("12"), Value::from(12));
        assert_eq!(typed_cell("12.5"), Value::from(12.5));
        assert_eq!(typed_cell("007"), Value::from("007"));
        assert_eq!(typed_cell("1e5x"), Value::from("1e5x"));
        assert_eq!(typed_cell("inf"), Value::from("inf"));
        assert_eq!(typed_cell("true"), Value::Bool(true));
    }

    #[test]
    fn missing_column_is_an_error() {
        let headers = vec!["a".to_string()];
        let err = Mapping::load("user_id=cust")
            .unwrap()
            .complete(&headers)
            .unwrap_err();
        assert!(err.contains("`cust`"));
    }
}
