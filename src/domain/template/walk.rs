//! Walking a JSON-e template: every operator object and `${...}` interpolation checked, the
//! result a [`Node`] tree for the bound estimate.
//!
//! The rule: a template is refused only for an error on a part every successful render goes
//! through, so no context could make the renderer accept it. Parts a render may skip (the
//! branches of `$if`, `$match` and `$switch`, the bodies of `$map`, `$reduce`, `$find` and
//! `$sort`'s `by(..)`, which an empty input never reaches) are checked too, but their errors
//! are warnings and the part becomes [`Node::Unknown`]. Operator objects are found as the
//! renderer finds them: keys in byte order, the first whose text starts with one `$`.

use serde_json::{Map, Value};

use super::expr::{self, Expr, ParseError};

/// What is wrong with a template, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("at {pointer:?}: {message}")]
pub struct TemplateError {
    /// The JSON pointer of the offending place in the template (`""` is the template itself).
    pub pointer: String,
    /// What is wrong, for the template's author.
    pub message: String,
}

/// A checked expression and the text it came from (its nesting costs the renderer time).
#[derive(Debug, Clone)]
pub struct Code {
    /// The parse; `None` when it nests too deeply to follow.
    pub expr: Option<Expr>,
    /// The expression's text.
    pub text: String,
}

/// A piece of an interpolated string.
#[derive(Debug, Clone)]
pub enum Part {
    /// Text kept as it is, in bytes.
    Text(usize),
    /// A `${...}`.
    Code(Code),
}

/// A checked template.
#[derive(Debug, Clone)]
pub enum Node {
    /// A number, boolean, null or string without interpolation, with its JSON size.
    Literal(usize),
    /// A string with interpolations.
    Interpolated(Vec<Part>),
    /// An array.
    Array(Vec<Node>),
    /// An object that is not an operator: its keys (as interpolations, and as text when
    /// they interpolate nothing) and values.
    Object(Vec<(Vec<Part>, Option<String>, Node)>),
    /// An operator object.
    Operator(Box<Operator>),
    /// A part a render may skip that has an error, or that could not be followed.
    Unknown,
}

/// An operator object, checked.
#[derive(Debug, Clone)]
pub enum Operator {
    /// `$eval`.
    Eval(Code),
    /// `$flatten`, `$flattenDeep`, `$reverse`, `$merge`, `$mergeDeep`: a reshaping of the
    /// value that adds nothing to its size beyond brackets.
    Reshape(Node),
    /// `$json`.
    Json(Node),
    /// `$fromNow`, with `from`.
    FromNow(Node, Option<Node>),
    /// `$if` with `then` and `else`.
    If(Code, Option<Node>, Option<Node>),
    /// `$let` and its `in`.
    Let(Node, Node),
    /// `$map` over a value with `each(var[, index])`.
    Map(Node, Each, Node),
    /// `$reduce`.
    Reduce(Node),
    /// `$find` over a value; its condition.
    Find(Node, Each, Option<Code>),
    /// `$match` or `$switch`: the conditions and their results (`$default` without one).
    Choose(Vec<(Option<Code>, Node)>),
    /// `$sort`, with the variable and expression of `by(..)`.
    Sort(Node, Option<(String, Code)>),
}

/// The variables of `each(..)`.
#[derive(Debug, Clone)]
pub struct Each {
    /// The element (or `{key, val}` of an object).
    pub value: String,
    /// The index or key, when named.
    pub index: Option<String>,
}

/// Walks `template`; warnings for skippable parts go to `warnings`.
pub(super) fn walk(
    template: &Value,
    warnings: &mut Vec<TemplateError>,
) -> Result<Node, TemplateError> {
    Walker { warnings }.node(template, "")
}

struct Walker<'w> {
    warnings: &'w mut Vec<TemplateError>,
}

fn child(pointer: &str, token: &str) -> String {
    format!("{pointer}/{}", token.replace('~', "~0").replace('/', "~1"))
}

fn error(pointer: &str, message: impl Into<String>) -> TemplateError {
    TemplateError {
        pointer: pointer.to_owned(),
        message: message.into(),
    }
}

