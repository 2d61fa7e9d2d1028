//! The rule language: a subset of CEL, compiled to a tree over typed slots.
//!
//! # Accepted grammar
//!
//! ```text
//! Expr        = ConditionalOr [ "?" ConditionalOr ":" Expr ] ;
//! ConditionalOr  = ConditionalAnd { "||" ConditionalAnd } ;
//! ConditionalAnd = Relation { "&&" Relation } ;
//! Relation    = Addition { Relop Addition } ;
//! Relop       = "<" | "<=" | ">=" | ">" | "==" | "!=" | "in" ;
//! Addition    = Multiplication { ( "+" | "-" ) Multiplication } ;
//! Multiplication = Unary { ( "*" | "/" | "%" ) Unary } ;
//! Unary       = Member | "!" Unary | "-" Unary ;
//! Member      = Primary
//!             | Member "." IDENT [ "(" [ ExprList ] ")" ]
//!             | Member "[" Expr "]" ;
//! Primary     = [ "." ] IDENT [ "(" [ ExprList ] ")" ]
//!             | "(" Expr ")"
//!             | "[" [ ExprList ] [ "," ] "]"
//!             | "{" [ MapInits ] [ "," ] "}"
//!             | LITERAL ;
//! ExprList    = Expr { "," Expr } ;
//! MapInits    = Expr ":" Expr { "," Expr ":" Expr } ;
//! LITERAL     = INT | UINT | DOUBLE | STRING | "true" | "false" | "null" ;
//! INT         = DIGIT { DIGIT } | "0x" HEXDIGIT { HEXDIGIT } ;
//! UINT        = INT ( "u" | "U" ) ;
//! DOUBLE      = DIGIT { DIGIT } "." DIGIT { DIGIT } [ EXPONENT ]
//!             | DIGIT { DIGIT } EXPONENT | "." DIGIT { DIGIT } [ EXPONENT ] ;
//! STRING      = [ "r" | "R" ] ( '"' … '"' | "'" … "'" | '"""' … '"""' | "'''" … "'''" ) ;
//! IDENT       = ( LETTER | "_" ) { LETTER | DIGIT | "_" } ;   (not a reserved word)
//! ```
//! `//` starts a comment to the end of the line.
//!
//! Identifiers: `profile` (fields `id`, `traits`, `computed`, `segments`,
//! `consent`, `identities`, `event_count`, `first_seen`, `last_seen`; any
//! other is a compile error with a suggestion), `context` (free-form; the
//! request's `touchpoint` and `channel` are in it) and `now` (a timestamp).
//!
//! Functions: `size`, `startsWith`, `endsWith`, `contains`, `matches`
//! (linear-time regex), `lowerAscii`, `upperAscii`, `int`, `uint`, `double`,
//! `string`, `bool`, `timestamp`, `duration`, `dyn`, and the UTC timestamp
//! accessors `getFullYear`, `getMonth`, `getDate`, `getDayOfMonth`,
//! `getDayOfWeek`, `getDayOfYear`, `getHours`, `getMinutes`, `getSeconds`,
//! `getMilliseconds` (on a duration `getHours`, `getMinutes`, `getSeconds`
//! and `getMilliseconds` give its whole length in that unit). After `.` a
//! reserved word is an ordinary field or method name (`{'as': 1}.as`).
//! Macros: `has(a.b)`, and on lists or maps `all`, `exists`, `exists_one`,
//! `map`, `filter` (two-argument forms).
//!
//! Not supported: bytes literals, message construction (`T{…}`), `type()`,
//! protobuf types, optional syntax, time zones in accessors, the
//! three-argument `map`.
//!
//! Deviations from CEL, chosen for rules over JSON traits: mixed int/double
//! arithmetic promotes to double (`int` with `uint` stays an error); double
//! division by zero is an error like integer division by zero; durations
//! accept a `d` (day) unit; unknown identifiers and functions are compile
//! errors; every expression is type-checked (`false && 32` is refused).
//!
//! Conformance: `tests/engine/conformance.rs` runs google/cel-spec's
//! `tests/simple` suite; every case inside this subset passes, and the cases
//! outside it are listed with reasons in `tests/cel-spec/skip.txt`.
//!
//! Bounds: an expression is at most [`parser::MAX_SOURCE_BYTES`] bytes,
//! [`parser::MAX_NODES`] nodes, [`parser::MAX_DEPTH`] levels tall and
//! [`parser::MAX_NESTING`] brackets deep; one evaluation takes at most
//! [`eval::MAX_STEPS`] steps.

pub mod access;
mod activation;
pub mod compile;
pub mod eval;
pub mod functions;
pub mod lexer;
pub mod parser;
pub mod slot;
pub mod time;
mod truth;
pub mod types;
pub mod value;

use std::sync::Arc;

pub use compile::{Node, PROFILE_FIELDS, Root, SlotPath, SlotTable};
pub use eval::{Activation, EvalError, Resolver};
pub use lexer::Span;
pub use slot::SlotValue;
pub use types::Ty;
pub use value::Value;

/// A compile-time error with the span it points at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CelError {
    pub span: Span,
    pub message: String,
}

impl CelError {
    pub fn new(span: Span, message: impl Into<String>) -> Self {
        Self {
            span,
            message: message.into(),
        }
    }
}

/// One compiled expression and the source it came from.
#[derive(Debug, Clone)]
pub struct Expression {
    pub source: Arc<str>,
    pub node: Node,
    pub ty: Ty,
    /// `profile.traits.X` names this expression reads, with their spans.
    pub traits: Vec<(String, Span)>,
}

impl Expression {
    /// Parses and compiles `source`, interning its slots in `slots`.
    pub fn compile(source: &str, slots: &mut SlotTable) -> Result<Expression, CelError> {
        let ast = parser::parse(source)?;
        let compiled = compile::compile(&ast, slots)?;
        Ok(Expression {
            source: Arc::from(source),
            node: compiled.node,
            ty: compiled.ty,
            traits: compiled.traits,
        })
    }

    pub fn evaluate(&self, activation: &mut Activation<'_>) -> Result<Value, EvalError> {
        eval::evaluate(&self.node, activation)
    }
}

#[cfg(test)]
mod tests;
