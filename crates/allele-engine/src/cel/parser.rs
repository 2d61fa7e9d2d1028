//! Recursive-descent parser for the CEL subset (grammar in [`super`]).
//!
//! Every node records its height, and the parser refuses a tree taller than
//! [`MAX_DEPTH`] or larger than [`MAX_NODES`] while building it: the compiler
//! and evaluator recurse over the tree, so bounding it here is what keeps a
//! hostile expression from overflowing the stack later.

use super::CelError;
use super::lexer::{Span, Tok, Token, tokenize};

/// Tallest tree accepted (operators and member chains all count).
pub const MAX_DEPTH: u16 = 200;
/// Deepest nesting of parentheses, brackets, braces, call arguments and
/// prefix operators: each level costs the parser several native frames.
pub const MAX_NESTING: u16 = 64;
/// Most nodes accepted in one expression.
pub const MAX_NODES: usize = 4_096;
/// Longest source accepted, in bytes.
pub const MAX_SOURCE_BYTES: usize = 32 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Not,
    Neg,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    And,
    Or,
}

impl BinaryOp {
    /// Comparisons and `in`: operators whose result is a boolean.
    pub fn is_relation(self) -> bool {
        matches!(
            self,
            BinaryOp::Eq
                | BinaryOp::Ne
                | BinaryOp::Lt
                | BinaryOp::Le
                | BinaryOp::Gt
                | BinaryOp::Ge
                | BinaryOp::In
        )
    }

