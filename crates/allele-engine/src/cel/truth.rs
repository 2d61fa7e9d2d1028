//! The boolean fast path of the evaluator: rules are mostly `&&`, `||`, `!`
//! and comparisons of a slot with a constant, and answering those as plain
//! `bool`s (no `Value` per node, no `Result` per node) is most of the speed
//! of a rule. Anything else is handed to the general [`Frame::eval`] within
//! the same budget.
//!
//! The contract with [`super::eval::evaluate`]: `Some(answer)` only when the
//! general path would give `Ok(Bool(answer))` within the same budget (this
//! path charges every node the general path charges, though not always in
//! the same order: that order only matters for a failure, and every failure
//! here is `None`); `None` whenever the general path would give anything else
//! or this path cannot tell, and the caller then re-runs the general path.

use super::compile::Node;
use super::eval::{Frame, binary};
use super::parser::BinaryOp;
use std::cmp::Ordering;

use super::slot::{SlotValue, View, fast_relation, same_text};
use super::value::Value;

impl Frame<'_, '_> {
    pub(super) fn test(&mut self, node: &Node) -> Option<bool> {
        match node {
            Node::Const(Value::Bool(b)) => {
                self.pay(1)?;
                Some(*b)
            }
            Node::HasSlot(id) => {
                self.pay(1)?;
                Some(self.activation.slot(*id).ok()?.is_some())
            }
            Node::Not(operand) => {
                self.pay(1)?;
                Some(!self.test(operand)?)
            }
            Node::And(left, right) => {
                self.pay(1)?;
                // `false && x` is false whatever `x` is; `true && x` is `x`
                // when `x` is a boolean (an error or a non-boolean on either
                // side takes the general path)
                if !self.test(left)? {
                    return Some(false);
                }
                self.test(right)
            }
            Node::Or(left, right) => {
                self.pay(1)?;
                if self.test(left)? {
                    return Some(true);
                }
                self.test(right)
            }
            Node::Cond(cond, then, otherwise) => {
                self.pay(1)?;
                if self.test(cond)? {
                    self.test(then)
                } else {
                    self.test(otherwise)
                }
            }
            Node::Binary(op, left, right) if op.is_relation() => {
                if let (Node::Slot(id), Node::Const(constant)) = (&**left, &**right)
                    && let Some(answer) = self.slot_against(*op, *id, constant)
                {
                    return answer;
                }
                if let (BinaryOp::In, Node::Const(Value::String(needle)), Node::Slot(id)) =
                    (op, &**left, &**right)
                    && let Some(answer) = self.text_in_slot(needle, *id)
                {
                    return answer;
                }
                self.pay(1)?;
                let (mut left_value, mut right_value) = (None, None);
                self.stage(left, &mut left_value)?;
                self.stage(right, &mut right_value)?;
                let left = self.peek(left, left_value.as_ref())?;
                let right = self.peek(right, right_value.as_ref())?;
                let listed = match op {
                    BinaryOp::In => right.list_len(),
                    _ => None,
                };
                let answer = match fast_relation(*op, left, right) {
                    Some(answer) => answer,
                    None => owned_relation(*op, left, right)?,
                };
                // `in` over a list costs its length; charged last, which only
                // matters when the budget runs out, and then the general
                // path words the error
                self.pay(listed.unwrap_or(0))?;
                Some(answer)
            }
            Node::InStrings(needle, set) => {
                self.pay(2 + set.len())?;
                let mut needle_value = None;
                self.stage(needle, &mut needle_value)?;
                let needle = self.peek(needle, needle_value.as_ref())?;
                match needle.as_str() {
                    Some(text) => Some(set.contains(text)),
                    None => owned_relation(BinaryOp::In, needle, View::Value(set.list())),
                }
            }
            // charges its own step
            other => self.general(other),
        }
    }

