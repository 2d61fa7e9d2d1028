use super::*;

fn kind(source: &str) -> ExprKind {
    parse(source).unwrap().kind
}

#[test]
fn precedence_of_and_over_or() {
    let ExprKind::Binary(BinaryOp::Or, _, right) = kind("a || b && c") else {
        panic!("expected ||")
    };
    assert!(matches!(right.kind, ExprKind::Binary(BinaryOp::And, _, _)));
}

#[test]
fn arithmetic_is_left_associative() {
    let ExprKind::Binary(BinaryOp::Sub, left, _) = kind("1 - 2 - 3") else {
        panic!("expected -")
    };
    assert!(matches!(left.kind, ExprKind::Binary(BinaryOp::Sub, _, _)));
}

#[test]
fn folds_minimum_int() {
    assert_eq!(kind("-9223372036854775808"), ExprKind::Int(i64::MIN));
    assert!(parse("9223372036854775808").is_err());
}

#[test]
fn member_calls_and_indexes() {
    let ExprKind::Call { target, name, args } = kind("m['k'].startsWith('x')") else {
        panic!("expected call")
    };
    assert_eq!(name, "startsWith");
    assert_eq!(args.len(), 1);
    assert!(matches!(target.unwrap().kind, ExprKind::Index { .. }));
}

#[test]
fn ternary_and_literals() {
    assert!(matches!(
        kind("a ? [1, 2,] : {'k': 1u, 2: null}"),
        ExprKind::Ternary(..)
    ));
}

#[test]
fn deep_parentheses_are_refused_without_overflow() {
    let source = format!("{}1{}", "(".repeat(1000), ")".repeat(1000));
    let err = parse(&source).unwrap_err();
    assert!(err.message.contains("deeper than"), "{}", err.message);
}

#[test]
fn long_operator_chains_are_refused() {
    let source = vec!["1"; 2000].join(" + ");
    let err = parse(&source).unwrap_err();
    assert!(err.message.contains("operators deep"), "{}", err.message);
    // a long but reasonable chain of clauses is fine
    assert!(parse(&vec!["a"; 150].join(" || ")).is_ok());
    let source = format!("!{}true", "!".repeat(500));
    assert!(parse(&source).is_err());
}

#[test]
fn huge_lists_are_refused() {
    let source = format!("[{}]", vec!["1"; 5000].join(","));
    let err = parse(&source).unwrap_err();
    assert!(err.message.contains("more than"), "{}", err.message);
    let source = format!("[{}]", vec!["1"; 20000].join(","));
    let err = parse(&source).unwrap_err();
    assert!(err.message.contains("bytes long"), "{}", err.message);
}

#[test]
fn trailing_garbage_is_an_error() {
    let err = parse("a b").unwrap_err();
    assert_eq!(err.span.line_col("a b"), (1, 3));
}

#[test]
fn message_construction_is_refused() {
    assert!(parse("Foo{a: 1}").is_err());
}