impl Walker<'_> {
    fn node(&mut self, value: &Value, at: &str) -> Result<Node, TemplateError> {
        Ok(match value {
            Value::String(text) => {
                let parts = interpolation(text).map_err(|m| error(at, m))?;
                match parts {
                    Some(parts) => Node::Interpolated(parts),
                    None => Node::Literal(json_size(value)),
                }
            }
            Value::Array(items) => Node::Array(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.node(item, &child(at, &i.to_string())))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(object) => self.object(object, at)?,
            other => Node::Literal(json_size(other)),
        })
    }

    /// A part a render may skip: its error becomes a warning.
    fn maybe(&mut self, value: &Value, at: &str) -> Node {
        self.node(value, at).unwrap_or_else(|e| {
            self.warnings.push(e);
            Node::Unknown
        })
    }

    fn object(&mut self, object: &Map<String, Value>, at: &str) -> Result<Node, TemplateError> {
        let mut keys: Vec<&String> = object.keys().collect();
        keys.sort();
        for key in &keys {
            let key_at = child(at, key);
            interpolation(key).map_err(|m| error(&key_at, m))?;
            let bytes = key.as_bytes();
            // `$x` and `$` name operators; `$${` renders to a key starting `${`, which names
            // one too; `$$x` is an escaped key and `${` an interpolated one.
            let operator = match bytes {
                [b'$'] => true,
                [b'$', b'$', b'{', ..] => true,
                [b'$', second, ..] => *second != b'$' && *second != b'{',
                _ => false,
            };
            if operator {
                return self.operator(key, object, at);
            }
        }
        let mut entries = Vec::with_capacity(keys.len());
        for key in keys {
            let key_at = child(at, key);
            let value = self.node(&object[key], &key_at)?;
            let unescaped = key
                .strip_prefix('$')
                .filter(|k| k.starts_with('$'))
                .unwrap_or(key);
            let parts = interpolation(unescaped).map_err(|m| error(&key_at, m))?;
            entries.push(match parts {
                Some(parts) => (parts, None, value),
                None => (
                    vec![Part::Text(unescaped.len())],
                    Some(unescaped.to_owned()),
                    value,
                ),
            });
        }
        Ok(Node::Object(entries))
    }

    fn operator(
        &mut self,
        name: &str,
        object: &Map<String, Value>,
        at: &str,
    ) -> Result<Node, TemplateError> {
        let value = &object[name];
        let value_at = child(at, name);
        let only = |allowed: &dyn Fn(&str) -> bool| properties(name, object, at, allowed);
        let none = |_: &str| false;
        let op = match name {
            "$eval" => {
                only(&none)?;
                let Value::String(text) = value else {
                    return Err(error(&value_at, "$eval must be given a string expression"));
                };
                Operator::Eval(code(text, &value_at)?)
            }
            "$flatten" | "$flattenDeep" | "$reverse" | "$merge" | "$mergeDeep" => {
                only(&none)?;
                Operator::Reshape(self.node(value, &value_at)?)
            }
            "$json" => {
                only(&none)?;
                Operator::Json(self.node(value, &value_at)?)
            }
            "$fromNow" => {
                only(&|p| p == "from")?;
                let from = match object.get("from") {
                    Some(from) => Some(self.node(from, &child(at, "from"))?),
                    None => None,
                };
                Operator::FromNow(self.node(value, &value_at)?, from)
            }
            "$if" => {
                only(&|p| p == "then" || p == "else")?;
                let Value::String(text) = value else {
                    return Err(error(&value_at, "$if can evaluate string expressions only"));
                };
                let condition = code(text, &value_at)?;
                let then = object
                    .get("then")
                    .map(|v| self.maybe(v, &child(at, "then")));
                let otherwise = object
                    .get("else")
                    .map(|v| self.maybe(v, &child(at, "else")));
                Operator::If(condition, then, otherwise)
            }
            "$let" => {
                only(&|p| p == "in")?;
                if !value.is_object() {
                    return Err(error(&value_at, "$let value must be an object"));
                }
                let bindings = self.node(value, &value_at)?;
                if let (Node::Object(_), Some(names)) = (&bindings, value.as_object()) {
                    for key in names.keys() {
                        if !key.contains('$') && !is_identifier(key) {
                            return Err(error(
                                &child(&value_at, key),
                                "the names a $let binds must match [a-zA-Z_][a-zA-Z0-9_]*",
                            ));
                        }
                    }
                }
                let Some(body) = object.get("in") else {
                    return Err(error(at, "$let needs an `in` property"));
                };
                Operator::Let(bindings, self.node(body, &child(at, "in"))?)
            }
            "$map" | "$find" => {
                only(&|p| each(p, 1).is_some())?;
                if object.len() != 2 {
                    return Err(error(
                        at,
                        format!("{name} needs exactly one each(..) property"),
                    ));
                }
                let (key, body) = object.iter().find(|(k, _)| *k != name).ok_or_else(|| {
                    error(at, format!("{name} needs exactly one each(..) property"))
                })?;
                let vars = each(key, 1).unwrap_or_default();
                let input = self.node(value, &value_at)?;
                let each = Each {
                    value: vars[0].clone(),
                    index: vars.get(1).cloned(),
                };
                let body_at = child(at, key);
                if name == "$map" {
                    Operator::Map(input, each, self.maybe(body, &body_at))
                } else {
                    let condition = match body {
                        Value::String(text) => {
                            code(text, &body_at).map_err(|e| self.warnings.push(e)).ok()
                        }
                        _ => {
                            self.warnings.push(error(
                                &body_at,
                                "$find can evaluate string expressions only",
                            ));
                            None
                        }
                    };
                    Operator::Find(input, each, condition)
                }
            }
            "$reduce" => {
                only(&|p| p == "initial" || each(p, 2).is_some())?;
                if object.len() != 3 || !object.contains_key("initial") {
                    return Err(error(
                        at,
                        "$reduce needs exactly an each(acc, x[, i]) and an `initial` property",
                    ));
                }
                let input = self.node(value, &value_at)?;
                if let Some((key, body)) =
                    object.iter().find(|(k, _)| *k != name && *k != "initial")
                {
                    self.maybe(body, &child(at, key));
                }
                Operator::Reduce(input)
            }
            "$match" | "$switch" => {
                if name == "$match" {
                    only(&none)?;
                }
                let Value::Object(arms) = value else {
                    return Err(error(
                        &value_at,
                        format!("{name} can evaluate objects only"),
                    ));
                };
                let mut conditions: Vec<&String> = arms.keys().collect();
                conditions.sort();
                let mut choices = Vec::with_capacity(arms.len());
                for condition in conditions {
                    let arm_at = child(&value_at, condition);
                    let condition_code = if name == "$switch" && condition == "$default" {
                        None
                    } else {
                        Some(code(condition, &arm_at).map_err(|e| {
                            error(
                                &arm_at,
                                format!("parsing error in condition: {}", e.message),
                            )
                        })?)
                    };
                    choices.push((condition_code, self.maybe(&arms[condition], &arm_at)));
                }
                Operator::Choose(choices)
            }
            "$sort" => {
                only(&|p| by(p).is_some())?;
                let input = self.node(value, &value_at)?;
                let bys: Vec<(&String, &Value)> =
                    object.iter().filter(|(k, _)| *k != name).collect();
                let by = match bys.as_slice() {
                    [] => None,
                    [(key, Value::String(text))] => {
                        let at = child(at, key);
                        code(text, &at)
                            .map_err(|e| self.warnings.push(e))
                            .ok()
                            .and_then(|code| Some((by(key)?, code)))
                    }
                    [(key, _)] => {
                        self.warnings
                            .push(error(&child(at, key), "by(..) needs a string expression"));
                        None
                    }
                    _ => {
                        self.warnings.push(error(at, "only one by(..) is allowed"));
                        None
                    }
                };
                if bys.len() == 1 && by.is_none() {
                    // A `by(..)` that cannot be used: what the sort costs is not known.
                    return Ok(Node::Unknown);
                }
                Operator::Sort(input, by)
            }
            _ => {
                return Err(error(
                    &value_at,
                    format!(
                        "{name} is not a JSON-e operator; write $${} for a literal key",
                        &name[1..]
                    ),
                ))
            }
        };
        Ok(Node::Operator(Box::new(op)))
    }
}

