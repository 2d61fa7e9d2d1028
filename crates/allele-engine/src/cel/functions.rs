//! The function table: names, arities, static result types and the
//! implementations. Looking a function up happens once at compile time; the
//! evaluator calls [`call`] with a resolved [`Func`].

use std::sync::Arc;

use regex_lite::{Regex, RegexBuilder};

use super::eval::EvalError;
use super::time;
use super::types::Ty;
use super::value::{NANOS_PER_MILLI, Value};

/// Regexes are compiled with these bounds so a hostile pattern cannot make
/// compilation (or its automaton) large.
const REGEX_SIZE_LIMIT: usize = 256 * 1024;
const REGEX_NEST_LIMIT: u32 = 64;

#[derive(Debug, Clone)]
pub enum Func {
    Size,
    StartsWith,
    EndsWith,
    Contains,
    Matches,
    /// `matches` with a constant pattern compiled at bundle load.
    MatchesConst(Arc<Regex>),
    LowerAscii,
    UpperAscii,
    Int,
    Uint,
    Double,
    String,
    Bool,
    Timestamp,
    Duration,
    Dyn,
    TimePart(TimePart),
}

#[derive(Debug, Clone, Copy)]
pub enum TimePart {
    FullYear,
    Month,
    Date,
    DayOfMonth,
    DayOfWeek,
    DayOfYear,
    Hours,
    Minutes,
    Seconds,
    Milliseconds,
}

impl TimePart {
    pub fn name(self) -> &'static str {
        match self {
            TimePart::FullYear => "getFullYear",
            TimePart::Month => "getMonth",
            TimePart::Date => "getDate",
            TimePart::DayOfMonth => "getDayOfMonth",
            TimePart::DayOfWeek => "getDayOfWeek",
            TimePart::DayOfYear => "getDayOfYear",
            TimePart::Hours => "getHours",
            TimePart::Minutes => "getMinutes",
            TimePart::Seconds => "getSeconds",
            TimePart::Milliseconds => "getMilliseconds",
        }
    }
}

/// How a function may be called: `f(x, …)` (global) and/or `x.f(…)`
/// (member); arity counts the receiver as the first argument.
pub struct FuncDef {
    pub name: &'static str,
    pub global: bool,
    pub member: bool,
    pub arity: usize,
    pub func: Func,
    pub result: Ty,
}

const fn def(
    name: &'static str,
    global: bool,
    member: bool,
    arity: usize,
    func: Func,
    result: Ty,
) -> FuncDef {
    FuncDef {
        name,
        global,
        member,
        arity,
        func,
        result,
    }
}

/// Every function the compiler accepts (macros are handled by the compiler).
pub fn table() -> &'static [FuncDef] {
    TABLE
}

