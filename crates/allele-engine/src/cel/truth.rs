//! The boolean fast path of the evaluator: rules are mostly `&&`, `||`, `!`
//! and comparisons of a slot with a constant, and answering those as plain
//! `bool`s (no `Value` per node, no `Result` per node) is most of the speed
//! of a rule. Anything else is handed to the general [`Frame::eval`] within
//! the same budget.
//!
//! The contract with [`super::eval::evaluate`]: `Some(answer)` only when the
//! general path would give `Ok(Bool(answer))` after charging the same steps
//! in the same order; `None` whenever it would give anything else (or when
//! this path cannot tell), and the caller then re-runs the general path.

use super::compile::Node;
use super::eval::{Frame, binary};
use super::parser::BinaryOp;
use super::slot::fast_relation;
use super::value::Value;

impl Frame<'_, '_> {
    pub(super) fn test(&mut self, node: &Node) -> Option<bool> {
        match node {
            Node::Const(Value::Bool(b)) => {
                self.charge(1).ok()?;
                Some(*b)
            }
            Node::HasSlot(id) => {
                self.charge(1).ok()?;
                Some(self.activation.slot(*id).ok()?.is_some())
            }
            Node::Not(operand) => {
                self.charge(1).ok()?;
                Some(!self.test(operand)?)
            }
            Node::And(left, right) => {
                self.charge(1).ok()?;
                // `false && x` is false whatever `x` is; `true && x` is `x`
                // when `x` is a boolean (an error or a non-boolean on either
                // side takes the general path)
                if !self.test(left)? {
                    return Some(false);
                }
                self.test(right)
            }
            Node::Or(left, right) => {
                self.charge(1).ok()?;
                if self.test(left)? {
                    return Some(true);
                }
                self.test(right)
            }
            Node::Cond(cond, then, otherwise) => {
                self.charge(1).ok()?;
                if self.test(cond)? {
                    self.test(then)
                } else {
                    self.test(otherwise)
                }
            }
            Node::Binary(op, left, right) if op.is_relation() => {
                self.charge(1).ok()?;
                let left = self.operand(left).ok()?;
                let right = self.operand(right).ok()?;
                let (left, right) = (left.view(), right.view());
                if *op == BinaryOp::In
                    && let Some(len) = right.list_len()
                {
                    self.charge(len).ok()?;
                }
                if let Some(answer) = fast_relation(*op, left, right) {
                    return Some(answer);
                }
                match binary(*op, &left.to_value(), &right.to_value()) {
                    Ok(Value::Bool(answer)) => Some(answer),
                    _ => None,
                }
            }
            Node::InStrings(needle, set) => {
                self.charge(1).ok()?;
                let needle = self.operand(needle).ok()?;
                self.charge(1).ok()?;
                self.charge(set.len()).ok()?;
                let needle = needle.view();
                match needle.as_str() {
                    Some(text) => Some(set.contains(text)),
                    None => match binary(BinaryOp::In, &needle.to_value(), set.list()) {
                        Ok(Value::Bool(answer)) => Some(answer),
                        _ => None,
                    },
                }
            }
            // charges its own step
            other => match self.eval(other) {
                Ok(Value::Bool(answer)) => Some(answer),
                _ => None,
            },
        }
    }
}
