//! Tokens of the CEL subset. The lexer works on bytes and records byte
//! offsets; [`Span::line_col`] turns an offset into the 1-based `line:column`
//! that every diagnostic carries.

use super::CelError;

/// A byte range in the expression source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Self { start, end }
    }

    /// 1-based line and column (in characters) of the span's start.
    pub fn line_col(&self, source: &str) -> (usize, usize) {
        let mut line = 1;
        let mut column = 1;
        for (offset, ch) in source.char_indices() {
            if offset >= self.start {
                break;
            }
            if ch == '\n' {
                line += 1;
                column = 1;
            } else {
                column += 1;
            }
        }
        (line, column)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    /// An integer literal without sign; kept as u64 so that
    /// `-9223372036854775808` can be folded by the parser.
    Int(u64),
    Uint(u64),
    Double(f64),
    Str(String),
    Ident(String),
    True,
    False,
    Null,
    In,
    LParen,
    RParen,
    LBracket,
    RBracket,
    LBrace,
    RBrace,
    Dot,
    Comma,
    Colon,
    Question,
    Bang,
    Minus,
    Plus,
    Star,
    Slash,
    Percent,
    EqEq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    Eof,
}

#[derive(Debug, Clone)]
pub struct Token {
    pub tok: Tok,
    pub span: Span,
}

/// Reserved words of CEL that may not be used as identifiers.
const RESERVED: &[&str] = &[
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

pub fn tokenize(source: &str) -> Result<Vec<Token>, CelError> {
    let bytes = source.as_bytes();
    let mut tokens = Vec::new();
    let mut pos = 0;
    while pos < bytes.len() {
        let byte = bytes.get(pos).copied().unwrap_or(0);
        if byte.is_ascii_whitespace() {
            pos += 1;
            continue;
        }
        if byte == b'/' && bytes.get(pos + 1) == Some(&b'/') {
            while pos < bytes.len() && bytes.get(pos) != Some(&b'\n') {
                pos += 1;
            }
            continue;
        }
        let start = pos;
        let two = |second: u8| bytes.get(pos + 1) == Some(&second);
        let (tok, len) = match byte {
            b'(' => (Tok::LParen, 1),
            b')' => (Tok::RParen, 1),
            b'[' => (Tok::LBracket, 1),
            b']' => (Tok::RBracket, 1),
            b'{' => (Tok::LBrace, 1),
            b'}' => (Tok::RBrace, 1),
            b',' => (Tok::Comma, 1),
            b':' => (Tok::Colon, 1),
            b'?' => (Tok::Question, 1),
            b'+' => (Tok::Plus, 1),
            b'-' => (Tok::Minus, 1),
            b'*' => (Tok::Star, 1),
            b'/' => (Tok::Slash, 1),
            b'%' => (Tok::Percent, 1),
            b'=' if two(b'=') => (Tok::EqEq, 2),
            b'!' if two(b'=') => (Tok::NotEq, 2),
            b'!' => (Tok::Bang, 1),
            b'<' if two(b'=') => (Tok::Le, 2),
            b'<' => (Tok::Lt, 1),
            b'>' if two(b'=') => (Tok::Ge, 2),
            b'>' => (Tok::Gt, 1),
            b'&' if two(b'&') => (Tok::AndAnd, 2),
            b'|' if two(b'|') => (Tok::OrOr, 2),
            b'.' if !bytes.get(pos + 1).is_some_and(u8::is_ascii_digit) => (Tok::Dot, 1),
            b'"' | b'\'' => {
                let (text, len) = lex_string(source, pos, false)?;
                (Tok::Str(text), len)
            }
            b'r' | b'R' if matches!(bytes.get(pos + 1), Some(b'"' | b'\'')) => {
                let (text, len) = lex_string(source, pos + 1, true)?;
                (Tok::Str(text), len + 1)
            }
            b'b' | b'B' if matches!(bytes.get(pos + 1), Some(b'"' | b'\'')) => {
                return Err(CelError::new(
                    Span::new(pos, pos + 1),
                    "bytes literals are not supported",
                ));
            }
            b'0'..=b'9' | b'.' => lex_number(source, pos)?,
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                let mut end = pos;
                while bytes
                    .get(end)
                    .is_some_and(|b| b.is_ascii_alphanumeric() || *b == b'_')
                {
                    end += 1;
                }
                let word = source.get(pos..end).unwrap_or_default();
                let tok = match word {
                    "true" => Tok::True,
                    "false" => Tok::False,
                    "null" => Tok::Null,
                    "in" => Tok::In,
                    // after `.` a reserved word is a field or method name,
                    // as in `{'as': 1}.as`
                    _ if RESERVED.contains(&word)
                        && !tokens.last().is_some_and(|t: &Token| t.tok == Tok::Dot) =>
                    {
                        return Err(CelError::new(
                            Span::new(pos, end),
                            format!("`{word}` is a reserved word"),
                        ));
                    }
                    _ => Tok::Ident(word.to_string()),
                };
                (tok, end - pos)
            }
            _ => {
                let ch = source
                    .get(pos..)
                    .and_then(|s| s.chars().next())
                    .unwrap_or('?');
                return Err(CelError::new(
                    Span::new(pos, pos + ch.len_utf8()),
                    format!("unexpected character `{ch}`"),
                ));
            }
        };
        pos += len;
        tokens.push(Token {
            tok,
            span: Span::new(start, pos),
        });
    }
    tokens.push(Token {
        tok: Tok::Eof,
        span: Span::new(bytes.len(), bytes.len()),
    });
    Ok(tokens)
}