/// Built at compile time: compiling a rule looks functions up here rather
/// than building a table per expression.
static TABLE: &[FuncDef] = &[
    def("size", true, true, 1, Func::Size, Ty::Int),
    def("startsWith", false, true, 2, Func::StartsWith, Ty::Bool),
    def("endsWith", false, true, 2, Func::EndsWith, Ty::Bool),
    def("contains", false, true, 2, Func::Contains, Ty::Bool),
    def("matches", true, true, 2, Func::Matches, Ty::Bool),
    def("lowerAscii", false, true, 1, Func::LowerAscii, Ty::String),
    def("upperAscii", false, true, 1, Func::UpperAscii, Ty::String),
    def("int", true, false, 1, Func::Int, Ty::Int),
    def("uint", true, false, 1, Func::Uint, Ty::Uint),
    def("double", true, false, 1, Func::Double, Ty::Double),
    def("string", true, false, 1, Func::String, Ty::String),
    def("bool", true, false, 1, Func::Bool, Ty::Bool),
    def("timestamp", true, false, 1, Func::Timestamp, Ty::Timestamp),
    def("duration", true, false, 1, Func::Duration, Ty::Duration),
    def("dyn", true, false, 1, Func::Dyn, Ty::Dyn),
    def(
        "getFullYear",
        false,
        true,
        1,
        Func::TimePart(TimePart::FullYear),
        Ty::Int,
    ),
    def(
        "getMonth",
        false,
        true,
        1,
        Func::TimePart(TimePart::Month),
        Ty::Int,
    ),
    def(
        "getDate",
        false,
        true,
        1,
        Func::TimePart(TimePart::Date),
        Ty::Int,
    ),
    def(
        "getDayOfMonth",
        false,
        true,
        1,
        Func::TimePart(TimePart::DayOfMonth),
        Ty::Int,
    ),
    def(
        "getDayOfWeek",
        false,
        true,
        1,
        Func::TimePart(TimePart::DayOfWeek),
        Ty::Int,
    ),
    def(
        "getDayOfYear",
        false,
        true,
        1,
        Func::TimePart(TimePart::DayOfYear),
        Ty::Int,
    ),
    def(
        "getHours",
        false,
        true,
        1,
        Func::TimePart(TimePart::Hours),
        Ty::Int,
    ),
    def(
        "getMinutes",
        false,
        true,
        1,
        Func::TimePart(TimePart::Minutes),
        Ty::Int,
    ),
    def(
        "getSeconds",
        false,
        true,
        1,
        Func::TimePart(TimePart::Seconds),
        Ty::Int,
    ),
    def(
        "getMilliseconds",
        false,
        true,
        1,
        Func::TimePart(TimePart::Milliseconds),
        Ty::Int,
    ),
];

pub fn compile_regex(pattern: &str) -> Result<Regex, String> {
    RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .nest_limit(REGEX_NEST_LIMIT)
        .build()
        .map_err(|err| format!("invalid regular expression `{pattern}`: {err}"))
}

fn overload(name: &str, args: &[Value]) -> EvalError {
    let types: Vec<&str> = args.iter().map(Value::type_name).collect();
    EvalError::new(format!("no such overload `{name}({})`", types.join(", ")))
}

fn string_pair<'a>(name: &str, args: &'a [Value]) -> Result<(&'a str, &'a str), EvalError> {
    match args {
        [Value::String(a), Value::String(b)] => Ok((a, b)),
        _ => Err(overload(name, args)),
    }
}