/// Refuses properties beside the operator that `allowed` does not accept.
fn properties(
    operator: &str,
    object: &Map<String, Value>,
    at: &str,
    allowed: &dyn Fn(&str) -> bool,
) -> Result<(), TemplateError> {
    let mut unknown: Vec<&str> = object
        .keys()
        .map(String::as_str)
        .filter(|k| *k != operator && !allowed(k))
        .collect();
    if unknown.is_empty() {
        return Ok(());
    }
    unknown.sort_unstable();
    Err(error(
        at,
        format!("{operator} has undefined properties: {}", unknown.join(" ")),
    ))
}

/// Parses one whole expression.
fn code(text: &str, at: &str) -> Result<Code, TemplateError> {
    let expr = match expr::parse_all(text) {
        Ok(expr) => Some(expr),
        Err(ParseError::TooDeep) => None,
        Err(ParseError::Syntax(message)) => {
            return Err(error(at, format!("in the expression {text:?}: {message}")))
        }
    };
    Ok(Code {
        expr,
        text: text.to_owned(),
    })
}

/// The parts of `text` when it interpolates anything (`None` for plain text; `$${` is an
/// escape and a `$` before anything else is text).
fn interpolation(text: &str) -> Result<Option<Vec<Part>>, String> {
    if !text.contains("${") {
        return Ok(None);
    }
    let mut parts = Vec::new();
    let mut rest = text;
    let mut plain = 0;
    while let Some(offset) = rest.find('$') {
        let after = &rest[offset..];
        if let Some(source) = after.strip_prefix("${") {
            let (end, expr) = match expr::parse_partial(source) {
                Ok((end, expr)) => (end, Some(expr)),
                // Where a too-deep expression ends is not known: the rest is unknown too.
                Err(ParseError::TooDeep) => {
                    parts.push(Part::Text(plain + offset));
                    parts.push(Part::Code(Code {
                        expr: None,
                        text: source.to_owned(),
                    }));
                    return Ok(Some(parts));
                }
                Err(ParseError::Syntax(message)) => {
                    return Err(format!("in the interpolation of {text:?}: {message}"))
                }
            };
            if !source[end..].starts_with('}') {
                return Err(format!("unterminated ${{..}} expression in {text:?}"));
            }
            parts.push(Part::Text(plain + offset));
            plain = 0;
            parts.push(Part::Code(Code {
                expr,
                text: source[..end].to_owned(),
            }));
            rest = &source[end + 1..];
        } else if after.starts_with("$${") {
            plain += offset + 1;
            rest = &rest[offset + 2..];
        } else {
            plain += offset + 1;
            rest = &rest[offset + 1..];
        }
    }
    parts.push(Part::Text(plain + rest.len()));
    Ok(Some(parts))
}

/// `each(a)`, `each(a,b)` (with `extra` 1) or `each(a,b)`, `each(a,b,c)` (with `extra` 2):
/// the names.
fn each(key: &str, needed: usize) -> Option<Vec<String>> {
    let names = call_names(key, "each(")?;
    (needed..=needed + 1)
        .contains(&names.len())
        .then_some(names)
}

/// `by(a)`: the name.
fn by(key: &str) -> Option<String> {
    let mut names = call_names(key, "by(")?;
    (names.len() == 1).then(|| names.remove(0))
}

/// `head` then names separated by `,` (each name may follow whitespace) then `)`, exactly.
fn call_names(key: &str, head: &str) -> Option<Vec<String>> {
    let inner = key.strip_prefix(head)?.strip_suffix(')')?;
    inner
        .split(',')
        .map(|name| {
            let name = name.trim_start_matches([' ', '\t', '\r', '\n']);
            is_identifier(name).then(|| name.to_owned())
        })
        .collect()
}

fn is_identifier(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// The size of `value` as compact JSON.
pub fn json_size(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}
