//! The variables of one evaluation: slots resolved lazily, at most once per
//! [`Activation`] (one decision), either straight from a [`DecisionInput`]
//! by each slot's [`Access`](super::access::Access) plan or through a
//! [`Resolver`] the caller provides.

use std::sync::Arc;

use super::access::Entry;
use super::compile::{SlotPath, SlotTable};
use super::eval::EvalError;
use super::slot::SlotValue;
use super::value::{NANOS_PER_MILLI, Value};
use crate::decide::DecisionInput;

/// Looks up the value of a slot path in the decision input.
pub trait Resolver {
    /// `None` when the path does not exist (a missing trait, say).
    fn resolve(&self, path: &SlotPath) -> Option<Value>;

    /// The same value, borrowed from the input where it can be: resolving a
    /// slot then allocates nothing. The default converts [`Resolver::resolve`].
    fn resolve_borrowed(&self, path: &SlotPath) -> Option<SlotValue<'_>> {
        self.resolve(path).map(SlotValue::from_value)
    }
}

/// Slot tables of up to this many slots (a single rule, a small bundle) keep
/// their cache inline, so a fresh activation allocates nothing.
const INLINE_SLOTS: usize = 8;

/// Where slots come from. A decision input is read by the slot table's
/// plans, with no dynamic call and no matching of field names per slot.
#[derive(Clone, Copy)]
enum Source<'a> {
    Input(&'a DecisionInput),
    Resolver(&'a dyn Resolver),
}

/// The variables of one evaluation context: lazily resolved slots and `now`.
pub struct Activation<'a> {
    table: &'a SlotTable,
    source: Source<'a>,
    /// The cache of a table of up to [`INLINE_SLOTS`] slots. Not an enum
    /// of inline and heap storage: a fresh activation is then built in
    /// place, where an enum was assembled in a temporary and copied with
    /// loads that stalled on the stores that had just built it.
    inline: [Entry<'a>; INLINE_SLOTS],
    /// The cache of a larger table (empty otherwise).
    heap: Vec<Entry<'a>>,
    pub(super) now: i128,
}

impl<'a> Activation<'a> {
    /// Slots read from `input` by the table's plans.
    #[inline]
    pub fn for_input(table: &'a SlotTable, input: &'a DecisionInput, now_ms: i64) -> Self {
        Self::with_source(table, Source::Input(input), now_ms)
    }

    /// Slots resolved through `resolver` (inputs other than a decision's).
    pub fn new(table: &'a SlotTable, resolver: &'a dyn Resolver, now_ms: i64) -> Self {
        Self::with_source(table, Source::Resolver(resolver), now_ms)
    }

    #[inline]
    fn with_source(table: &'a SlotTable, source: Source<'a>, now_ms: i64) -> Self {
        let heap = if table.len() <= INLINE_SLOTS {
            Vec::new()
        } else {
            vec![None; table.len()]
        };
        Self {
            table,
            source,
            inline: [const { None }; INLINE_SLOTS],
            heap,
            now: i128::from(now_ms) * NANOS_PER_MILLI,
        }
    }

    #[inline(always)]
    fn entry(&mut self, id: u32) -> Result<&mut Option<SlotValue<'a>>, EvalError> {
        let index = id as usize;
        let entries = if self.heap.is_empty() {
            &mut self.inline[..]
        } else {
            &mut self.heap[..]
        };
        let entry = entries.get_mut(index).ok_or_else(unknown_slot)?;
        if entry.is_none() {
            let path = self.table.paths().get(index).ok_or_else(unknown_slot)?;
            match self.source {
                Source::Input(input) => self
                    .table
                    .plans()
                    .get(index)
                    .ok_or_else(unknown_slot)?
                    .fetch_into(input, path, entry),
                Source::Resolver(resolver) => *entry = Some(resolver.resolve_borrowed(path)),
            }
        }
        entry.as_mut().ok_or_else(unknown_slot)
    }

    /// Resolves a slot for [`Activation::peek`]: `Some(false)` when it is
    /// missing, `None` on an internal error.
    #[inline(always)]
    pub(super) fn prepare(&mut self, id: u32) -> Option<bool> {
        Some(self.entry(id).ok()?.is_some())
    }

    /// The slot as resolved, borrowed where the resolver could borrow.
    #[inline(always)]
    pub(super) fn slot(&mut self, id: u32) -> Result<Option<&SlotValue<'a>>, EvalError> {
        Ok(self.entry(id)?.as_ref())
    }

    /// A slot already resolved by [`Activation::slot`].
    #[inline(always)]
    pub(super) fn peek(&self, id: u32) -> Option<&SlotValue<'a>> {
        let entries = if self.heap.is_empty() {
            &self.inline[..]
        } else {
            &self.heap[..]
        };
        entries.get(id as usize)?.as_ref()?.as_ref()
    }

    /// The slot as an owned value; a borrowed string or list is converted
    /// once and the converted form replaces it, so a slot is converted at
    /// most once per activation.
    pub(super) fn slot_value(&mut self, id: u32) -> Result<Value, EvalError> {
        let entry = self.entry(id)?;
        match entry {
            Some(slot) if slot.is_cheap() => Ok(slot.to_value()),
            Some(borrowed) => {
                let value = borrowed.to_value();
                *entry = Some(SlotValue::Owned(Arc::new(value.clone())));
                Ok(value)
            }
            None => Err(self.missing(id)),
        }
    }

    pub(super) fn missing(&self, id: u32) -> EvalError {
        match self.table.paths().get(id as usize) {
            Some(path) => EvalError::new(format!("no such key: `{path}` is missing")),
            None => EvalError::new("no such key"),
        }
    }
}

#[cold]
fn unknown_slot() -> EvalError {
    EvalError::new("internal error: unknown slot")
}