pub fn call(func: &Func, args: &[Value]) -> Result<Value, EvalError> {
    match func {
        Func::Size => match args {
            [Value::String(s)] => Ok(Value::Int(s.chars().count() as i64)),
            [Value::List(items)] => Ok(Value::Int(items.len() as i64)),
            [Value::Map(map)] => Ok(Value::Int(map.len() as i64)),
            _ => Err(overload("size", args)),
        },
        Func::StartsWith => {
            string_pair("startsWith", args).map(|(s, p)| Value::Bool(s.starts_with(p)))
        }
        Func::EndsWith => string_pair("endsWith", args).map(|(s, p)| Value::Bool(s.ends_with(p))),
        Func::Contains => string_pair("contains", args).map(|(s, p)| Value::Bool(s.contains(p))),
        Func::Matches => {
            let (text, pattern) = string_pair("matches", args)?;
            let regex = compile_regex(pattern).map_err(EvalError::new)?;
            Ok(Value::Bool(regex.is_match(text)))
        }
        Func::MatchesConst(regex) => match args {
            [Value::String(text)] => Ok(Value::Bool(regex.is_match(text))),
            _ => Err(overload("matches", args)),
        },
        Func::LowerAscii => match args {
            [Value::String(s)] => Ok(Value::string(&s.to_ascii_lowercase())),
            _ => Err(overload("lowerAscii", args)),
        },
        Func::UpperAscii => match args {
            [Value::String(s)] => Ok(Value::string(&s.to_ascii_uppercase())),
            _ => Err(overload("upperAscii", args)),
        },
        Func::Int => to_int(args),
        Func::Uint => to_uint(args),
        Func::Double => match args {
            [Value::Int(i)] => Ok(Value::Double(*i as f64)),
            [Value::Uint(u)] => Ok(Value::Double(*u as f64)),
            [Value::Double(d)] => Ok(Value::Double(*d)),
            [Value::String(s)] => s
                .parse::<f64>()
                .map(Value::Double)
                .map_err(|_| EvalError::new(format!("cannot convert `{s}` to double"))),
            _ => Err(overload("double", args)),
        },
        Func::String => match args {
            [Value::String(s)] => Ok(Value::String(s.clone())),
            [Value::Int(i)] => Ok(Value::string(&i.to_string())),
            [Value::Uint(u)] => Ok(Value::string(&u.to_string())),
            [Value::Double(d)] => Ok(Value::string(&d.to_string())),
            [Value::Bool(b)] => Ok(Value::string(&b.to_string())),
            [Value::Timestamp(t)] => Ok(Value::string(&time::format_timestamp(*t))),
            [Value::Duration(d)] => Ok(Value::string(&time::format_duration(*d))),
            _ => Err(overload("string", args)),
        },
        Func::Bool => match args {
            [Value::Bool(b)] => Ok(Value::Bool(*b)),
            [Value::String(s)] => match s.as_ref() {
                "true" | "TRUE" | "True" | "t" | "1" => Ok(Value::Bool(true)),
                "false" | "FALSE" | "False" | "f" | "0" => Ok(Value::Bool(false)),
                _ => Err(EvalError::new(format!("cannot convert `{s}` to bool"))),
            },
            _ => Err(overload("bool", args)),
        },
        Func::Timestamp => match args {
            [Value::String(s)] => time::parse_timestamp(s)
                .map(Value::Timestamp)
                .map_err(EvalError::new),
            [Value::Timestamp(t)] => Ok(Value::Timestamp(*t)),
            // seconds since the epoch, as CEL's timestamp(int) overload
            [Value::Int(seconds)] => {
                let nanos = i128::from(*seconds) * 1000 * NANOS_PER_MILLI;
                if !time::timestamp_in_range(nanos) {
                    return Err(EvalError::new(format!(
                        "timestamp({seconds}) is out of range"
                    )));
                }
                Ok(Value::Timestamp(nanos))
            }
            _ => Err(overload("timestamp", args)),
        },
        Func::Duration => match args {
            [Value::String(s)] => time::parse_duration(s)
                .map(Value::Duration)
                .map_err(EvalError::new),
            [Value::Duration(d)] => Ok(Value::Duration(*d)),
            _ => Err(overload("duration", args)),
        },
        Func::Dyn => match args {
            [value] => Ok(value.clone()),
            _ => Err(overload("dyn", args)),
        },
        Func::TimePart(part) => match args {
            [Value::Timestamp(t)] => Ok(Value::Int(time_part(*part, *t))),
            [Value::Duration(d)] => duration_part(*part, *d)
                .map(Value::Int)
                .ok_or_else(|| overload(part.name(), args)),
            _ => Err(overload(part.name(), args)),
        },
    }
}

fn to_int(args: &[Value]) -> Result<Value, EvalError> {
    let range = || EvalError::new("int conversion out of range");
    match args {
        [Value::Int(i)] => Ok(Value::Int(*i)),
        [Value::Uint(u)] => i64::try_from(*u).map(Value::Int).map_err(|_| range()),
        [Value::Double(d)] => {
            // CEL truncates toward zero and refuses values outside i64.
            if d.is_finite()
                && *d > -9_223_372_036_854_775_809.0
                && *d < 9_223_372_036_854_775_808.0
            {
                Ok(Value::Int(d.trunc() as i64))
            } else {
                Err(range())
            }
        }
        [Value::String(s)] => s
            .parse::<i64>()
            .map(Value::Int)
            .map_err(|_| EvalError::new(format!("cannot convert `{s}` to int"))),
        [Value::Timestamp(t)] => i64::try_from(t.div_euclid(1000 * NANOS_PER_MILLI))
            .map(Value::Int)
            .map_err(|_| range()),
        _ => Err(overload("int", args)),
    }
}

