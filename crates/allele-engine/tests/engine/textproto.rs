//! A minimal reader for protobuf text format, enough for the cel-spec
//! conformance files: nested messages (`{…}` or `<…>`), repeated fields,
//! `[a, b]` lists, extension/`Any` names in brackets, quoted strings with C
//! escapes (adjacent strings concatenate) and bare scalars (numbers, enums,
//! `true`). It keeps no schema: a field is a string, a scalar or a message.

#[derive(Debug, Clone)]
pub enum Field {
    /// A quoted string, as bytes (text format strings may hold any bytes).
    Str(Vec<u8>),
    /// A bare token: a number, an enum name, `true`.
    Scalar(String),
    Message(Message),
}

#[derive(Debug, Clone, Default)]
pub struct Message {
    pub fields: Vec<(String, Field)>,
}

impl Message {
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Field> + 'a {
        self.fields
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, f)| f)
    }

    pub fn get(&self, name: &str) -> Option<&Field> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, f)| f)
    }

    pub fn message(&self, name: &str) -> Option<&Message> {
        match self.get(name) {
            Some(Field::Message(m)) => Some(m),
            _ => None,
        }
    }

    pub fn messages<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Message> + 'a {
        self.all(name).filter_map(|f| match f {
            Field::Message(m) => Some(m),
            _ => None,
        })
    }

    pub fn string(&self, name: &str) -> Option<String> {
        match self.get(name) {
            Some(Field::Str(bytes)) => Some(String::from_utf8_lossy(bytes).into_owned()),
            Some(Field::Scalar(s)) => Some(s.clone()),
            _ => None,
        }
    }

    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some(Field::Scalar(s)) if s == "true")
    }
}

pub fn parse(text: &str) -> Result<Message, String> {
    let mut reader = Reader {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let message = reader.message(None)?;
    reader.skip_space();
    if reader.pos != reader.bytes.len() {
        return Err(format!("trailing input at byte {}", reader.pos));
    }
    Ok(message)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

const PUNCT: &[u8] = b"{}<>:[],;\"'#";

impl Reader<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while let Some(c) = self.peek() {
            if c == b'#' {
                while let Some(c) = self.peek() {
                    if c == b'\n' {
                        break;
                    }
                    self.pos += 1;
                }
            } else if c.is_ascii_whitespace() {
                self.pos += 1;
            } else {
                break;
            }
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_space();
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn error(&self, what: &str) -> String {
        let line = self.bytes[..self.pos.min(self.bytes.len())]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        format!("{what} at line {line}")
    }

    fn message(&mut self, close: Option<u8>) -> Result<Message, String> {
        let mut message = Message::default();
        loop {
            self.skip_space();
            match (self.peek(), close) {
                (None, None) => return Ok(message),
                (None, Some(_)) => return Err(self.error("unclosed message")),
                (Some(c), Some(end)) if c == end => {
                    self.pos += 1;
                    return Ok(message);
                }
                _ => {}
            }
            let name = self.field_name()?;
            let colon = self.eat(b':');
            self.skip_space();
            if self.peek() == Some(b'[') && colon {
                self.pos += 1;
                if !self.eat(b']') {
                    loop {
                        let value = self.value()?;
                        message.fields.push((name.clone(), value));
                        if self.eat(b']') {
                            break;
                        }
                        if !self.eat(b',') {
                            return Err(self.error("expected `,` or `]`"));
                        }
                    }
                }
            } else {
                let value = self.value()?;
                message.fields.push((name, value));
            }
            // separators between fields are optional
            if !self.eat(b',') {
                self.eat(b';');
            }
        }
    }

    fn field_name(&mut self) -> Result<String, String> {
        self.skip_space();
        if self.peek() == Some(b'[') {
            let start = self.pos;
            while let Some(c) = self.peek() {
                self.pos += 1;
                if c == b']' {
                    return Ok(String::from_utf8_lossy(&self.bytes[start..self.pos]).into_owned());
                }
            }
            return Err(self.error("unclosed extension name"));
        }
        let token = self.scalar();
        if token.is_empty() {
            return Err(self.error("expected a field name"));
        }
        Ok(token)
    }

    fn scalar(&mut self) -> String {
        let start = self.pos;
        while let Some(c) = self.peek() {
            if c.is_ascii_whitespace() || PUNCT.contains(&c) {
                break;
            }
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.bytes[start..self.pos]).into_owned()
    }

    fn value(&mut self) -> Result<Field, String> {
        self.skip_space();
        match self.peek() {
            Some(b'{') => {
                self.pos += 1;
                Ok(Field::Message(self.message(Some(b'}'))?))
            }
            Some(b'<') => {
                self.pos += 1;
                Ok(Field::Message(self.message(Some(b'>'))?))
            }
            Some(b'"' | b'\'') => {
                let mut bytes = Vec::new();
                while let Some(quote @ (b'"' | b'\'')) = {
                    self.skip_space();
                    self.peek()
                } {
                    self.pos += 1;
                    self.string_body(quote, &mut bytes)?;
                }
                Ok(Field::Str(bytes))
            }
            _ => {
                let token = self.scalar();
                if token.is_empty() {
                    return Err(self.error("expected a value"));
                }
                Ok(Field::Scalar(token))
            }
        }
    }

    fn string_body(&mut self, quote: u8, out: &mut Vec<u8>) -> Result<(), String> {
        loop {
            let Some(c) = self.peek() else {
                return Err(self.error("unclosed string"));
            };
            self.pos += 1;
            if c == quote {
                return Ok(());
            }
            if c != b'\\' {
                out.push(c);
                continue;
            }
            let Some(e) = self.peek() else {
                return Err(self.error("unclosed string"));
            };
            self.pos += 1;
            match e {
                b'n' => out.push(b'\n'),
                b't' => out.push(b'\t'),
                b'r' => out.push(b'\r'),
                b'a' => out.push(0x07),
                b'b' => out.push(0x08),
                b'f' => out.push(0x0c),
                b'v' => out.push(0x0b),
                b'0'..=b'7' => {
                    let mut value = u32::from(e - b'0');
                    for _ in 0..2 {
                        match self.peek() {
                            Some(d @ b'0'..=b'7') => {
                                value = value * 8 + u32::from(d - b'0');
                                self.pos += 1;
                            }
                            _ => break,
                        }
                    }
                    out.push(value as u8);
                }
                b'x' | b'X' => {
                    let value = self.hex(2)?;
                    out.push(value as u8);
                }
                b'u' | b'U' => {
                    let digits = if e == b'u' { 4 } else { 8 };
                    let code = self.hex(digits)?;
                    let ch = char::from_u32(code).ok_or_else(|| self.error("bad code point"))?;
                    let mut buf = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                }
                other => out.push(other),
            }
        }
    }

    fn hex(&mut self, max: usize) -> Result<u32, String> {
        let mut value = 0u32;
        let mut read = 0;
        while read < max {
            match self.peek().and_then(|c| (c as char).to_digit(16)) {
                Some(d) => {
                    value = value * 16 + d;
                    self.pos += 1;
                    read += 1;
                }
                None => break,
            }
        }
        if read == 0 {
            return Err(self.error("expected hex digits"));
        }
        Ok(value)
    }
}
