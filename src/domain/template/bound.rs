//! An upper bound on what rendering a checked template costs with a context of known size:
//! the rendered JSON's size in bytes, and the work, counted as bytes touched (each value made,
//! copied, compared or parsed counts its size, each step one more).
//!
//! Sizes are JSON bytes. Every value taken from the context is at most the whole context;
//! inside a `$map` body the element is a symbol `E` whose sizes over all elements add up to at
//! most the mapped value, so bounds there are `c + e·E` ([`Lin`]). Anything whose cost data can
//! drive without a limit known from sizes has no bound (`None`): `range` over computed numbers,
//! `$reduce`, `$find` (it renders the found element as a template), an iteration inside a
//! `$map` body, `join`, `split` and `in` inside a `$map` body, a product of two sizes that both
//! depend on the element, unknown or too deep parts, calls of anything but a builtin.
//! Parsing costs time too: the renderer's parser backtracks, doubling at each nested bracket.

use super::expr::Expr;
use super::walk::{Code, Node, Operator, Part};

/// Bytes a number may take as text (an `f64` prints without exponent: up to 309 digits).
const NUMBER: u64 = 330;
/// Bytes of a boolean or null.
const SCALAR: u64 = 5;
/// Bytes of a date `$fromNow` makes, with quotes.
const DATE: u64 = 32;
/// Elements `range` may make from literal numbers before it counts as unbounded.
const MAX_RANGE: u64 = 10_000;

/// What a render costs at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// Bytes of the rendered JSON.
    pub output: u64,
    /// Bytes touched on the way.
    pub work: u64,
}

impl Bound {
    /// Whether the render stays within `output` bytes and `work`.
    pub fn within(&self, output: u64, work: u64) -> bool {
        self.output <= output && self.work <= work
    }
}

/// `c + e·E`, `E` the size of the element a `$map` body renders.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Lin {
    c: u64,
    e: u64,
}

impl Lin {
    fn constant(c: u64) -> Self {
        Self { c, e: 0 }
    }

    fn plus(self, other: Self) -> Self {
        Self {
            c: self.c.saturating_add(other.c),
            e: self.e.saturating_add(other.e),
        }
    }

    fn max(self, other: Self) -> Self {
        Self {
            c: self.c.max(other.c),
            e: self.e.max(other.e),
        }
    }

    fn times(self, k: u64) -> Self {
        Self {
            c: self.c.saturating_mul(k),
            e: self.e.saturating_mul(k),
        }
    }

    /// A product, unless both depend on the element (a square is not linear).
    fn product(self, other: Self) -> Option<Self> {
        if self.e != 0 && other.e != 0 {
            return None;
        }
        Some(Self {
            c: self.c.saturating_mul(other.c),
            e: self
                .c
                .saturating_mul(other.e)
                .saturating_add(other.c.saturating_mul(self.e)),
        })
    }
}

/// A size and the work that made it.
#[derive(Debug, Clone, Copy, Default)]
struct Est {
    size: Lin,
    work: Lin,
}

impl Est {
    fn sized(size: Lin) -> Self {
        Self {
            size,
            work: size.plus(Lin::constant(1)),
        }
    }

    /// `self`'s work plus `other`'s.
    fn after(self, other: Self) -> Self {
        Self {
            size: self.size,
            work: self.work.plus(other.work),
        }
    }
}

/// A name in scope and the size of its value; `None` for "any name" (a `$let` whose names
/// are only known when rendering).
struct Binding<'a> {
    name: Option<&'a str>,
    size: Lin,
}

struct Estimator<'a> {
    context: u64,
    scope: Vec<Binding<'a>>,
    in_map: bool,
}

/// The bound of rendering `root` with a context of `context_bytes`, names in `bound` (e.g. a
/// pinned `now`) bound to values of the given sizes; `None` when it has none.
pub(super) fn estimate(root: &Node, context_bytes: u64, bound: &[(&str, u64)]) -> Option<Bound> {
    let mut estimator = Estimator {
        context: context_bytes,
        scope: bound
            .iter()
            .map(|(name, size)| Binding {
                name: Some(name),
                size: Lin::constant(*size),
            })
            .collect(),
        in_map: false,
    };
    let est = estimator.node(root)?;
    // The renderer copies the context into its own values first, and the result out.
    let work = est
        .work
        .c
        .saturating_add(context_bytes.saturating_mul(4))
        .saturating_add(est.size.c.saturating_mul(2));
    Some(Bound {
        output: est.size.c,
        work,
    })
}

