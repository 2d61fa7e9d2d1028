//! Compiles a parsed expression into a [`Node`] tree over typed slots.
//!
//! Every chain of constant field names or string indexes rooted at `profile`
//! or `context` (`profile.traits.age`, `context["cart"].total`) becomes one
//! slot of a bundle-wide [`SlotTable`]. At decision time each slot is
//! resolved at most once from the input, so evaluating a hundred rules never
//! walks the profile JSON a hundred times. The compiler also does the static
//! checks: the fixed top-level fields of `profile`, known functions and
//! arities, and operator types where both sides are known.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use super::CelError;
use super::access::Access;
use super::functions::{self, Func};
use super::lexer::Span;
use super::parser::{BinaryOp, Expr, ExprKind, UnaryOp};
use super::slot::ConstStrings;
use super::types::{Ty, binary_result, expect_ty};
use super::value::Value;
use crate::suggest::did_you_mean;

/// The top-level fields of `profile`: fixed, so a typo is a compile error.
pub const PROFILE_FIELDS: &[(&str, Ty)] = &[
    ("id", Ty::String),
    ("traits", Ty::Map),
    ("computed", Ty::Map),
    ("segments", Ty::List),
    ("consent", Ty::Map),
    ("identities", Ty::List),
    ("event_count", Ty::Int),
    ("first_seen", Ty::Timestamp),
    ("last_seen", Ty::Timestamp),
];

const ROOTS: &[&str] = &["profile", "context", "now"];
const MACROS: &[&str] = &["has", "all", "exists", "exists_one", "map", "filter"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Root {
    Profile,
    Context,
}

/// A path from a root through constant keys: one slot.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SlotPath {
    pub root: Root,
    pub keys: Vec<Arc<str>>,
}

impl fmt::Display for SlotPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.root {
            Root::Profile => "profile",
            Root::Context => "context",
        })?;
        for key in &self.keys {
            let plain = !key.is_empty()
                && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && !key.starts_with(|c: char| c.is_ascii_digit());
            if plain {
                write!(f, ".{key}")?;
            } else {
                write!(f, "[{key:?}]")?;
            }
        }
        Ok(())
    }
}

/// The slots of a bundle; ids index [`SlotTable::paths`] and
/// [`SlotTable::plans`].
#[derive(Debug, Default, Clone)]
pub struct SlotTable {
    paths: Vec<SlotPath>,
    /// How to fetch each slot from a decision input, planned at intern time.
    plans: Vec<Access>,
    index: HashMap<SlotPath, u32>,
}

impl SlotTable {
    pub fn intern(&mut self, path: SlotPath) -> u32 {
        if let Some(id) = self.index.get(&path) {
            return *id;
        }
        let id = self.paths.len() as u32;
        self.plans.push(Access::plan(&path));
        self.paths.push(path.clone());
        self.index.insert(path, id);
        id
    }

    pub fn paths(&self) -> &[SlotPath] {
        &self.paths
    }

    pub fn plans(&self) -> &[Access] {
        &self.plans
    }

    pub fn len(&self) -> usize {
        self.paths.len()
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacroKind {
    All,
    Exists,
    ExistsOne,
    Map,
    Filter,
}

/// A compiled expression node.
#[derive(Debug, Clone)]
pub enum Node {
    Const(Value),
    Slot(u32),
    HasSlot(u32),
    Now,
    /// A comprehension variable, by its index in the evaluator's local stack.
    Var(u16),
    Select(Box<Node>, Arc<str>),
    HasField(Box<Node>, Arc<str>),
    Index(Box<Node>, Box<Node>),
    List(Vec<Node>),
    Map(Vec<(Node, Node)>),
    Not(Box<Node>),
    Neg(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Cond(Box<Node>, Box<Node>, Box<Node>),
    Binary(BinaryOp, Box<Node>, Box<Node>),
    /// `x in [...]` over a long constant list of strings.
    InStrings(Box<Node>, Arc<ConstStrings>),
    Call(Func, Vec<Node>),
    Comprehension {
        kind: MacroKind,
        range: Box<Node>,
        var: u16,
        body: Box<Node>,
    },
}

/// A compiled expression with what the static checks need.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub node: Node,
    pub ty: Ty,
    /// `profile.traits.X` references, for the "never seen" warnings.
    pub traits: Vec<(String, Span)>,
}

pub fn compile(expr: &Expr, slots: &mut SlotTable) -> Result<Compiled, CelError> {
    let mut compiler = Compiler {
        slots,
        scopes: Vec::new(),
        traits: Vec::new(),
        funcs: functions::table(),
    };
    let (node, ty) = compiler.expr(expr)?;
    Ok(Compiled {
        node,
        ty,
        traits: compiler.traits,
    })
}

struct Compiler<'a> {
    slots: &'a mut SlotTable,
    scopes: Vec<String>,
    traits: Vec<(String, Span)>,
    funcs: &'static [functions::FuncDef],
}

fn field_span(expr: &Expr, field: &str) -> Span {
    Span::new(expr.span.end.saturating_sub(field.len()), expr.span.end)
}

impl Compiler<'_> {
    fn shadowed(&self, name: &str) -> bool {
        self.scopes.iter().any(|scope| scope == name)
    }

