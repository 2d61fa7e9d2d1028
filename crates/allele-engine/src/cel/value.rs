//! Runtime values of the evaluator. Strings, lists and maps sit behind `Arc`
//! so that loading a slot or a constant is a reference-count bump, not a copy.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

/// Nanoseconds per millisecond: timestamps and durations are kept in
/// nanoseconds (as CEL's are), the engine's clock comes in milliseconds.
pub const NANOS_PER_MILLI: i128 = 1_000_000;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Double(f64),
    String(Arc<str>),
    List(Arc<[Value]>),
    Map(Arc<BTreeMap<MapKey, Value>>),
    /// Nanoseconds since the Unix epoch.
    Timestamp(i128),
    /// Nanoseconds.
    Duration(i128),
}

/// Map keys: CEL allows bool, int, uint and string keys.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum MapKey {
    Bool(bool),
    Int(i64),
    Uint(u64),
    String(Arc<str>),
}

impl MapKey {
    pub fn from_value(value: &Value) -> Option<MapKey> {
        match value {
            Value::Bool(b) => Some(MapKey::Bool(*b)),
            Value::Int(i) => Some(MapKey::Int(*i)),
            Value::Uint(u) => Some(MapKey::Uint(*u)),
            Value::String(s) => Some(MapKey::String(s.clone())),
            _ => None,
        }
    }

    pub fn to_value(&self) -> Value {
        match self {
            MapKey::Bool(b) => Value::Bool(*b),
            MapKey::Int(i) => Value::Int(*i),
            MapKey::Uint(u) => Value::Uint(*u),
            MapKey::String(s) => Value::String(s.clone()),
        }
    }
}

impl Value {
    pub fn string(text: &str) -> Value {
        Value::String(Arc::from(text))
    }

    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Null => "null_type",
            Value::Bool(_) => "bool",
            Value::Int(_) => "int",
            Value::Uint(_) => "uint",
            Value::Double(_) => "double",
            Value::String(_) => "string",
            Value::List(_) => "list",
            Value::Map(_) => "map",
            Value::Timestamp(_) => "timestamp",
            Value::Duration(_) => "duration",
        }
    }

    /// Converts JSON into a value. Integral JSON numbers become `int` (or
    /// `uint` above `i64::MAX`), others `double`: traits arrive as JSON and
    /// `age >= 18` should read naturally.
    pub fn from_json(json: &serde_json::Value) -> Value {
        match json {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => {
                if let Some(i) = n.as_i64() {
                    Value::Int(i)
                } else if let Some(u) = n.as_u64() {
                    Value::Uint(u)
                } else {
                    Value::Double(n.as_f64().unwrap_or(f64::NAN))
                }
            }
            serde_json::Value::String(s) => Value::string(s),
            serde_json::Value::Array(items) => {
                Value::List(items.iter().map(Value::from_json).collect())
            }
            serde_json::Value::Object(map) => Value::Map(Arc::new(
                map.iter()
                    .map(|(k, v)| (MapKey::String(Arc::from(k.as_str())), Value::from_json(v)))
                    .collect(),
            )),
        }
    }

    /// Converts a value back into JSON (for explanations and the FFI).
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Int(i) => serde_json::Value::from(*i),
            Value::Uint(u) => serde_json::Value::from(*u),
            Value::Double(d) => serde_json::Number::from_f64(*d)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            Value::String(s) => serde_json::Value::String(s.to_string()),
            Value::List(items) => items.iter().map(Value::to_json).collect(),
            Value::Map(map) => serde_json::Value::Object(
                map.iter()
                    .map(|(k, v)| {
                        let key = match k {
                            MapKey::String(s) => s.to_string(),
                            other => other.to_value().to_string(),
                        };
                        (key, v.to_json())
                    })
                    .collect(),
            ),
            Value::Timestamp(_) | Value::Duration(_) => serde_json::Value::String(self.to_string()),
        }
    }

    /// The numeric value as f64 for int, uint and double.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Uint(u) => Some(*u as f64),
            Value::Double(d) => Some(*d),
            _ => None,
        }
    }
}

/// A number of any of CEL's three kinds, copied out of wherever it lies.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    Uint(u64),
    Double(f64),
}

impl Number {
    #[inline]
    pub fn of(value: &Value) -> Option<Number> {
        match value {
            Value::Int(i) => Some(Number::Int(*i)),
            Value::Uint(u) => Some(Number::Uint(*u)),
            Value::Double(d) => Some(Number::Double(*d)),
            _ => None,
        }
    }

    pub fn to_value(self) -> Value {
        match self {
            Number::Int(i) => Value::Int(i),
            Number::Uint(u) => Value::Uint(u),
            Number::Double(d) => Value::Double(d),
        }
    }
}

/// CEL's heterogeneous numeric comparison: ints, uints and doubles compare
/// by their mathematical value. `None` means "not comparable" (including NaN).
pub fn compare_numbers(left: &Value, right: &Value) -> Option<Ordering> {
    compare(Number::of(left)?, Number::of(right)?)
}