fn sum(ests: impl IntoIterator<Item = Est>, punctuation: u64) -> Est {
    ests.into_iter()
        .fold(Est::sized(Lin::constant(2)), |total, est| Est {
            size: total.size.plus(est.size).plus(Lin::constant(punctuation)),
            work: total.work.plus(est.work),
        })
}

impl<'a> Estimator<'a> {
    fn node(&mut self, node: &'a Node) -> Option<Est> {
        match node {
            Node::Literal(size) => Some(Est::sized(Lin::constant(*size as u64))),
            Node::Interpolated(parts) => self.interpolation(parts),
            Node::Array(items) => {
                let items = items
                    .iter()
                    .map(|n| self.node(n))
                    .collect::<Option<Vec<_>>>()?;
                Some(sum(items, 1))
            }
            Node::Object(entries) => {
                let mut ests = Vec::with_capacity(entries.len() * 2);
                for (key, _, value) in entries {
                    ests.push(self.interpolation(key)?);
                    ests.push(self.node(value)?);
                }
                Some(sum(ests, 1))
            }
            Node::Operator(op) => self.operator(op),
            Node::Unknown => None,
        }
    }

    fn interpolation(&mut self, parts: &'a [Part]) -> Option<Est> {
        let mut ests = Vec::with_capacity(parts.len());
        for part in parts {
            ests.push(match part {
                // Raw text may need escapes as JSON: at most 6 bytes a byte.
                Part::Text(len) => Est::sized(Lin::constant(*len as u64 * 6)),
                Part::Code(code) => {
                    let est = self.code(code)?;
                    Est {
                        size: est.size.max(Lin::constant(NUMBER)),
                        work: est.work.plus(est.size),
                    }
                }
            });
        }
        Some(sum(ests, 0))
    }

    /// An expression: its parse and its evaluation.
    fn code(&mut self, code: &'a Code) -> Option<Est> {
        let expr = code.expr.as_ref()?;
        let parse = (code.text.len() as u64 + 1).saturating_mul(1 << nesting(&code.text).min(62));
        let est = self.expr(expr)?;
        Some(Est {
            size: est.size,
            work: est.work.plus(Lin::constant(parse)),
        })
    }

    fn lookup(&self, name: &str) -> Lin {
        let mut any = Lin::default();
        for binding in self.scope.iter().rev() {
            match binding.name {
                Some(bound) if bound == name => return binding.size.max(any),
                Some(_) => {}
                None => any = any.max(binding.size),
            }
        }
        Lin::constant(self.context).max(any)
    }