    pub fn symbol(self) -> &'static str {
        match self {
            Self::Add => "+",
            Self::Sub => "-",
            Self::Mul => "*",
            Self::Div => "/",
            Self::Rem => "%",
            Self::Eq => "==",
            Self::Ne => "!=",
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Gt => ">",
            Self::Ge => ">=",
            Self::In => "in",
            Self::And => "&&",
            Self::Or => "||",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Null,
    Bool(bool),
    Int(i64),
    Uint(u64),
    Double(f64),
    Str(String),
    Ident(String),
    Select {
        operand: Box<Expr>,
        field: String,
    },
    Index {
        operand: Box<Expr>,
        index: Box<Expr>,
    },
    Call {
        target: Option<Box<Expr>>,
        name: String,
        args: Vec<Expr>,
    },
    List(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    Unary(UnaryOp, Box<Expr>),
    Binary(BinaryOp, Box<Expr>, Box<Expr>),
    Ternary(Box<Expr>, Box<Expr>, Box<Expr>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
    pub height: u16,
}

/// Parses one expression.
pub fn parse(source: &str) -> Result<Expr, CelError> {
    if source.len() > MAX_SOURCE_BYTES {
        return Err(CelError::new(
            Span::new(0, 0),
            format!(
                "expression is {} bytes long; the limit is {MAX_SOURCE_BYTES}",
                source.len()
            ),
        ));
    }
    let tokens = tokenize(source)?;
    let mut parser = Parser {
        tokens,
        pos: 0,
        nodes: 0,
    };
    let expr = parser.expr()?;
    let next = parser.peek_token();
    if next.tok != Tok::Eof {
        return Err(CelError::new(
            next.span,
            format!(
                "unexpected {} after the end of the expression",
                describe(&next.tok)
            ),
        ));
    }
    Ok(expr)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    nodes: usize,
}

fn describe(tok: &Tok) -> String {
    match tok {
        Tok::Eof => "end of input".to_string(),
        Tok::Ident(name) => format!("identifier `{name}`"),
        Tok::Str(_) => "string".to_string(),
        Tok::Int(_) | Tok::Uint(_) | Tok::Double(_) => "number".to_string(),
        other => format!("`{}`", symbol(other)),
    }
}

fn symbol(tok: &Tok) -> &'static str {
    match tok {
        Tok::True => "true",
        Tok::False => "false",
        Tok::Null => "null",
        Tok::In => "in",
        Tok::LParen => "(",
        Tok::RParen => ")",
        Tok::LBracket => "[",
        Tok::RBracket => "]",
        Tok::LBrace => "{",
        Tok::RBrace => "}",
        Tok::Dot => ".",
        Tok::Comma => ",",
        Tok::Colon => ":",
        Tok::Question => "?",
        Tok::Bang => "!",
        Tok::Minus => "-",
        Tok::Plus => "+",
        Tok::Star => "*",
        Tok::Slash => "/",
        Tok::Percent => "%",
        Tok::EqEq => "==",
        Tok::NotEq => "!=",
        Tok::Lt => "<",
        Tok::Le => "<=",
        Tok::Gt => ">",
        Tok::Ge => ">=",
        Tok::AndAnd => "&&",
        Tok::OrOr => "||",
        _ => "token",
    }
}

impl Parser {
    fn peek_token(&self) -> Token {
        self.tokens
            .get(self.pos)
            .or_else(|| self.tokens.last())
            .cloned()
            .unwrap_or(Token {
                tok: Tok::Eof,
                span: Span::new(0, 0),
            })
    }

    fn peek(&self) -> &Tok {
        self.tokens.get(self.pos).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn peek_at(&self, ahead: usize) -> &Tok {
        self.tokens
            .get(self.pos + ahead)
            .map_or(&Tok::Eof, |t| &t.tok)
    }

    fn span(&self) -> Span {
        // by reference: cloning the token would copy an identifier's text
        self.tokens
            .get(self.pos)
            .or_else(|| self.tokens.last())
            .map_or(Span::new(0, 0), |token| token.span)
    }

    fn bump(&mut self) -> Token {
        // The parser never looks behind, so a consumed token's text is moved
        // out rather than copied.
        match self.tokens.get_mut(self.pos) {
            Some(token) => {
                self.pos += 1;
                Token {
                    tok: std::mem::replace(&mut token.tok, Tok::Eof),
                    span: token.span,
                }
            }
            None => self.peek_token(),
        }
    }

    fn expect(&mut self, want: &Tok) -> Result<Span, CelError> {
        if self.peek() == want {
            let span = self.span();
            self.pos += 1;
            return Ok(span);
        }
        let token = self.peek_token();
        Err(CelError::new(
            token.span,
            format!(
                "expected `{}`, found {}",
                symbol(want),
                describe(&token.tok)
            ),
        ))
    }

    /// Builds a node, enforcing the height and node-count limits.
    fn node(&mut self, kind: ExprKind, span: Span, child_height: u16) -> Result<Expr, CelError> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err(CelError::new(
                span,
                format!("expression has more than {MAX_NODES} nodes"),
            ));
        }
        let height = child_height.saturating_add(1);
        if height > MAX_DEPTH {
            return Err(CelError::new(
                span,
                format!("expression is more than {MAX_DEPTH} operators deep"),
            ));
        }
        Ok(Expr { kind, span, height })
    }

    /// Guards recursion through parentheses, lists, maps and arguments: a
    /// recursive call can only add height, so this check stops the descent
    /// before the native stack grows past `MAX_NESTING` levels.
    fn guard(&self, depth: u16) -> Result<(), CelError> {
        if depth > MAX_NESTING {
            return Err(CelError::new(
                self.span(),
                format!("expression nests deeper than {MAX_NESTING} levels"),
            ));
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, CelError> {
        self.expr_at(0)
    }

    fn expr_at(&mut self, depth: u16) -> Result<Expr, CelError> {
        self.guard(depth)?;
        let cond = self.or(depth)?;
        if self.peek() != &Tok::Question {
            return Ok(cond);
        }
        self.bump();
        let then = self.or(depth + 1)?;
        self.expect(&Tok::Colon)?;
        let otherwise = self.expr_at(depth + 1)?;
        let span = Span::new(cond.span.start, otherwise.span.end);
        let height = cond.height.max(then.height).max(otherwise.height);
        self.node(
            ExprKind::Ternary(Box::new(cond), Box::new(then), Box::new(otherwise)),
            span,
            height,
        )
    }

    fn binary(&mut self, op: BinaryOp, left: Expr, right: Expr) -> Result<Expr, CelError> {
        let span = Span::new(left.span.start, right.span.end);
        let height = left.height.max(right.height);
        self.node(
            ExprKind::Binary(op, Box::new(left), Box::new(right)),
            span,
            height,
        )
    }

    fn or(&mut self, depth: u16) -> Result<Expr, CelError> {
        let mut left = self.and(depth)?;
        while self.peek() == &Tok::OrOr {
            self.bump();
            let right = self.and(depth)?;
            left = self.binary(BinaryOp::Or, left, right)?;
        }
        Ok(left)
    }

    fn and(&mut self, depth: u16) -> Result<Expr, CelError> {
        let mut left = self.relation(depth)?;
        while self.peek() == &Tok::AndAnd {
            self.bump();
            let right = self.relation(depth)?;
            left = self.binary(BinaryOp::And, left, right)?;
        }
        Ok(left)
    }

    fn relation(&mut self, depth: u16) -> Result<Expr, CelError> {
        let mut left = self.addition(depth)?;
        loop {
            let op = match self.peek() {
                Tok::EqEq => BinaryOp::Eq,
                Tok::NotEq => BinaryOp::Ne,
                Tok::Lt => BinaryOp::Lt,
                Tok::Le => BinaryOp::Le,
                Tok::Gt => BinaryOp::Gt,
                Tok::Ge => BinaryOp::Ge,
                Tok::In => BinaryOp::In,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.addition(depth)?;
            left = self.binary(op, left, right)?;
        }
    }

    fn addition(&mut self, depth: u16) -> Result<Expr, CelError> {
        let mut left = self.multiplication(depth)?;
        loop {
            let op = match self.peek() {
                Tok::Plus => BinaryOp::Add,
                Tok::Minus => BinaryOp::Sub,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.multiplication(depth)?;
            left = self.binary(op, left, right)?;
        }
    }

    fn multiplication(&mut self, depth: u16) -> Result<Expr, CelError> {
        let mut left = self.unary(depth)?;
        loop {
            let op = match self.peek() {
                Tok::Star => BinaryOp::Mul,
                Tok::Slash => BinaryOp::Div,
                Tok::Percent => BinaryOp::Rem,
                _ => return Ok(left),
            };
            self.bump();
            let right = self.unary(depth)?;
            left = self.binary(op, left, right)?;
        }
    }

    fn unary(&mut self, depth: u16) -> Result<Expr, CelError> {
        self.guard(depth)?;
        let start = self.span();
        match self.peek() {
            Tok::Bang => {
                self.bump();
                let operand = self.unary(depth + 1)?;
                let span = Span::new(start.start, operand.span.end);
                let height = operand.height;
                self.node(
                    ExprKind::Unary(UnaryOp::Not, Box::new(operand)),
                    span,
                    height,
                )
            }
            Tok::Minus => {
                // `-9223372036854775808` only exists as a folded literal.
                if let Tok::Int(value) = self.peek_at(1).clone()
                    && !matches!(self.peek_at(2), Tok::Dot | Tok::LBracket)
                {
                    self.bump();
                    let literal = self.bump();
                    let negated = i64::try_from(-i128::from(value)).map_err(|_| {
                        CelError::new(literal.span, "integer literal is out of range")
                    })?;
                    let span = Span::new(start.start, literal.span.end);
                    return self.node(ExprKind::Int(negated), span, 0);
                }
                self.bump();
                let operand = self.unary(depth + 1)?;
                let span = Span::new(start.start, operand.span.end);
                let height = operand.height;
                self.node(
                    ExprKind::Unary(UnaryOp::Neg, Box::new(operand)),
                    span,
                    height,
                )
            }
            _ => self.member(depth),
        }
    }

    fn member(&mut self, depth: u16) -> Result<Expr, CelError> {
        let mut expr = self.primary(depth)?;
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.bump();
                    let token = self.bump();
                    let Tok::Ident(field) = token.tok else {
                        return Err(CelError::new(
                            token.span,
                            format!(
                                "expected a field name after `.`, found {}",
                                describe(&token.tok)
                            ),
                        ));
                    };
                    if self.peek() == &Tok::LParen {
                        self.bump();
                        let args = self.args(depth, &Tok::RParen)?;
                        let end = self.expect(&Tok::RParen)?;
                        let span = Span::new(expr.span.start, end.end);
                        let height = args.iter().map(|a| a.height).fold(expr.height, u16::max);
                        expr = self.node(
                            ExprKind::Call {
                                target: Some(Box::new(expr)),
                                name: field,
                                args,
                            },
                            span,
                            height,
                        )?;
                    } else {
                        let span = Span::new(expr.span.start, token.span.end);
                        let height = expr.height;
                        expr = self.node(
                            ExprKind::Select {
                                operand: Box::new(expr),
                                field,
                            },
                            span,
                            height,
                        )?;
                    }
                }
                Tok::LBracket => {
                    self.bump();
                    let index = self.expr_at(depth + 1)?;
                    let end = self.expect(&Tok::RBracket)?;
                    let span = Span::new(expr.span.start, end.end);
                    let height = expr.height.max(index.height);
                    expr = self.node(
                        ExprKind::Index {
                            operand: Box::new(expr),
                            index: Box::new(index),
                        },
                        span,
                        height,
                    )?;
                }
                Tok::LBrace if matches!(expr.kind, ExprKind::Ident(_)) => {
                    return Err(CelError::new(
                        self.span(),
                        "message construction is not supported",
                    ));
                }
                _ => return Ok(expr),
            }
        }
    }

    fn args(&mut self, depth: u16, close: &Tok) -> Result<Vec<Expr>, CelError> {
        let mut args = Vec::new();
        if self.peek() == close {
            return Ok(args);
        }
        loop {
            args.push(self.expr_at(depth + 1)?);
            if self.peek() != &Tok::Comma {
                return Ok(args);
            }
            self.bump();
            // CEL allows a trailing comma in list literals.
            if close == &Tok::RBracket && self.peek() == close {
                return Ok(args);
            }
        }
    }

    fn primary(&mut self, depth: u16) -> Result<Expr, CelError> {
        let token = self.bump();
        let span = token.span;
        let kind = match token.tok {
            Tok::Null => ExprKind::Null,
            Tok::True => ExprKind::Bool(true),
            Tok::False => ExprKind::Bool(false),
            Tok::Int(value) => ExprKind::Int(
                i64::try_from(value)
                    .map_err(|_| CelError::new(span, "integer literal is out of range"))?,
            ),
            Tok::Uint(value) => ExprKind::Uint(value),
            Tok::Double(value) => ExprKind::Double(value),
            Tok::Str(text) => ExprKind::Str(text),
            Tok::Dot => {
                // a leading dot names the root scope: `.profile` == `profile`
                let next = self.bump();
                let Tok::Ident(name) = next.tok else {
                    return Err(CelError::new(next.span, "expected an identifier after `.`"));
                };
                return self.ident_or_call(name, Span::new(span.start, next.span.end), depth);
            }
            Tok::Ident(name) => return self.ident_or_call(name, span, depth),
            Tok::LParen => {
                let inner = self.expr_at(depth + 1)?;
                self.expect(&Tok::RParen)?;
                return Ok(inner);
            }
            Tok::LBracket => {
                let items = self.args(depth, &Tok::RBracket)?;
                let end = self.expect(&Tok::RBracket)?;
                let height = items.iter().map(|i| i.height).max().unwrap_or(0);
                return self.node(
                    ExprKind::List(items),
                    Span::new(span.start, end.end),
                    height,
                );
            }
            Tok::LBrace => return self.map_literal(span, depth),
            other => {
                return Err(CelError::new(
                    span,
                    format!("expected an expression, found {}", describe(&other)),
                ));
            }
        };
        self.node(kind, span, 0)
    }

    fn ident_or_call(&mut self, name: String, span: Span, depth: u16) -> Result<Expr, CelError> {
        if self.peek() != &Tok::LParen {
            return self.node(ExprKind::Ident(name), span, 0);
        }
        self.bump();
        let args = self.args(depth, &Tok::RParen)?;
        let end = self.expect(&Tok::RParen)?;
        let height = args.iter().map(|a| a.height).max().unwrap_or(0);
        self.node(
            ExprKind::Call {
                target: None,
                name,
                args,
            },
            Span::new(span.start, end.end),
            height,
        )
    }

    fn map_literal(&mut self, open: Span, depth: u16) -> Result<Expr, CelError> {
        let mut entries = Vec::new();
        let mut height = 0;
        while self.peek() != &Tok::RBrace {
            let key = self.expr_at(depth + 1)?;
            self.expect(&Tok::Colon)?;
            let value = self.expr_at(depth + 1)?;
            height = height.max(key.height).max(value.height);
            entries.push((key, value));
            if self.peek() != &Tok::Comma {
                break;
            }
            self.bump();
        }
        let end = self.expect(&Tok::RBrace)?;
        self.node(
            ExprKind::Map(entries),
            Span::new(open.start, end.end),
            height,
        )
    }
}

#[cfg(test)]
mod tests;
