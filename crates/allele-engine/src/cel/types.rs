//! Static types: what the compiler knows of an expression before it runs,
//! and which operator overloads can apply. Unknown (`Dyn`) types defer the
//! check to evaluation.

use super::CelError;
use super::lexer::Span;
use super::parser::BinaryOp;

/// The static type of an expression; `Dyn` when only evaluation can tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ty {
    Dyn,
    Null,
    Bool,
    Int,
    Uint,
    Double,
    String,
    List,
    Map,
    Timestamp,
    Duration,
}

impl Ty {
    pub fn name(self) -> &'static str {
        match self {
            Ty::Dyn => "dyn",
            Ty::Null => "null_type",
            Ty::Bool => "bool",
            Ty::Int => "int",
            Ty::Uint => "uint",
            Ty::Double => "double",
            Ty::String => "string",
            Ty::List => "list",
            Ty::Map => "map",
            Ty::Timestamp => "timestamp",
            Ty::Duration => "duration",
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(self, Ty::Int | Ty::Uint | Ty::Double)
    }
}

pub fn expect_ty(ty: Ty, allowed: &[Ty], span: Span, what: &str) -> Result<(), CelError> {
    if ty == Ty::Dyn || allowed.contains(&ty) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(|t| t.name()).collect();
    Err(CelError::new(
        span,
        format!("{what} needs {}, found {}", names.join(" or "), ty.name()),
    ))
}

/// The static result of a binary operator, or `None` when no overload can
/// apply. Mixed int/double arithmetic promotes to double (an allele
/// extension to CEL: traits arrive as JSON, where `3` and `3.0` are one
/// number); int with uint stays an error as in CEL.
pub fn binary_result(op: BinaryOp, left: Ty, right: Ty) -> Option<Ty> {
    use Ty::*;
    let both = |allowed: &[Ty]| {
        (left == Dyn || allowed.contains(&left)) && (right == Dyn || allowed.contains(&right))
    };
    match op {
        BinaryOp::And | BinaryOp::Or => both(&[Bool]).then_some(Bool),
        BinaryOp::Eq | BinaryOp::Ne => Some(Bool),
        _ if left == Dyn || right == Dyn => Some(match op {
            BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge | BinaryOp::In => Bool,
            _ => Dyn,
        }),
        BinaryOp::In => matches!(right, List | Map).then_some(Bool),
        BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
            let comparable = (left.is_numeric() && right.is_numeric())
                || (left == right && matches!(left, String | Bool | Timestamp | Duration));
            comparable.then_some(Bool)
        }
        BinaryOp::Add => match (left, right) {
            (String, String) => Some(String),
            (List, List) => Some(List),
            (Timestamp, Duration) | (Duration, Timestamp) => Some(Timestamp),
            (Duration, Duration) => Some(Duration),
            _ => numeric_result(left, right),
        },
        BinaryOp::Sub => match (left, right) {
            (Timestamp, Timestamp) | (Duration, Duration) => Some(Duration),
            (Timestamp, Duration) => Some(Timestamp),
            _ => numeric_result(left, right),
        },
        BinaryOp::Mul | BinaryOp::Div => numeric_result(left, right),
        BinaryOp::Rem => match (left, right) {
            (Int, Int) => Some(Int),
            (Uint, Uint) => Some(Uint),
            _ => None,
        },
    }
}

fn numeric_result(left: Ty, right: Ty) -> Option<Ty> {
    match (left, right) {
        (Ty::Int, Ty::Int) => Some(Ty::Int),
        (Ty::Uint, Ty::Uint) => Some(Ty::Uint),
        (Ty::Double, r) if r.is_numeric() => Some(Ty::Double),
        (l, Ty::Double) if l.is_numeric() => Some(Ty::Double),
        _ => None,
    }
}