fn lex_number(source: &str, start: usize) -> Result<(Tok, usize), CelError> {
    let bytes = source.as_bytes();
    let at = |i: usize| bytes.get(i).copied().unwrap_or(0);
    let mut end = start;
    if at(start) == b'0' && matches!(at(start + 1), b'x' | b'X') {
        end = start + 2;
        while at(end).is_ascii_hexdigit() {
            end += 1;
        }
        let digits = source.get(start + 2..end).unwrap_or_default();
        let value = u64::from_str_radix(digits, 16).map_err(|_| {
            CelError::new(Span::new(start, end), "hexadecimal literal out of range")
        })?;
        return Ok(int_suffix(bytes, value, start, end));
    }
    while at(end).is_ascii_digit() {
        end += 1;
    }
    let mut is_double = false;
    if at(end) == b'.' && at(end + 1).is_ascii_digit() {
        is_double = true;
        end += 1;
        while at(end).is_ascii_digit() {
            end += 1;
        }
    }
    if matches!(at(end), b'e' | b'E') {
        let mut exp = end + 1;
        if matches!(at(exp), b'+' | b'-') {
            exp += 1;
        }
        if at(exp).is_ascii_digit() {
            is_double = true;
            end = exp;
            while at(end).is_ascii_digit() {
                end += 1;
            }
        }
    }
    let text = source.get(start..end).unwrap_or_default();
    let span = Span::new(start, end);
    if is_double {
        let value: f64 = text
            .parse()
            .map_err(|_| CelError::new(span, format!("invalid number `{text}`")))?;
        return Ok((Tok::Double(value), end - start));
    }
    let value: u64 = text
        .parse()
        .map_err(|_| CelError::new(span, format!("integer literal `{text}` is out of range")))?;
    Ok(int_suffix(bytes, value, start, end))
}

fn int_suffix(bytes: &[u8], value: u64, start: usize, end: usize) -> (Tok, usize) {
    if matches!(bytes.get(end), Some(b'u' | b'U')) {
        (Tok::Uint(value), end + 1 - start)
    } else {
        (Tok::Int(value), end - start)
    }
}

