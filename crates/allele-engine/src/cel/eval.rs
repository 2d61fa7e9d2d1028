//! Evaluates compiled [`Node`]s. Slots are resolved lazily, at most once per
//! [`Activation`] (one decision), through a [`Resolver`] the caller provides.
//! Every node visit costs one step of a budget, so evaluation is bounded even
//! over large lists; every failure is an [`EvalError`], never a panic.

use std::cmp::Ordering;
use std::sync::Arc;

pub use super::activation::{Activation, Resolver};
use super::compile::{MacroKind, Node};
use super::functions;
use super::parser::BinaryOp;
use super::slot::{SlotValue, View, fast_relation};
use super::time;
use super::value::{MapKey, Value, compare_numbers, map_get, values_equal};

/// Steps one evaluation may take before it fails.
pub const MAX_STEPS: u32 = 100_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvalError {
    pub message: String,
}

impl EvalError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
        }
    }
}

impl std::fmt::Display for EvalError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// An operand of a relation, seen where it lies: a constant of the tree, a
/// slot of the input, or a value computed on the way.
pub(super) enum Operand<'n, 'a> {
    Const(&'n Value),
    Slot(SlotValue<'a>),
    Computed(Value),
}

impl Operand<'_, '_> {
    #[inline]
    pub(super) fn view(&self) -> View<'_> {
        match self {
            Operand::Const(value) => View::Value(value),
            Operand::Slot(slot) => slot.view(),
            Operand::Computed(value) => View::Value(value),
        }
    }
}

/// Evaluates a node to a value.
///
/// A boolean rule first goes through [`Frame::test`], which answers without
/// building values; when it cannot answer (an error, a non-boolean, a
/// construct it does not know) the rule is evaluated again from the start on
/// the general path with a fresh budget, so results, error messages and the
/// step budget are exactly the general path's.
pub fn evaluate(node: &Node, activation: &mut Activation<'_>) -> Result<Value, EvalError> {
    let mut frame = Frame {
        activation,
        locals: Vec::new(),
        steps: MAX_STEPS,
    };
    if let Some(answer) = frame.test(node) {
        return Ok(Value::Bool(answer));
    }
    frame.locals.clear();
    frame.steps = MAX_STEPS;
    frame.eval(node)
}

/// The general path alone, for tests that hold the fast path to it.
#[cfg(test)]
pub(crate) fn evaluate_general(
    node: &Node,
    activation: &mut Activation<'_>,
) -> Result<Value, EvalError> {
    let mut frame = Frame {
        activation,
        locals: Vec::new(),
        steps: MAX_STEPS,
    };
    frame.eval(node)
}

pub(super) struct Frame<'f, 'a> {
    pub(super) activation: &'f mut Activation<'a>,
    locals: Vec<Value>,
    pub(super) steps: u32,
}

#[cold]
fn over_budget() -> EvalError {
    EvalError::new(format!(
        "evaluation exceeded its budget of {MAX_STEPS} steps"
    ))
}

fn type_error(op: &str, args: &[&Value]) -> EvalError {
    let types: Vec<&str> = args.iter().map(|v| v.type_name()).collect();
    EvalError::new(format!(
        "no such overload `{}`",
        match types.as_slice() {
            [a, b] => format!("{a} {op} {b}"),
            [a] => format!("{op}{a}"),
            _ => op.to_string(),
        }
    ))
}

impl<'a> Frame<'_, 'a> {
    #[inline]
    pub(super) fn charge(&mut self, cost: usize) -> Result<(), EvalError> {
        let cost = u32::try_from(cost).unwrap_or(u32::MAX);
        match self.steps.checked_sub(cost) {
            Some(left) => {
                self.steps = left;
                Ok(())
            }
            None => Err(over_budget()),
        }
    }