fn to_uint(args: &[Value]) -> Result<Value, EvalError> {
    let range = || EvalError::new("uint conversion out of range");
    match args {
        [Value::Uint(u)] => Ok(Value::Uint(*u)),
        [Value::Int(i)] => u64::try_from(*i).map(Value::Uint).map_err(|_| range()),
        [Value::Double(d)] => {
            if d.is_finite() && *d > -1.0 && *d < 18_446_744_073_709_551_616.0 {
                Ok(Value::Uint(d.trunc() as u64))
            } else {
                Err(range())
            }
        }
        [Value::String(s)] => s
            .parse::<u64>()
            .map(Value::Uint)
            .map_err(|_| EvalError::new(format!("cannot convert `{s}` to uint"))),
        _ => Err(overload("uint", args)),
    }
}

/// Calendar fields in UTC; CEL's zero- and one-based conventions are kept.
fn time_part(part: TimePart, nanos: i128) -> i64 {
    let seconds = i64::try_from(nanos.div_euclid(1000 * NANOS_PER_MILLI)).unwrap_or(0);
    let days = seconds.div_euclid(86_400);
    let in_day = seconds.rem_euclid(86_400);
    let (year, month, day) = time::civil_from_days(days);
    match part {
        TimePart::FullYear => year,
        TimePart::Month => month - 1,
        TimePart::Date => day,
        TimePart::DayOfMonth => day - 1,
        // 1970-01-01 was a Thursday (4)
        TimePart::DayOfWeek => (days + 4).rem_euclid(7),
        TimePart::DayOfYear => days - time::days_from_civil(year, 1, 1),
        TimePart::Hours => in_day / 3600,
        TimePart::Minutes => in_day % 3600 / 60,
        TimePart::Seconds => in_day % 60,
        TimePart::Milliseconds => {
            i64::try_from(nanos.rem_euclid(1000 * NANOS_PER_MILLI) / NANOS_PER_MILLI).unwrap_or(0)
        }
    }
}

/// A duration's accessors give its whole length in the unit (CEL's
/// `duration('3730s').getMinutes()` is 62); calendar parts do not apply.
fn duration_part(part: TimePart, nanos: i128) -> Option<i64> {
    let unit: i128 = match part {
        TimePart::Hours => 3_600_000 * NANOS_PER_MILLI,
        TimePart::Minutes => 60_000 * NANOS_PER_MILLI,
        TimePart::Seconds => 1000 * NANOS_PER_MILLI,
        TimePart::Milliseconds => NANOS_PER_MILLI,
        _ => return None,
    };
    i64::try_from(nanos / unit).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions() {
        assert_eq!(
            call(&Func::Int, &[Value::Double(-2.7)]).unwrap(),
            Value::Int(-2)
        );
        assert!(call(&Func::Int, &[Value::Double(1e19)]).is_err());
        assert!(call(&Func::Uint, &[Value::Int(-1)]).is_err());
        assert_eq!(
            call(&Func::String, &[Value::Int(7)]).unwrap(),
            Value::string("7")
        );
        assert_eq!(
            call(&Func::Size, &[Value::string("héllo")]).unwrap(),
            Value::Int(5)
        );
    }

    #[test]
    fn time_parts() {
        let t = time::parse_timestamp("2026-03-01T12:34:56Z").unwrap();
        assert_eq!(time_part(TimePart::FullYear, t), 2026);
        assert_eq!(time_part(TimePart::Month, t), 2);
        assert_eq!(time_part(TimePart::DayOfWeek, t), 0, "a Sunday");
        assert_eq!(time_part(TimePart::DayOfYear, t), 59);
        assert_eq!(time_part(TimePart::Hours, t), 12);
    }
}
