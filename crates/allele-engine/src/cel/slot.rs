//! Slot values borrowed from the decision input, and the operators that can
//! work on them without first building an owned [`Value`].
//!
//! A resolver hands the evaluator a [`SlotValue`]: a string, a JSON array or
//! object, or the profile's segment list stays a reference into the input, so
//! resolving `profile.traits.country` or `profile.segments` allocates
//! nothing. Comparisons and `in` read these views directly; any other use
//! converts the slot to a [`Value`] once (and the activation keeps the
//! converted form), so the general evaluator never sees a borrowed value and
//! every result, error message included, is the one the owned path gives.

use std::borrow::Cow;
use std::cmp::Ordering;

use std::sync::Arc;

use serde_json::Value as Json;

use super::compile::Node;

use super::parser::BinaryOp;
use super::value::{Number, Value, compare};
use crate::decide::ConsentStatus;

/// What a slot resolved to: 16 bytes (a tag and one word), so a resolved
/// slot comes back in registers and is stored into the activation's cache
/// with one write. A 32-byte [`Value`] there (its `i128` timestamps) was
/// built in a stack temporary and copied, stalling on store forwarding;
/// values that are not scalars or borrowed views sit behind an `Arc`.
#[derive(Debug, Clone)]
pub enum SlotValue<'a> {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Double(f64),
    /// A string of the input.
    Str(&'a String),
    /// A consent record's status.
    Consent(ConsentStatus),
    /// A JSON array or object (scalars arrive as scalars or `Str`).
    Json(&'a Json),
    /// A list of strings kept as such in the input (`profile.segments`).
    Strings(&'a Vec<String>),
    /// Any other value: built by a resolver, or a borrowed slot converted
    /// once by the general evaluator.
    Owned(Arc<Value>),
}

// what the activation's cache holds per slot: kept to two words, see above
const _: () = assert!(size_of::<Option<Option<SlotValue<'static>>>>() <= 16);

impl<'a> SlotValue<'a> {
    /// Borrows what can be borrowed: strings, arrays and objects.
    #[inline(always)]
    pub fn from_json(json: &'a Json) -> SlotValue<'a> {
        match json {
            Json::String(s) => SlotValue::Str(s),
            Json::Array(_) | Json::Object(_) => SlotValue::Json(json),
            Json::Null => SlotValue::Null,
            Json::Bool(b) => SlotValue::Bool(*b),
            // as `Value::from_json` reads numbers
            Json::Number(n) => {
                if let Some(i) = n.as_i64() {
                    SlotValue::Int(i)
                } else if let Some(u) = n.as_u64() {
                    SlotValue::Uint(u)
                } else {
                    SlotValue::Double(n.as_f64().unwrap_or(f64::NAN))
                }
            }
        }
    }

    /// A value a resolver built: scalars are kept as such.
    pub fn from_value(value: Value) -> SlotValue<'static> {
        match value {
            Value::Null => SlotValue::Null,
            Value::Bool(b) => SlotValue::Bool(b),
            Value::Int(i) => SlotValue::Int(i),
            Value::Uint(u) => SlotValue::Uint(u),
            Value::Double(d) => SlotValue::Double(d),
            other => SlotValue::Owned(Arc::new(other)),
        }
    }

    /// The owned value the evaluator's general path works on.
    pub fn to_value(&self) -> Value {
        self.view().to_value().into_owned()
    }

    /// Whether [`SlotValue::to_value`] copies no more than a word or a
    /// reference count, so the converted form need not be kept.
    #[inline]
    pub fn is_cheap(&self) -> bool {
        matches!(
            self,
            SlotValue::Null
                | SlotValue::Bool(_)
                | SlotValue::Int(_)
                | SlotValue::Uint(_)
                | SlotValue::Double(_)
                | SlotValue::Owned(_)
        )
    }

    #[inline(always)]
    pub fn view(&self) -> View<'_> {
        match self {
            SlotValue::Null => View::Null,
            SlotValue::Bool(b) => View::Bool(*b),
            SlotValue::Int(i) => View::Number(Number::Int(*i)),
            SlotValue::Uint(u) => View::Number(Number::Uint(*u)),
            SlotValue::Double(d) => View::Number(Number::Double(*d)),
            SlotValue::Str(s) => View::Str(s),
            SlotValue::Consent(status) => View::Str(status.as_str()),
            SlotValue::Json(json) => View::Json(json),
            SlotValue::Strings(items) => View::Strings(items),
            SlotValue::Owned(value) => View::Value(value),
        }
    }
}

/// A read-only look at an operand, whatever holds it.
#[derive(Debug, Clone, Copy)]
pub enum View<'v> {
    Value(&'v Value),
    Null,
    Bool(bool),
    Number(Number),
    Str(&'v str),
    Json(&'v Json),
    Strings(&'v [String]),
}

/// A boolean or a number, the operands [`scalar_relation`] settles.
#[derive(Clone, Copy)]
enum Scalar {
    Bool(bool),
    Number(Number),
}

impl<'v> View<'v> {
    #[inline(always)]
    pub fn as_str(self) -> Option<&'v str> {
        match self {
            View::Str(s) => Some(s),
            View::Value(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    #[inline(always)]
    fn scalar(self) -> Option<Scalar> {
        match self {
            View::Bool(b) => Some(Scalar::Bool(b)),
            View::Value(Value::Bool(b)) => Some(Scalar::Bool(*b)),
            View::Number(n) => Some(Scalar::Number(n)),
            View::Value(value) => Number::of(value).map(Scalar::Number),
            _ => None,
        }
    }

    /// The length `in` charges to the step budget: the list's length, as the
    /// owned path charges it.
    #[inline(always)]
    pub fn list_len(self) -> Option<usize> {
        match self {
            View::Value(Value::List(items)) => Some(items.len()),
            View::Strings(items) => Some(items.len()),
            View::Json(Json::Array(items)) => Some(items.len()),
            _ => None,
        }
    }

    pub fn to_value(self) -> Cow<'v, Value> {
        match self {
            View::Value(value) => Cow::Borrowed(value),
            View::Null => Cow::Owned(Value::Null),
            View::Bool(b) => Cow::Owned(Value::Bool(b)),
            View::Number(n) => Cow::Owned(n.to_value()),
            View::Str(s) => Cow::Owned(Value::string(s)),
            View::Json(json) => Cow::Owned(Value::from_json(json)),
            View::Strings(items) => Cow::Owned(Value::List(
                items.iter().map(|s| Value::string(s)).collect(),
            )),
        }
    }
}

/// Comparison and membership on views, where the answer needs no owned
/// value. `None` means "take the owned path", which then decides (and words
/// any error) exactly as before.
#[inline]
pub fn fast_relation(op: BinaryOp, left: View<'_>, right: View<'_>) -> Option<bool> {
    if let (Some(a), Some(b)) = (left.scalar(), right.scalar()) {
        return scalar_relation(op, a, b);
    }
    if let (View::Value(_), View::Value(_)) = (left, right) {
        return None;
    }
    let ordered = |test: fn(Ordering) -> bool| -> Option<bool> {
        Some(test(left.as_str()?.cmp(right.as_str()?)))
    };
    match op {
        BinaryOp::Eq => Some(same_text(left.as_str()?, right.as_str()?)),
        BinaryOp::Ne => Some(!same_text(left.as_str()?, right.as_str()?)),
        BinaryOp::Lt => ordered(Ordering::is_lt),
        BinaryOp::Le => ordered(Ordering::is_le),
        BinaryOp::Gt => ordered(Ordering::is_gt),
        BinaryOp::Ge => ordered(Ordering::is_ge),
        BinaryOp::In => {
            // CEL equality between a string and any other kind is false, so
            // a string needle matches only equal strings.
            let needle = left.as_str()?;
            match right {
                View::Strings(items) => Some(items.iter().any(|item| same_text(item, needle))),
                View::Value(Value::List(items)) => Some(
                    items
                        .iter()
                        .any(|item| matches!(item, Value::String(s) if same_text(s, needle))),
                ),
                View::Json(Json::Array(items)) => Some(
                    items
                        .iter()
                        .any(|item| matches!(item, Json::String(s) if same_text(s, needle))),
                ),
                _ => None,
            }
        }
        _ => None,
    }
}

/// String equality without a call to `memcmp` for the short strings rules
/// compare (country codes, segment names, trait keys), where the call costs
/// more than the comparison.
#[inline(always)]
pub(super) fn same_text(left: &str, right: &str) -> bool {
    let (left, right) = (left.as_bytes(), right.as_bytes());
    if left.len() != right.len() {
        return false;
    }
    if left.len() > 16 {
        return left == right;
    }
    left.iter().zip(right).all(|(a, b)| a == b)
}

/// Numbers (across int, uint and double, as CEL compares them) and booleans.
#[inline]
fn scalar_relation(op: BinaryOp, left: Scalar, right: Scalar) -> Option<bool> {
    let (left, right) = match (left, right) {
        (Scalar::Bool(a), Scalar::Bool(b)) => {
            return match op {
                BinaryOp::Eq => Some(a == b),
                BinaryOp::Ne => Some(a != b),
                _ => None,
            };
        }
        (Scalar::Number(a), Scalar::Number(b)) => (a, b),
        _ => return None,
    };
    // `None` is NaN: unordered, unequal
    let ordering = compare(left, right);
    match op {
        BinaryOp::Eq => Some(ordering == Some(Ordering::Equal)),
        BinaryOp::Ne => Some(ordering != Some(Ordering::Equal)),
        BinaryOp::Lt => Some(ordering == Some(Ordering::Less)),
        BinaryOp::Le => Some(matches!(ordering, Some(Ordering::Less | Ordering::Equal))),
        BinaryOp::Gt => Some(ordering == Some(Ordering::Greater)),
        BinaryOp::Ge => Some(matches!(
            ordering,
            Some(Ordering::Greater | Ordering::Equal)
        )),
        _ => None,
    }
}

/// Constant lists at least this long get a sorted index for `in`; shorter
/// ones are scanned, which is as fast.
const INDEXED_LIST_LEN: usize = 8;

/// A constant list of strings with a sorted copy for binary search, chosen at
/// compile time for `needle in [...]`.
#[derive(Debug)]
pub struct ConstStrings {
    list: Value,
    len: usize,
    sorted: Box<[Arc<str>]>,
}

impl ConstStrings {
    pub(super) fn from_node(node: &Node) -> Option<ConstStrings> {
        let Node::Const(list @ Value::List(items)) = node else {
            return None;
        };
        if items.len() < INDEXED_LIST_LEN {
            return None;
        }
        let mut sorted = Vec::with_capacity(items.len());
        for item in items.iter() {
            let Value::String(text) = item else {
                return None;
            };
            sorted.push(text.clone());
        }
        sorted.sort_unstable();
        sorted.dedup();
        Some(ConstStrings {
            list: list.clone(),
            len: items.len(),
            sorted: sorted.into_boxed_slice(),
        })
    }

    /// The list as written (duplicates included).
    pub fn list(&self) -> &Value {
        &self.list
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn contains(&self, text: &str) -> bool {
        self.sorted
            .binary_search_by(|item| (**item).cmp(text))
            .is_ok()
    }
}