    /// `slot <op> constant`, the commonest clause of a rule, for the kinds
    /// that settle it without views: an int against an int, a bool against
    /// a bool, a string in a list of constants. `None`: not one of these
    /// (the caller takes the staged path from the start, nothing charged);
    /// `Some(None)`: a missing slot or the budget spent, as the staged path
    /// would answer, so the caller gives up the fast path.
    #[inline(always)]
    fn slot_against(&mut self, op: BinaryOp, id: u32, constant: &Value) -> Option<Option<bool>> {
        let cost = match (op, constant) {
            // the relation, the slot, the constant, and the list's length
            (BinaryOp::In, Value::List(items)) => 3 + items.len(),
            (BinaryOp::In, _) => return None,
            (_, Value::Int(_) | Value::Bool(_)) => 3,
            _ => return None,
        };
        if self.pay(cost).is_none() || self.activation.prepare(id) != Some(true) {
            return Some(None);
        }
        let Some(slot) = self.activation.peek(id) else {
            return Some(None);
        };
        match (slot, constant) {
            (SlotValue::Int(a), Value::Int(b)) => Some(order(op, a.cmp(b))),
            (SlotValue::Bool(a), Value::Bool(b)) => match op {
                BinaryOp::Eq => Some(Some(a == b)),
                BinaryOp::Ne => Some(Some(a != b)),
                _ => Some(None),
            },
            (SlotValue::Str(needle), Value::List(items)) => {
                Some(Some(items.iter().any(
                    |item| matches!(item, Value::String(text) if same_text(text, needle)),
                )))
            }
            // the staged path would answer the same; it is taken with the
            // budget as it was before this clause
            _ => {
                self.steps += u32::try_from(cost).unwrap_or(u32::MAX);
                None
            }
        }
    }

    /// `"text" in slot` over a list of strings kept as such in the input
    /// (`"vip" in profile.segments`); answers as [`Frame::slot_against`].
    #[inline(always)]
    fn text_in_slot(&mut self, needle: &str, id: u32) -> Option<Option<bool>> {
        // the relation, the constant, the slot; the list's length once known
        if self.pay(3).is_none() || self.activation.prepare(id) != Some(true) {
            return Some(None);
        }
        if let Some(SlotValue::Strings(items)) = self.activation.peek(id) {
            let answer = items.iter().any(|item| same_text(item, needle));
            return Some(self.pay(items.len()).map(|()| answer));
        }
        self.steps += 3;
        None
    }

    /// A node this path does not know, on the general path. Kept out of
    /// line (as is [`owned_relation`]) so that the values and errors it
    /// handles do not widen the stack frame of every call of
    /// [`Frame::test`].
    #[inline(never)]
    fn general(&mut self, node: &Node) -> Option<bool> {
        match self.eval(node) {
            Ok(Value::Bool(answer)) => Some(answer),
            _ => None,
        }
    }

    /// [`Frame::charge`] for this path, where running out is just `None`.
    #[inline(always)]
    fn pay(&mut self, cost: usize) -> Option<()> {
        let cost = u32::try_from(cost).unwrap_or(u32::MAX);
        self.steps = self.steps.checked_sub(cost)?;
        Some(())
    }

    /// Gets an operand ready to be looked at: charges a constant or a slot
    /// and resolves the slot (a missing one takes the general path, which
    /// words the error), or evaluates anything else into `computed`.
    #[inline(always)]
    fn stage(&mut self, node: &Node, computed: &mut Option<Value>) -> Option<()> {
        match node {
            Node::Const(_) => self.pay(1),
            Node::Slot(id) => {
                self.pay(1)?;
                self.activation.prepare(*id)?.then_some(())
            }
            other => {
                *computed = Some(self.eval(other).ok()?);
                Some(())
            }
        }
    }

    /// A staged operand, borrowed where it lies.
    #[inline(always)]
    fn peek<'v>(&'v self, node: &'v Node, staged: Option<&'v Value>) -> Option<View<'v>> {
        if let Some(value) = staged {
            return Some(View::Value(value));
        }
        match node {
            Node::Const(value) => Some(View::Value(value)),
            Node::Slot(id) => Some(self.activation.peek(*id)?.view()),
            _ => None,
        }
    }
}

/// A relation from an ordering (ints, which are never unordered).
#[inline(always)]
fn order(op: BinaryOp, ordering: Ordering) -> Option<bool> {
    match op {
        BinaryOp::Eq => Some(ordering.is_eq()),
        BinaryOp::Ne => Some(ordering.is_ne()),
        BinaryOp::Lt => Some(ordering.is_lt()),
        BinaryOp::Le => Some(ordering.is_le()),
        BinaryOp::Gt => Some(ordering.is_gt()),
        BinaryOp::Ge => Some(ordering.is_ge()),
        _ => None,
    }
}

/// A relation the views could not settle, on owned values.
#[inline(never)]
fn owned_relation(op: BinaryOp, left: View<'_>, right: View<'_>) -> Option<bool> {
    match binary(op, &left.to_value(), &right.to_value()) {
        Ok(Value::Bool(answer)) => Some(answer),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