    pub(super) fn eval(&mut self, node: &Node) -> Result<Value, EvalError> {
        self.charge(1)?;
        match node {
            Node::Const(value) => Ok(value.clone()),
            Node::Slot(id) => self.activation.slot_value(*id),
            Node::HasSlot(id) => Ok(Value::Bool(self.activation.slot(*id)?.is_some())),
            Node::Now => Ok(Value::Timestamp(self.activation.now)),
            Node::Var(index) => self
                .locals
                .get(usize::from(*index))
                .cloned()
                .ok_or_else(|| EvalError::new("internal error: unbound variable")),
            Node::Select(operand, field) => match self.eval(operand)? {
                Value::Map(map) => map_get(&map, &Value::String(field.clone()))
                    .cloned()
                    .ok_or_else(|| EvalError::new(format!("no such key: `{field}`"))),
                other => Err(EvalError::new(format!(
                    "a {} has no field `{field}`",
                    other.type_name()
                ))),
            },
            Node::HasField(operand, field) => match self.eval(operand)? {
                Value::Map(map) => Ok(Value::Bool(
                    map_get(&map, &Value::String(field.clone())).is_some(),
                )),
                other => Err(EvalError::new(format!(
                    "`has` needs a map, found {}",
                    other.type_name()
                ))),
            },
            Node::Index(operand, index) => {
                let target = self.eval(operand)?;
                let key = self.eval(index)?;
                index_value(&target, &key)
            }
            Node::List(items) => {
                let mut values = Vec::with_capacity(items.len());
                for item in items {
                    values.push(self.eval(item)?);
                }
                Ok(Value::List(Arc::from(values)))
            }
            Node::Map(entries) => {
                let mut map = std::collections::BTreeMap::new();
                for (key, value) in entries {
                    let key_value = self.eval(key)?;
                    let key = MapKey::from_value(&key_value).ok_or_else(|| {
                        EvalError::new(format!("a {} cannot be a map key", key_value.type_name()))
                    })?;
                    let value = self.eval(value)?;
                    // `{0: 1, 0u: 2}` repeats a key: 0 == 0u in CEL
                    let twin = match &key {
                        MapKey::Int(i) => u64::try_from(*i).ok().map(MapKey::Uint),
                        MapKey::Uint(u) => i64::try_from(*u).ok().map(MapKey::Int),
                        _ => None,
                    };
                    if twin.is_some_and(|twin| map.contains_key(&twin))
                        || map.insert(key, value).is_some()
                    {
                        return Err(EvalError::new(format!("duplicate map key {key_value}")));
                    }
                }
                Ok(Value::Map(Arc::new(map)))
            }
            Node::Not(operand) => match self.eval(operand)? {
                Value::Bool(b) => Ok(Value::Bool(!b)),
                other => Err(type_error("!", &[&other])),
            },
            Node::Neg(operand) => match self.eval(operand)? {
                Value::Int(i) => i
                    .checked_neg()
                    .map(Value::Int)
                    .ok_or_else(|| EvalError::new("integer overflow")),
                Value::Double(d) => Ok(Value::Double(-d)),
                Value::Duration(d) => Ok(Value::Duration(-d)),
                other => Err(type_error("-", &[&other])),
            },
            Node::And(left, right) => self.logic(left, right, false),
            Node::Or(left, right) => self.logic(left, right, true),
            Node::Cond(cond, then, otherwise) => match self.eval(cond)? {
                Value::Bool(true) => self.eval(then),
                Value::Bool(false) => self.eval(otherwise),
                other => Err(type_error("?:", &[&other])),
            },
            Node::Binary(op, left, right) => {
                let left = self.operand(left)?;
                let right = self.operand(right)?;
                let (left, right) = (left.view(), right.view());
                if *op == BinaryOp::In
                    && let Some(len) = right.list_len()
                {
                    self.charge(len)?;
                }
                // owned values go straight to the operators; borrowed strings
                // and lists are compared in place when that settles it
                if let (View::Value(left), View::Value(right)) = (left, right) {
                    return binary(*op, left, right);
                }
                if let Some(answer) = fast_relation(*op, left, right) {
                    return Ok(Value::Bool(answer));
                }
                binary(*op, &left.to_value(), &right.to_value())
            }
            Node::InStrings(needle, set) => {
                let needle = self.operand(needle)?;
                // what the constant list node and `in` over it cost
                self.charge(1)?;
                self.charge(set.len())?;
                let needle = needle.view();
                match needle.as_str() {
                    Some(text) => Ok(Value::Bool(set.contains(text))),
                    None => binary(BinaryOp::In, &needle.to_value(), set.list()),
                }
            }
            Node::Call(func, args) => match args.as_slice() {
                [a] => {
                    let a = self.eval(a)?;
                    functions::call(func, &[a])
                }
                [a, b] => {
                    let a = self.eval(a)?;
                    let b = self.eval(b)?;
                    functions::call(func, &[a, b])
                }
                _ => {
                    let mut values = Vec::with_capacity(args.len());
                    for arg in args {
                        values.push(self.eval(arg)?);
                    }
                    functions::call(func, &values)
                }
            },
            Node::Comprehension {
                kind,
                range,
                var,
                body,
            } => {
                let range = self.eval(range)?;
                self.comprehension(*kind, &range, *var, body)
            }
        }
    }