/// Lexes a quoted string starting at the opening quote; returns the decoded
/// text and the number of bytes consumed.
fn lex_string(source: &str, start: usize, raw: bool) -> Result<(String, usize), CelError> {
    let bytes = source.as_bytes();
    let quote = bytes.get(start).copied().unwrap_or(b'"');
    let triple = bytes.get(start + 1) == Some(&quote) && bytes.get(start + 2) == Some(&quote);
    let mut pos = start + if triple { 3 } else { 1 };
    let mut out = String::new();
    loop {
        let Some(rest) = source.get(pos..) else {
            return Err(unterminated(start, pos));
        };
        let mut chars = rest.chars();
        let Some(ch) = chars.next() else {
            return Err(unterminated(start, pos));
        };
        if ch as u32 == u32::from(quote) {
            if !triple {
                return Ok((out, pos + 1 - start));
            }
            if bytes.get(pos + 1) == Some(&quote) && bytes.get(pos + 2) == Some(&quote) {
                return Ok((out, pos + 3 - start));
            }
        }
        if ch == '\n' && !triple {
            return Err(unterminated(start, pos));
        }
        if ch == '\\' && !raw {
            let (decoded, len) = lex_escape(source, pos)?;
            out.push(decoded);
            pos += len;
            continue;
        }
        out.push(ch);
        pos += ch.len_utf8();
    }
}

fn unterminated(start: usize, pos: usize) -> CelError {
    CelError::new(Span::new(start, pos), "unterminated string literal")
}

fn lex_escape(source: &str, pos: usize) -> Result<(char, usize), CelError> {
    let bytes = source.as_bytes();
    let bad = |len: usize| CelError::new(Span::new(pos, pos + len), "invalid escape sequence");
    let code = bytes.get(pos + 1).copied().ok_or_else(|| bad(1))?;
    let simple = match code {
        b'n' => Some('\n'),
        b't' => Some('\t'),
        b'r' => Some('\r'),
        b'a' => Some('\u{7}'),
        b'b' => Some('\u{8}'),
        b'f' => Some('\u{c}'),
        b'v' => Some('\u{b}'),
        b'\\' => Some('\\'),
        b'"' => Some('"'),
        b'\'' => Some('\''),
        b'`' => Some('`'),
        b'?' => Some('?'),
        _ => None,
    };
    if let Some(ch) = simple {
        return Ok((ch, 2));
    }
    let (digits, radix, skip) = match code {
        b'x' | b'X' => (2, 16, 2),
        b'u' => (4, 16, 2),
        b'U' => (8, 16, 2),
        b'0'..=b'3' => (3, 8, 1),
        _ => return Err(bad(2)),
    };
    let text = source
        .get(pos + skip..pos + skip + digits)
        .ok_or_else(|| bad(skip))?;
    let value = u32::from_str_radix(text, radix).map_err(|_| bad(skip + digits))?;
    let ch = char::from_u32(value).ok_or_else(|| bad(skip + digits))?;
    Ok((ch, skip + digits))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(source: &str) -> Vec<Tok> {
        tokenize(source)
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn lexes_operators_and_literals() {
        assert_eq!(
            toks("a.b >= 18 && x != 1u || 2.5e1 <= .5"),
            vec![
                Tok::Ident("a".into()),
                Tok::Dot,
                Tok::Ident("b".into()),
                Tok::Ge,
                Tok::Int(18),
                Tok::AndAnd,
                Tok::Ident("x".into()),
                Tok::NotEq,
                Tok::Uint(1),
                Tok::OrOr,
                Tok::Double(25.0),
                Tok::Le,
                Tok::Double(0.5),
                Tok::Eof
            ]
        );
    }

    #[test]
    fn lexes_strings_with_escapes() {
        assert_eq!(
            toks(r#"'a\n' "b\"" r"\d" '''x'y''' "\x41\u00e9""#)[..5],
            [
                Tok::Str("a\n".into()),
                Tok::Str("b\"".into()),
                Tok::Str("\\d".into()),
                Tok::Str("x'y".into()),
                Tok::Str("Aé".into())
            ]
        );
    }

    #[test]
    fn reports_position_of_bad_character() {
        let err = tokenize("a &&\n  # b").unwrap_err();
        assert_eq!(err.span.line_col("a &&\n  # b"), (2, 3));
        assert!(err.message.contains("`#`"));
    }

    #[test]
    fn unterminated_string_is_an_error() {
        assert!(tokenize("'abc").is_err());
        assert!(tokenize("\"abc\ndef\"").is_err());
    }
}