/// [`compare_numbers`] on numbers already taken out of their values.
#[inline]
pub fn compare(left: Number, right: Number) -> Option<Ordering> {
    match (left, right) {
        (Number::Int(a), Number::Int(b)) => Some(a.cmp(&b)),
        (Number::Uint(a), Number::Uint(b)) => Some(a.cmp(&b)),
        (Number::Int(a), Number::Uint(b)) => Some(i128::from(a).cmp(&i128::from(b))),
        (Number::Uint(a), Number::Int(b)) => Some(i128::from(a).cmp(&i128::from(b))),
        (Number::Double(a), Number::Double(b)) => a.partial_cmp(&b),
        (Number::Double(a), other) => compare_double_exact(a, other),
        (other, Number::Double(b)) => compare_double_exact(b, other).map(Ordering::reverse),
    }
}

/// Compares a double with an int or uint without the rounding of `as f64`.
fn compare_double_exact(double: f64, integer: Number) -> Option<Ordering> {
    if double.is_nan() {
        return None;
    }
    let wide = match integer {
        Number::Int(i) => i128::from(i),
        Number::Uint(u) => i128::from(u),
        Number::Double(_) => return None,
    };
    // CEL's rule (as cel-go and the conformance suite have it): a double
    // outside the integer type's range is greater or smaller than every
    // value of it; inside, the integer converts to double. At the edge this
    // rounds: `dyn(9223372036854775807) < 9223372036854775808.0` is false.
    let (low, high) = match integer {
        Number::Int(_) => (i64::MIN as f64, i64::MAX as f64),
        _ => (0.0, u64::MAX as f64),
    };
    if double < low {
        return Some(Ordering::Less);
    }
    if double > high {
        return Some(Ordering::Greater);
    }
    double.partial_cmp(&(wide as f64))
}

/// CEL equality: numbers compare across types, lists and maps element-wise,
/// values of different kinds are unequal (never an error).
pub fn values_equal(left: &Value, right: &Value) -> bool {
    match (left, right) {
        (Value::List(a), Value::List(b)) => {
            a.len() == b.len() && a.iter().zip(b.iter()).all(|(x, y)| values_equal(x, y))
        }
        (Value::Map(a), Value::Map(b)) => {
            a.len() == b.len()
                && a.iter()
                    .all(|(k, v)| map_get(b, &k.to_value()).is_some_and(|w| values_equal(v, w)))
        }
        (Value::Double(_) | Value::Int(_) | Value::Uint(_), _) => {
            compare_numbers(left, right) == Some(Ordering::Equal)
        }
        _ => left == right,
    }
}

/// Looks a key up in a map, treating numeric keys across int/uint/double the
/// way CEL's heterogeneous equality does.
pub fn map_get<'a>(map: &'a BTreeMap<MapKey, Value>, key: &Value) -> Option<&'a Value> {
    if let Some(exact) = MapKey::from_value(key).and_then(|k| map.get(&k)) {
        return Some(exact);
    }
    // only numeric keys can match across int/uint/double
    key.as_f64()?;
    map.iter()
        .find(|(k, _)| {
            matches!(k, MapKey::Int(_) | MapKey::Uint(_)) && values_equal(&k.to_value(), key)
        })
        .map(|(_, v)| v)
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => write!(f, "null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Int(i) => write!(f, "{i}"),
            Value::Uint(u) => write!(f, "{u}u"),
            Value::Double(d) => write!(f, "{d:?}"),
            Value::String(s) => write!(f, "{s:?}"),
            Value::List(items) => {
                write!(f, "[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{item}")?;
                }
                write!(f, "]")
            }
            Value::Map(map) => {
                write!(f, "{{")?;
                for (i, (k, v)) in map.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{}: {v}", k.to_value())?;
                }
                write!(f, "}}")
            }
            Value::Timestamp(nanos) => write!(f, "{}", super::time::format_timestamp(*nanos)),
            Value::Duration(nanos) => write!(f, "{}", super::time::format_duration(*nanos)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_compare_across_types() {
        assert_eq!(
            compare_numbers(&Value::Int(18), &Value::Double(18.0)),
            Some(Ordering::Equal)
        );
        assert_eq!(
            compare_numbers(&Value::Double(17.5), &Value::Int(18)),
            Some(Ordering::Less)
        );
        assert_eq!(
            compare_numbers(&Value::Uint(u64::MAX), &Value::Int(-1)),
            Some(Ordering::Greater)
        );
        assert_eq!(
            compare_numbers(&Value::Double(-0.5), &Value::Int(0)),
            Some(Ordering::Less)
        );
        assert_eq!(
            compare_numbers(&Value::Double(f64::NAN), &Value::Int(0)),
            None
        );
    }

    #[test]
    fn json_numbers_become_ints_or_doubles() {
        let json: serde_json::Value = serde_json::json!({"a": 18, "b": 1.5, "c": [true, null]});
        let Value::Map(map) = Value::from_json(&json) else {
            panic!("expected map")
        };
        assert_eq!(map_get(&map, &Value::string("a")), Some(&Value::Int(18)));
        assert_eq!(
            map_get(&map, &Value::string("b")),
            Some(&Value::Double(1.5))
        );
        assert_eq!(Value::from_json(&json).to_json(), json);
    }

    #[test]
    fn equality_is_heterogeneous_for_numbers_only() {
        assert!(values_equal(&Value::Int(1), &Value::Uint(1)));
        assert!(!values_equal(&Value::Int(1), &Value::string("1")));
        assert!(values_equal(
            &Value::List(Arc::from(vec![Value::Int(1)])),
            &Value::List(Arc::from(vec![Value::Double(1.0)]))
        ));
    }
}