    /// Resolves a constant path rooted at `profile` or `context`, checking
    /// the fixed fields of `profile` on the way.
    fn slot_path(&mut self, expr: &Expr) -> Result<Option<(SlotPath, Ty)>, CelError> {
        let (operand, key, key_span) = match &expr.kind {
            ExprKind::Ident(name) if !self.shadowed(name) => {
                let root = match name.as_str() {
                    "profile" => Root::Profile,
                    "context" => Root::Context,
                    _ => return Ok(None),
                };
                return Ok(Some((
                    SlotPath {
                        root,
                        keys: Vec::new(),
                    },
                    Ty::Map,
                )));
            }
            ExprKind::Select { operand, field } => {
                (operand, field.as_str(), field_span(expr, field))
            }
            ExprKind::Index { operand, index } => match &index.kind {
                ExprKind::Str(key) => (operand, key.as_str(), index.span),
                _ => return Ok(None),
            },
            _ => return Ok(None),
        };
        let Some((mut path, parent_ty)) = self.slot_path(operand)? else {
            return Ok(None);
        };
        let ty = match (path.root, path.keys.len()) {
            (Root::Profile, 0) => match PROFILE_FIELDS.iter().find(|(name, _)| *name == key) {
                Some((_, ty)) => *ty,
                None => {
                    let names: Vec<&str> = PROFILE_FIELDS.iter().map(|(n, _)| *n).collect();
                    return Err(CelError::new(
                        key_span,
                        format!(
                            "unknown field `profile.{key}`{}",
                            did_you_mean(key, names.iter().copied())
                        ),
                    ));
                }
            },
            _ if !matches!(parent_ty, Ty::Map | Ty::Dyn) => {
                return Err(CelError::new(
                    key_span,
                    format!(
                        "`{path}` is a {} and has no field `{key}`",
                        parent_ty.name()
                    ),
                ));
            }
            _ => Ty::Dyn,
        };
        if path.root == Root::Profile
            && path.keys.len() == 1
            && path.keys.first().is_some_and(|k| &**k == "traits")
        {
            self.traits.push((key.to_string(), key_span));
        }
        path.keys.push(Arc::from(key));
        Ok(Some((path, ty)))
    }