    /// Evaluates a node for a relation without copying constants or
    /// converting slots; costs the same steps as [`Frame::eval`].
    #[inline]
    pub(super) fn operand<'n>(&mut self, node: &'n Node) -> Result<Operand<'n, 'a>, EvalError> {
        match node {
            Node::Const(value) => {
                self.charge(1)?;
                Ok(Operand::Const(value))
            }
            Node::Slot(id) => {
                self.charge(1)?;
                match self.activation.slot(*id)? {
                    Some(slot) => Ok(Operand::Slot(slot.clone())),
                    None => Err(self.activation.missing(*id)),
                }
            }
            _ => self.eval(node).map(Operand::Computed),
        }
    }

    /// CEL's commutative `&&`/`||`: a decisive operand wins over an error on
    /// the other side (`false && error` and `error && false` are both false).
    fn logic(&mut self, left: &Node, right: &Node, decisive: bool) -> Result<Value, EvalError> {
        let left = self.eval(left);
        if let Ok(Value::Bool(b)) = left
            && b == decisive
        {
            return Ok(Value::Bool(decisive));
        }
        let right = self.eval(right);
        let op = if decisive { "||" } else { "&&" };
        match (left, right) {
            (_, Ok(Value::Bool(b))) if b == decisive => Ok(Value::Bool(decisive)),
            (Ok(Value::Bool(_)), Ok(Value::Bool(_))) => Ok(Value::Bool(!decisive)),
            (Err(err), _) | (_, Err(err)) => Err(err),
            (Ok(l), Ok(r)) => Err(type_error(op, &[&l, &r])),
        }
    }

    fn comprehension(
        &mut self,
        kind: MacroKind,
        range: &Value,
        var: u16,
        body: &Node,
    ) -> Result<Value, EvalError> {
        let items: Vec<Value> = match range {
            Value::List(items) => items.to_vec(),
            Value::Map(map) => map.keys().map(MapKey::to_value).collect(),
            other => {
                return Err(EvalError::new(format!(
                    "cannot iterate over a {}",
                    other.type_name()
                )));
            }
        };
        if usize::from(var) != self.locals.len() {
            return Err(EvalError::new("internal error: variable scope"));
        }
        let mut results = Vec::with_capacity(items.len());
        for item in items {
            self.locals.push(item.clone());
            let result = self.eval(body);
            self.locals.pop();
            results.push((item, result));
        }
        let mut first_error = None;
        let mut trues = 0usize;
        let mut falses = 0usize;
        let mut mapped = Vec::new();
        for (item, result) in results {
            match (kind, result) {
                (MacroKind::Map, Ok(value)) => mapped.push(value),
                (MacroKind::Filter, Ok(Value::Bool(true))) => mapped.push(item),
                (_, Ok(Value::Bool(true))) => trues += 1,
                (_, Ok(Value::Bool(false))) => falses += 1,
                (_, Ok(other)) => {
                    first_error.get_or_insert(type_error("predicate ", &[&other]));
                }
                (_, Err(err)) => {
                    first_error.get_or_insert(err);
                }
            }
        }
        match kind {
            MacroKind::All if falses > 0 => Ok(Value::Bool(false)),
            MacroKind::Exists if trues > 0 => Ok(Value::Bool(true)),
            _ if first_error.is_some() => {
                Err(first_error.unwrap_or_else(|| EvalError::new("error")))
            }
            MacroKind::All => Ok(Value::Bool(true)),
            MacroKind::Exists => Ok(Value::Bool(false)),
            MacroKind::ExistsOne => Ok(Value::Bool(trues == 1)),
            MacroKind::Map | MacroKind::Filter => Ok(Value::List(Arc::from(mapped))),
        }
    }
}