    fn operator(&mut self, op: &'a Operator) -> Option<Est> {
        match op {
            Operator::Eval(code) => self.code(code),
            Operator::Reshape(value) => {
                let est = self.node(value)?;
                // $mergeDeep copies what it merged so far for each object merged.
                let work = est.work.plus(est.size.product(est.size)?);
                Some(Est {
                    size: est.size,
                    work,
                })
            }
            Operator::Json(value) => {
                let est = self.node(value)?;
                Some(Est {
                    size: est.size.times(2).plus(Lin::constant(2)),
                    work: est.work.plus(est.size.times(2)),
                })
            }
            Operator::FromNow(value, from) => {
                let mut est = Est::sized(Lin::constant(DATE)).after(self.node(value)?);
                if let Some(from) = from {
                    est = est.after(self.node(from)?);
                }
                Some(est)
            }
            Operator::If(condition, then, otherwise) => {
                let condition = self.code(condition)?;
                let then = self.optional(then.as_ref())?;
                let otherwise = self.optional(otherwise.as_ref())?;
                Some(Est {
                    size: then.size.max(otherwise.size),
                    work: condition.work.plus(then.work.max(otherwise.work)),
                })
            }
            Operator::Let(bindings, body) => {
                let est = self.node(bindings)?;
                let depth = self.scope.len();
                match bindings {
                    Node::Object(entries) => {
                        for (_, name, value) in entries {
                            let size = self.node(value)?.size;
                            // A key with interpolation may be any name.
                            self.scope.push(Binding {
                                name: name.as_deref(),
                                size,
                            });
                        }
                    }
                    _ => self.scope.push(Binding {
                        name: None,
                        size: est.size,
                    }),
                }
                let body = self.node(body);
                self.scope.truncate(depth);
                Some(body?.after(est))
            }
            Operator::Map(input, each, body) => {
                if self.in_map {
                    return None;
                }
                let input = self.node(input)?;
                let values = input.size.c;
                let depth = self.scope.len();
                self.scope.push(Binding {
                    name: Some(&each.value),
                    size: Lin { c: 0, e: 1 },
                });
                if let Some(index) = &each.index {
                    // An array's index is a number; an object's key is part of its entry.
                    self.scope.push(Binding {
                        name: Some(index),
                        size: Lin { c: NUMBER, e: 1 },
                    });
                }
                self.in_map = true;
                let body = self.node(body);
                self.in_map = false;
                self.scope.truncate(depth);
                let body = body?;
                // Each element takes a byte and a comma at least: at most half as many
                // elements as bytes, and their sizes add up to at most the whole.
                let elements = values / 2 + 1;
                let over = |lin: Lin| {
                    lin.c
                        .saturating_add(1)
                        .saturating_mul(elements)
                        .saturating_add(lin.e.saturating_mul(values))
                };
                Some(Est {
                    size: Lin::constant(over(body.size).saturating_add(2)),
                    work: input
                        .work
                        .plus(Lin::constant(over(body.work).saturating_add(values))),
                })
            }
            Operator::Reduce(_) | Operator::Find(..) => None,
            Operator::Choose(arms) => {
                let mut total = Est::sized(Lin::constant(2));
                for (condition, value) in arms {
                    if let Some(condition) = condition {
                        total = total.after(self.code(condition)?);
                    }
                    let value = self.node(value)?;
                    total = Est {
                        size: total.size.plus(value.size).plus(Lin::constant(1)),
                        work: total.work.plus(value.work),
                    };
                }
                Some(total)
            }
            Operator::Sort(input, by) => {
                if self.in_map {
                    return None;
                }
                let input = self.node(input)?;
                let values = input.size.c;
                let mut work = input.work.c.saturating_add(values.saturating_mul(64));
                if let Some((name, code)) = by {
                    self.scope.push(Binding {
                        name: Some(name),
                        size: Lin { c: 0, e: 1 },
                    });
                    self.in_map = true;
                    let key = self.code(code);
                    self.in_map = false;
                    self.scope.pop();
                    let key = key?;
                    work = work
                        .saturating_add(key.work.c.saturating_mul(values))
                        .saturating_add(key.work.e.saturating_mul(values))
                        .saturating_add(values.saturating_mul(values.max(1).ilog2() as u64 + 1));
                }
                Some(Est {
                    size: input.size,
                    work: Lin::constant(work),
                })
            }
        }
    }

    fn optional(&mut self, node: Option<&'a Node>) -> Option<Est> {
        node.map_or(Some(Est::default()), |n| self.node(n))
    }