    fn expr(&mut self, expr: &Expr) -> Result<(Node, Ty), CelError> {
        match &expr.kind {
            ExprKind::Null => Ok((Node::Const(Value::Null), Ty::Null)),
            ExprKind::Bool(b) => Ok((Node::Const(Value::Bool(*b)), Ty::Bool)),
            ExprKind::Int(i) => Ok((Node::Const(Value::Int(*i)), Ty::Int)),
            ExprKind::Uint(u) => Ok((Node::Const(Value::Uint(*u)), Ty::Uint)),
            ExprKind::Double(d) => Ok((Node::Const(Value::Double(*d)), Ty::Double)),
            ExprKind::Str(s) => Ok((Node::Const(Value::string(s)), Ty::String)),
            ExprKind::Ident(name) => self.ident(name, expr.span),
            ExprKind::Select { operand, field } => {
                if let Some((path, ty)) = self.slot_path(expr)? {
                    return Ok((Node::Slot(self.slots.intern(path)), ty));
                }
                let (node, ty) = self.expr(operand)?;
                if !matches!(ty, Ty::Map | Ty::Dyn) {
                    return Err(CelError::new(
                        field_span(expr, field),
                        format!("a {} has no field `{field}`", ty.name()),
                    ));
                }
                Ok((
                    Node::Select(Box::new(node), Arc::from(field.as_str())),
                    Ty::Dyn,
                ))
            }
            ExprKind::Index { operand, index } => {
                if let Some((path, ty)) = self.slot_path(expr)? {
                    return Ok((Node::Slot(self.slots.intern(path)), ty));
                }
                let (target, target_ty) = self.expr(operand)?;
                if !matches!(target_ty, Ty::Map | Ty::List | Ty::Dyn) {
                    return Err(CelError::new(
                        expr.span,
                        format!("a {} cannot be indexed", target_ty.name()),
                    ));
                }
                let (key, _) = self.expr(index)?;
                Ok((Node::Index(Box::new(target), Box::new(key)), Ty::Dyn))
            }
            ExprKind::Call { target, name, args } => self.call(expr, target.as_deref(), name, args),
            ExprKind::List(items) => {
                let mut nodes = Vec::with_capacity(items.len());
                for item in items {
                    nodes.push(self.expr(item)?.0);
                }
                Ok((fold_list(nodes), Ty::List))
            }
            ExprKind::Map(entries) => {
                let mut nodes = Vec::with_capacity(entries.len());
                for (key, value) in entries {
                    let (key_node, key_ty) = self.expr(key)?;
                    if !matches!(key_ty, Ty::Bool | Ty::Int | Ty::Uint | Ty::String | Ty::Dyn) {
                        return Err(CelError::new(
                            key.span,
                            format!("a {} cannot be a map key", key_ty.name()),
                        ));
                    }
                    nodes.push((key_node, self.expr(value)?.0));
                }
                Ok((Node::Map(nodes), Ty::Map))
            }
            ExprKind::Unary(op, operand) => {
                let (node, ty) = self.expr(operand)?;
                match op {
                    UnaryOp::Not => {
                        expect_ty(ty, &[Ty::Bool], operand.span, "`!`")?;
                        Ok((Node::Not(Box::new(node)), Ty::Bool))
                    }
                    UnaryOp::Neg => {
                        expect_ty(
                            ty,
                            &[Ty::Int, Ty::Double, Ty::Duration],
                            operand.span,
                            "`-`",
                        )?;
                        Ok((Node::Neg(Box::new(node)), ty))
                    }
                }
            }
            ExprKind::Binary(op, left, right) => {
                let (left_node, left_ty) = self.expr(left)?;
                let (right_node, right_ty) = self.expr(right)?;
                let ty = binary_result(*op, left_ty, right_ty).ok_or_else(|| {
                    CelError::new(
                        expr.span,
                        format!(
                            "no such overload `{} {} {}`",
                            left_ty.name(),
                            op.symbol(),
                            right_ty.name()
                        ),
                    )
                })?;
                let (l, r) = (Box::new(left_node), Box::new(right_node));
                let node = match op {
                    BinaryOp::And => Node::And(l, r),
                    BinaryOp::Or => Node::Or(l, r),
                    BinaryOp::In => match ConstStrings::from_node(&r) {
                        Some(set) => Node::InStrings(l, Arc::new(set)),
                        None => Node::Binary(*op, l, r),
                    },
                    _ => Node::Binary(*op, l, r),
                };
                Ok((node, ty))
            }
            ExprKind::Ternary(cond, then, otherwise) => {
                let (cond_node, cond_ty) = self.expr(cond)?;
                expect_ty(cond_ty, &[Ty::Bool], cond.span, "the condition of `?:`")?;
                let (then_node, then_ty) = self.expr(then)?;
                let (else_node, else_ty) = self.expr(otherwise)?;
                let ty = if then_ty == else_ty { then_ty } else { Ty::Dyn };
                Ok((
                    Node::Cond(
                        Box::new(cond_node),
                        Box::new(then_node),
                        Box::new(else_node),
                    ),
                    ty,
                ))
            }
        }
    }

    fn ident(&mut self, name: &str, span: Span) -> Result<(Node, Ty), CelError> {
        if let Some(index) = self.scopes.iter().rposition(|scope| scope == name) {
            return Ok((Node::Var(index as u16), Ty::Dyn));
        }
        match name {
            "now" => Ok((Node::Now, Ty::Timestamp)),
            "profile" | "context" => {
                let root = if name == "profile" {
                    Root::Profile
                } else {
                    Root::Context
                };
                let id = self.slots.intern(SlotPath {
                    root,
                    keys: Vec::new(),
                });
                Ok((Node::Slot(id), Ty::Map))
            }
            _ => {
                let mut known: Vec<&str> = ROOTS.to_vec();
                known.extend(self.scopes.iter().map(String::as_str));
                Err(CelError::new(
                    span,
                    format!(
                        "unknown identifier `{name}`{}",
                        did_you_mean(name, known.iter().copied())
                    ),
                ))
            }
        }
    }