fn index_value(target: &Value, key: &Value) -> Result<Value, EvalError> {
    match target {
        Value::List(items) => {
            let position = match key {
                Value::Int(i) => usize::try_from(*i).ok(),
                Value::Uint(u) => usize::try_from(*u).ok(),
                Value::Double(d) if d.fract() == 0.0 && *d >= 0.0 => Some(*d as usize),
                other => return Err(type_error("[]", &[target, other])),
            };
            position
                .and_then(|p| items.get(p))
                .cloned()
                .ok_or_else(|| EvalError::new(format!("index {key} out of range")))
        }
        Value::Map(map) => map_get(map, key)
            .cloned()
            .ok_or_else(|| EvalError::new(format!("no such key: {key}"))),
        other => Err(type_error("[]", &[other, key])),
    }
}

pub(super) fn binary(op: BinaryOp, left: &Value, right: &Value) -> Result<Value, EvalError> {
    match op {
        BinaryOp::Eq => Ok(Value::Bool(values_equal(left, right))),
        BinaryOp::Ne => Ok(Value::Bool(!values_equal(left, right))),
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            let ordering =
                compare(left, right).ok_or_else(|| type_error(op.symbol(), &[left, right]))?;
            let Some(ordering) = ordering else {
                return Ok(Value::Bool(false)); // NaN compares false
            };
            Ok(Value::Bool(match op {
                BinaryOp::Lt => ordering == Ordering::Less,
                BinaryOp::Le => ordering != Ordering::Greater,
                BinaryOp::Gt => ordering == Ordering::Greater,
                _ => ordering != Ordering::Less,
            }))
        }
        BinaryOp::In => match right {
            Value::List(items) => Ok(Value::Bool(
                items.iter().any(|item| values_equal(item, left)),
            )),
            Value::Map(map) => Ok(Value::Bool(map_get(map, left).is_some())),
            _ => Err(type_error("in", &[left, right])),
        },
        BinaryOp::And | BinaryOp::Or => Err(EvalError::new("internal error: logic operator")),
        _ => arithmetic(op, left, right),
    }
}

/// `Some(None)` means comparable but unordered (NaN); `None` means no overload.
fn compare(left: &Value, right: &Value) -> Option<Option<Ordering>> {
    match (left, right) {
        (Value::String(a), Value::String(b)) => Some(Some(a.cmp(b))),
        (Value::Bool(a), Value::Bool(b)) => Some(Some(a.cmp(b))),
        (Value::Timestamp(a), Value::Timestamp(b)) | (Value::Duration(a), Value::Duration(b)) => {
            Some(Some(a.cmp(b)))
        }
        _ if left.as_f64().is_some() && right.as_f64().is_some() => {
            Some(compare_numbers(left, right))
        }
        _ => None,
    }
}