    fn expr(&mut self, expr: &'a Expr) -> Option<Est> {
        Some(match expr {
            Expr::Number(_) => Est::sized(Lin::constant(NUMBER)),
            Expr::Str(text) => Est::sized(Lin::constant(text.len() as u64 * 6 + 2)),
            Expr::Bool(_) | Expr::Null => Est::sized(Lin::constant(SCALAR)),
            Expr::Ident(name) => Est::sized(self.lookup(name)),
            Expr::Array(items) => {
                let items = items
                    .iter()
                    .map(|e| self.expr(e))
                    .collect::<Option<Vec<_>>>()?;
                sum(items, 1)
            }
            Expr::Object(entries) => {
                let mut ests = Vec::with_capacity(entries.len() * 2);
                for (key, value) in entries {
                    ests.push(Est::sized(Lin::constant(key.len() as u64 * 6 + 3)));
                    ests.push(self.expr(value)?);
                }
                sum(ests, 1)
            }
            Expr::Unary(op, operand) => {
                let operand = self.expr(operand)?;
                let size = if *op == '!' { SCALAR } else { NUMBER };
                Est::sized(Lin::constant(size)).after(operand)
            }
            Expr::Binary(left, op, right) => {
                let (left, right) = (self.expr(left)?, self.expr(right)?);
                if *op == "in" && self.in_map {
                    return None;
                }
                let size = match *op {
                    "+" => left.size.plus(right.size).max(Lin::constant(NUMBER)),
                    "-" | "*" | "/" | "**" => Lin::constant(NUMBER),
                    _ => Lin::constant(SCALAR),
                };
                Est {
                    size,
                    work: left
                        .work
                        .plus(right.work)
                        .plus(left.size)
                        .plus(right.size)
                        .plus(size),
                }
            }
            Expr::Index(of, index) => {
                let (of, index) = (self.expr(of)?, self.expr(index)?);
                Est::sized(of.size).after(of).after(index)
            }
            Expr::Slice(of, from, to) => {
                let mut est = self.expr(of)?;
                est = Est::sized(est.size).after(est);
                for end in [from, to].into_iter().flatten() {
                    est = est.after(self.expr(end)?);
                }
                est
            }
            Expr::Dot(of, _) => {
                let of = self.expr(of)?;
                Est::sized(of.size).after(of)
            }
            Expr::Call(callee, args) => return self.call(callee, args),
        })
    }

    fn call(&mut self, callee: &'a Expr, args: &'a [Expr]) -> Option<Est> {
        let Expr::Ident(name) = callee else {
            return None;
        };
        // A name bound in the template or the context is not the builtin.
        if self.scope.iter().any(|b| b.name.is_none_or(|n| n == name)) {
            return None;
        }
        if name == "range" {
            return range(args);
        }
        let args = args
            .iter()
            .map(|a| self.expr(a))
            .collect::<Option<Vec<_>>>()?;
        let first = args.first().map_or(Lin::default(), |a| a.size);
        let second = args.get(1).map_or(Lin::default(), |a| a.size);
        let size = match name.as_str() {
            "abs" | "sqrt" | "ceil" | "floor" | "number" | "len" | "min" | "max" => {
                Lin::constant(NUMBER)
            }
            "typeof" | "defined" => Lin::constant(16),
            "fromNow" => Lin::constant(DATE),
            "str" => first.max(Lin::constant(NUMBER)),
            "strip" | "lstrip" | "rstrip" => first,
            // A character may grow when its case changes.
            "lowercase" | "uppercase" => first.times(3),
            "join" | "split" if self.in_map => return None,
            // Each element (at most one a byte) gets a separator.
            "join" => first.plus(first.product(second)?),
            // Each byte may become its own string.
            "split" => first.times(8).plus(Lin::constant(8)),
            _ => return None,
        };
        let work = args
            .iter()
            .fold(size, |work, a| work.plus(a.work).plus(a.size));
        Some(Est { size, work })
    }
}

/// `range` of literal numbers, small enough; otherwise unbounded.
fn range(args: &[Expr]) -> Option<Est> {
    let number = |e: &Expr| match e {
        Expr::Number(n) => Some(*n),
        Expr::Unary('-', inner) => match **inner {
            Expr::Number(n) => Some(-n),
            _ => None,
        },
        _ => None,
    };
    let numbers = args.iter().map(number).collect::<Option<Vec<f64>>>()?;
    let (start, stop, step) = match numbers.as_slice() {
        [start, stop] => (*start, *stop, 1.0),
        [start, stop, step] => (*start, *stop, *step),
        _ => return None,
    };
    let count = ((stop - start) / step).abs().ceil();
    if !count.is_finite() || count > MAX_RANGE as f64 {
        return None;
    }
    Some(Est::sized(Lin::constant(
        (count as u64 + 1).saturating_mul(NUMBER + 1),
    )))
}

/// How deeply brackets nest in an expression's text, outside string literals.
fn nesting(text: &str) -> u32 {
    let (mut depth, mut deepest, mut quote) = (0u32, 0u32, None);
    for b in text.bytes() {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(b),
            (None, b'(' | b'[' | b'{') => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            (None, b')' | b']' | b'}') => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}