    fn call(
        &mut self,
        expr: &Expr,
        target: Option<&Expr>,
        name: &str,
        args: &[Expr],
    ) -> Result<(Node, Ty), CelError> {
        if name == "has" && target.is_none() {
            return self.has(expr, args);
        }
        if let Some(range) = target
            && let Some(kind) = macro_kind(name)
        {
            return self.comprehension(expr, range, kind, args);
        }
        let is_member = target.is_some();
        let arity = args.len() + usize::from(is_member);
        let candidates: Vec<&functions::FuncDef> = self
            .funcs
            .iter()
            .filter(|def| def.name == name && (if is_member { def.member } else { def.global }))
            .collect();
        let Some(def) = candidates.first() else {
            let names = self
                .funcs
                .iter()
                .map(|d| d.name)
                .chain(MACROS.iter().copied());
            let form = if is_member { "method" } else { "function" };
            return Err(CelError::new(
                expr.span,
                format!("unknown {form} `{name}`{}", did_you_mean(name, names)),
            ));
        };
        if def.arity != arity {
            let given = if is_member { arity - 1 } else { arity };
            let wanted = if is_member { def.arity - 1 } else { def.arity };
            return Err(CelError::new(
                expr.span,
                format!("`{name}` takes {wanted} argument(s), {given} given"),
            ));
        }
        let (mut func, result) = (def.func.clone(), def.result);
        let all_args: Vec<&Expr> = target.into_iter().chain(args.iter()).collect();
        let mut nodes = Vec::with_capacity(all_args.len());
        for arg in &all_args {
            nodes.push(self.expr(arg)?.0);
        }
        // A constant pattern is compiled once, at bundle load.
        if matches!(func, Func::Matches)
            && let Some(Node::Const(Value::String(pattern))) = nodes.get(1)
        {
            let regex =
                functions::compile_regex(pattern).map_err(|msg| CelError::new(expr.span, msg))?;
            func = Func::MatchesConst(Arc::new(regex));
            nodes.truncate(1);
        }
        Ok((Node::Call(func, nodes), result))
    }

    fn has(&mut self, expr: &Expr, args: &[Expr]) -> Result<(Node, Ty), CelError> {
        let [arg] = args else {
            return Err(CelError::new(expr.span, "`has` takes exactly one argument"));
        };
        let ExprKind::Select { operand, field } = &arg.kind else {
            return Err(CelError::new(
                arg.span,
                "`has` needs a field selection such as `has(profile.traits.age)`",
            ));
        };
        if let Some((path, _)) = self.slot_path(arg)? {
            return Ok((Node::HasSlot(self.slots.intern(path)), Ty::Bool));
        }
        let (node, _) = self.expr(operand)?;
        Ok((
            Node::HasField(Box::new(node), Arc::from(field.as_str())),
            Ty::Bool,
        ))
    }

    fn comprehension(
        &mut self,
        expr: &Expr,
        range: &Expr,
        kind: MacroKind,
        args: &[Expr],
    ) -> Result<(Node, Ty), CelError> {
        let [var_expr, body_expr] = args else {
            return Err(CelError::new(
                expr.span,
                "a comprehension takes a variable and an expression, as in `list.exists(x, x > 1)`",
            ));
        };
        let ExprKind::Ident(var) = &var_expr.kind else {
            return Err(CelError::new(var_expr.span, "expected a variable name"));
        };
        let (range_node, range_ty) = self.expr(range)?;
        expect_ty(
            range_ty,
            &[Ty::List, Ty::Map],
            range.span,
            "a comprehension",
        )?;
        let index = self.scopes.len() as u16;
        self.scopes.push(var.clone());
        let body = self.expr(body_expr);
        self.scopes.pop();
        let (body_node, body_ty) = body?;
        if matches!(
            kind,
            MacroKind::All | MacroKind::Exists | MacroKind::ExistsOne | MacroKind::Filter
        ) {
            expect_ty(body_ty, &[Ty::Bool], body_expr.span, "a predicate")?;
        }
        let ty = match kind {
            MacroKind::Map | MacroKind::Filter => Ty::List,
            _ => Ty::Bool,
        };
        Ok((
            Node::Comprehension {
                kind,
                range: Box::new(range_node),
                var: index,
                body: Box::new(body_node),
            },
            ty,
        ))
    }
}

fn macro_kind(name: &str) -> Option<MacroKind> {
    match name {
        "all" => Some(MacroKind::All),
        "exists" => Some(MacroKind::Exists),
        "exists_one" => Some(MacroKind::ExistsOne),
        "map" => Some(MacroKind::Map),
        "filter" => Some(MacroKind::Filter),
        _ => None,
    }
}

/// A list literal of constants is one constant: `x in ["GB", "US"]` then
/// costs no allocation per evaluation.
fn fold_list(nodes: Vec<Node>) -> Node {
    if nodes.iter().all(|n| matches!(n, Node::Const(_))) {
        let values: Vec<Value> = nodes
            .into_iter()
            .filter_map(|n| match n {
                Node::Const(v) => Some(v),
                _ => None,
            })
            .collect();
        return Node::Const(Value::List(Arc::from(values)));
    }
    Node::List(nodes)
}