fn arithmetic(op: BinaryOp, left: &Value, right: &Value) -> Result<Value, EvalError> {
    let overflow = || EvalError::new("integer overflow");
    match (left, right) {
        (Value::Int(a), Value::Int(b)) => {
            let (a, b) = (*a, *b);
            let result = match op {
                BinaryOp::Add => a.checked_add(b),
                BinaryOp::Sub => a.checked_sub(b),
                BinaryOp::Mul => a.checked_mul(b),
                BinaryOp::Div if b == 0 => return Err(EvalError::new("division by zero")),
                BinaryOp::Div => a.checked_div(b),
                BinaryOp::Rem if b == 0 => return Err(EvalError::new("modulus by zero")),
                BinaryOp::Rem => a.checked_rem(b),
                _ => return Err(type_error(op.symbol(), &[left, right])),
            };
            result.map(Value::Int).ok_or_else(overflow)
        }
        (Value::Uint(a), Value::Uint(b)) => {
            let (a, b) = (*a, *b);
            let result = match op {
                BinaryOp::Add => a.checked_add(b),
                BinaryOp::Sub => a.checked_sub(b),
                BinaryOp::Mul => a.checked_mul(b),
                BinaryOp::Div if b == 0 => return Err(EvalError::new("division by zero")),
                BinaryOp::Div => a.checked_div(b),
                BinaryOp::Rem if b == 0 => return Err(EvalError::new("modulus by zero")),
                BinaryOp::Rem => a.checked_rem(b),
                _ => return Err(type_error(op.symbol(), &[left, right])),
            };
            result.map(Value::Uint).ok_or_else(overflow)
        }
        (Value::String(a), Value::String(b)) if op == BinaryOp::Add => {
            let mut joined = String::with_capacity(a.len() + b.len());
            joined.push_str(a);
            joined.push_str(b);
            Ok(Value::String(Arc::from(joined)))
        }
        (Value::List(a), Value::List(b)) if op == BinaryOp::Add => {
            Ok(Value::List(a.iter().chain(b.iter()).cloned().collect()))
        }
        (Value::Timestamp(_) | Value::Duration(_), Value::Timestamp(_) | Value::Duration(_)) => {
            time_arithmetic(op, left, right)
        }
        // Mixed int/double promotes to double (see `compile::binary_result`).
        (Value::Double(_), Value::Int(_) | Value::Double(_) | Value::Uint(_))
        | (Value::Int(_) | Value::Uint(_), Value::Double(_)) => {
            let (a, b) = (
                left.as_f64().unwrap_or(f64::NAN),
                right.as_f64().unwrap_or(f64::NAN),
            );
            match op {
                BinaryOp::Add => Ok(Value::Double(a + b)),
                BinaryOp::Sub => Ok(Value::Double(a - b)),
                BinaryOp::Mul => Ok(Value::Double(a * b)),
                // An error rather than IEEE infinity: a score of `inf` would
                // win every arbitration (an allele deviation from CEL).
                BinaryOp::Div if b == 0.0 => Err(EvalError::new("division by zero")),
                BinaryOp::Div => Ok(Value::Double(a / b)),
                _ => Err(type_error(op.symbol(), &[left, right])),
            }
        }
        _ => Err(type_error(op.symbol(), &[left, right])),
    }
}

fn time_arithmetic(op: BinaryOp, left: &Value, right: &Value) -> Result<Value, EvalError> {
    let result = match (op, left, right) {
        (BinaryOp::Add, Value::Timestamp(t), Value::Duration(d))
        | (BinaryOp::Add, Value::Duration(d), Value::Timestamp(t)) => Value::Timestamp(t + d),
        (BinaryOp::Sub, Value::Timestamp(t), Value::Duration(d)) => Value::Timestamp(t - d),
        (BinaryOp::Sub, Value::Timestamp(a), Value::Timestamp(b)) => Value::Duration(a - b),
        (BinaryOp::Add, Value::Duration(a), Value::Duration(b)) => Value::Duration(a + b),
        (BinaryOp::Sub, Value::Duration(a), Value::Duration(b)) => Value::Duration(a - b),
        _ => return Err(type_error(op.symbol(), &[left, right])),
    };
    match result {
        Value::Timestamp(t) if !time::timestamp_in_range(t) => {
            Err(EvalError::new("timestamp out of range"))
        }
        Value::Duration(d) if !time::duration_in_range(d) => {
            Err(EvalError::new("duration out of range"))
        }
        _ => Ok(result),
    }
}
