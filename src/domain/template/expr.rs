//! JSON-e's expression language: a parser into [`Expr`].
//!
//! The accepted language is the one of the `json-e` crate this build renders with, quirks
//! included, because the checker must never refuse what the renderer accepts: whitespace is
//! skipped after every token but not after an opening bracket of an empty list (`[ ]` and `f( )`
//! are refused by the renderer too), a unary operator applies to a single value (`--1` is
//! refused), strings have no escapes, numbers have no exponent, and `in`, `true`, `false` and
//! `null` are identifiers when more identifier characters follow. Binding strength, loosest
//! first: `||`, `&&`, `in`, `==` `!=`, `<` `<=` `>` `>=`, `+` `-`, `*` `/`, `**` (to the right),
//! then unary `!` `-` `+` on a value, then indexing, slicing, `.name` and calls (to the left).
//!
//! Nesting deeper than [`MAX_DEPTH`] is not parsed: [`ParseError::TooDeep`] says "not known",
//! which the checker accepts and the bound estimate treats as unbounded (a deep expression can
//! exhaust a thread's stack in the renderer).

/// How deeply expressions may nest before the parser stops looking.
pub const MAX_DEPTH: usize = 48;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A number literal.
    Number(f64),
    /// A string literal.
    Str(String),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// A name, looked up in the context.
    Ident(String),
    /// `[a, b]`.
    Array(Vec<Expr>),
    /// `{a: 1, "b": 2}`.
    Object(Vec<(String, Expr)>),
    /// `!x`, `-x`, `+x`.
    Unary(char, Box<Expr>),
    /// `a op b`, with the operator's text.
    Binary(Box<Expr>, &'static str, Box<Expr>),
    /// `a[i]`.
    Index(Box<Expr>, Box<Expr>),
    /// `a[i:j]`, either end optional.
    Slice(Box<Expr>, Option<Box<Expr>>, Option<Box<Expr>>),
    /// `a.name`.
    Dot(Box<Expr>, String),
    /// `f(args)`.
    Call(Box<Expr>, Vec<Expr>),
}

/// Why text is not an expression.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The renderer refuses it too.
    #[error("{0}")]
    Syntax(String),
    /// Nested deeper than this parser follows; the renderer may or may not accept it.
    #[error("the expression nests deeper than {MAX_DEPTH} levels")]
    TooDeep,
}

/// Parses the whole of `text` as one expression.
///
/// # Errors
/// [`ParseError`] when `text` is not one expression.
pub fn parse_all(text: &str) -> Result<Expr, ParseError> {
    let (end, expr) = parse_partial(text)?;
    if end == text.len() {
        Ok(expr)
    } else {
        Err(ParseError::Syntax(format!(
            "unexpected {:?} after the expression",
            excerpt(&text[end..])
        )))
    }
}

/// Parses the longest expression at the start of `text`: the expression and where it ends (its
/// trailing whitespace included), as for an interpolation's `${...}`.
///
/// # Errors
/// [`ParseError`] when `text` does not start with an expression.
pub fn parse_partial(text: &str) -> Result<(usize, Expr), ParseError> {
    let mut parser = Parser {
        text: text.as_bytes(),
        src: text,
        depth: 0,
        deep: false,
    };
    match parser.expression(0) {
        // A part given up for depth may have been the longer parse: nothing is known then.
        _ if parser.deep => Err(ParseError::TooDeep),
        Some(found) => Ok(found),
        None => Err(ParseError::Syntax(format!(
            "{:?} is not an expression",
            excerpt(text)
        ))),
    }
}

fn excerpt(text: &str) -> String {
    text.chars().take(40).collect()
}

/// `None` is a failed alternative: the caller backtracks, as a PEG does.
type Parsed<T> = Option<(usize, T)>;

struct Parser<'a> {
    text: &'a [u8],
    src: &'a str,
    depth: usize,
    /// Set once a parse gave up for depth: every failure after it means "not known".
    deep: bool,
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Parser<'_> {
    fn at(&self, i: usize) -> Option<u8> {
        self.text.get(i).copied()
    }

    fn ws(&self, mut i: usize) -> usize {
        while matches!(self.at(i), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            i += 1;
        }
        i
    }

    fn tag(&self, i: usize, tag: &str) -> Option<usize> {
        self.text[i..]
            .starts_with(tag.as_bytes())
            .then_some(i + tag.len())
    }

    /// `tag` not followed by `next`.
    fn tag_not(&self, i: usize, tag: &str, next: impl Fn(u8) -> bool) -> Option<usize> {
        let end = self.tag(i, tag)?;
        (!self.at(end).is_some_and(next)).then_some(end)
    }

    fn expression(&mut self, i: usize) -> Parsed<Expr> {
        if self.depth >= MAX_DEPTH {
            self.deep = true;
            return None;
        }
        self.depth += 1;
        let found = self.or(i);
        self.depth -= 1;
        found
    }

    fn or(&mut self, i: usize) -> Parsed<Expr> {
        self.binary(i, 0)
    }

    /// Left-associative levels, loosest first; below the last comes `**`.
    fn binary(&mut self, i: usize, level: usize) -> Parsed<Expr> {
        const LEVELS: [&[&str]; 7] = [
            &["||"],
            &["&&"],
            &["in"],
            &["==", "!="],
            &["<=", ">=", "<", ">"],
            &["+", "-"],
            &["*", "/"],
        ];
        let Some(ops) = LEVELS.get(level) else {
            return self.power(i);
        };
        let (mut i, mut left) = self.binary(i, level + 1)?;
        loop {
            let Some((after, op)) = ops.iter().find_map(|op| Some((self.operator(i, op)?, *op)))
            else {
                return Some((i, left));
            };
            let Some((end, right)) = self.binary(after, level + 1) else {
                return Some((i, left));
            };
            left = Expr::Binary(Box::new(left), op, Box::new(right));
            i = end;
        }
    }

    /// An operator token, told apart from the longer tokens it begins.
    fn operator(&self, i: usize, op: &str) -> Option<usize> {
        match op {
            "in" => self.tag_not(i, "in", is_word),
            "<" | ">" => self.tag_not(i, op, |b| b == b'='),
            "*" => self.tag_not(i, "*", |b| b == b'*'),
            _ => self.tag(i, op),
        }
    }

    fn power(&mut self, i: usize) -> Parsed<Expr> {
        let (end, base) = self.postfix(i)?;
        if let Some(after) = self.tag(end, "**") {
            if let Some((end, exponent)) = self.nested(after, Self::power) {
                return Some((end, Expr::Binary(Box::new(base), "**", Box::new(exponent))));
            }
        }
        Some((end, base))
    }

    /// Runs `parse` one level deeper, for the recursions that are not through `expression`.
    fn nested(&mut self, i: usize, parse: fn(&mut Self, usize) -> Parsed<Expr>) -> Parsed<Expr> {
        if self.depth >= MAX_DEPTH {
            self.deep = true;
            return None;
        }
        self.depth += 1;
        let found = parse(self, i);
        self.depth -= 1;
        found
    }

    fn postfix(&mut self, i: usize) -> Parsed<Expr> {
        let (mut i, mut expr) = self.unary(i)?;
        loop {
            let start = self.ws(i);
            let step = if self.at(start) == Some(b'[') {
                self.index(start + 1, &expr)
            } else if let Some(after) = self.tag(start, ".") {
                self.ident(after)
                    .map(|(end, name)| (end, Expr::Dot(Box::new(expr.clone()), name)))
            } else if self.at(start) == Some(b'(') {
                self.list(start + 1, b')')
                    .map(|(end, args)| (self.ws(end), Expr::Call(Box::new(expr.clone()), args)))
            } else {
                None
            };
            match step {
                Some((end, next)) => {
                    i = self.ws(end);
                    expr = next;
                }
                None => return Some((i, expr)),
            }
        }
    }

    /// `[i]` or `[i:j]`, from just after the `[`.
    fn index(&mut self, i: usize, of: &Expr) -> Parsed<Expr> {
        let of = || Box::new(of.clone());
        // The same parse serves an index and a slice's start: parsing it twice would double
        // the time at each nested bracket.
        let first = self.expression(i);
        if let Some((end, index)) = &first {
            if let Some(end) = self.tag(*end, "]") {
                return Some((end, Expr::Index(of(), Box::new(index.clone()))));
            }
        }
        let (i, from) = match first {
            Some((end, from)) => (end, Some(Box::new(from))),
            None => (i, None),
        };
        let i = self.tag(i, ":")?;
        let (i, to) = self.optional(i);
        let end = self.tag(i, "]")?;
        Some((end, Expr::Slice(of(), from, to)))
    }

    fn optional(&mut self, i: usize) -> (usize, Option<Box<Expr>>) {
        match self.expression(i) {
            Some((end, expr)) => (end, Some(Box::new(expr))),
            None => (i, None),
        }
    }

    /// Comma-separated expressions up to `close`, from just after the opening bracket.
    fn list(&mut self, i: usize, close: u8) -> Parsed<Vec<Expr>> {
        self.separated(i, close, Self::expression)
    }

    /// Comma-separated `item`s up to `close`, from just after the opening bracket; an empty
    /// list only when `close` follows at once.
    fn separated<T>(
        &mut self,
        i: usize,
        close: u8,
        item: fn(&mut Self, usize) -> Parsed<T>,
    ) -> Parsed<Vec<T>> {
        let mut items = Vec::new();
        let mut i = i;
        if let Some((end, first)) = item(self, i) {
            items.push(first);
            i = end;
            while let Some(after) = self.tag(self.ws(i), ",") {
                let Some((end, next)) = item(self, self.ws(after)) else {
                    break;
                };
                items.push(next);
                i = end;
            }
        }
        (self.at(i) == Some(close)).then_some((i + 1, items))
    }

    fn unary(&mut self, i: usize) -> Parsed<Expr> {
        let start = self.ws(i);
        let op = match self.at(start) {
            Some(b'!') if self.at(start + 1) != Some(b'=') => Some('!'),
            Some(b'-') => Some('-'),
            Some(b'+') => Some('+'),
            _ => None,
        };
        if let Some(op) = op {
            if let Some((end, operand)) = self.value(start + 1) {
                return Some((self.ws(end), Expr::Unary(op, Box::new(operand))));
            }
        }
        self.value(i)
    }

    fn value(&mut self, i: usize) -> Parsed<Expr> {
        if let Some(atom) = self.atom(i) {
            return Some(atom);
        }
        let start = self.ws(i);
        let (end, expr) = match self.at(start) {
            Some(b'(') => {
                let (end, inner) = self.expression(start + 1)?;
                (self.tag(end, ")")?, inner)
            }
            Some(b'[') => {
                let (end, items) = self.nested_list(start + 1)?;
                (end, Expr::Array(items))
            }
            Some(b'{') => {
                let (end, entries) = self.object(start + 1)?;
                (end, Expr::Object(entries))
            }
            _ => return None,
        };
        Some((self.ws(end), expr))
    }

    fn nested_list(&mut self, i: usize) -> Parsed<Vec<Expr>> {
        if self.depth >= MAX_DEPTH {
            self.deep = true;
            return None;
        }
        self.depth += 1;
        let found = self.list(i, b']');
        self.depth -= 1;
        found
    }

    /// `key: value, ...}` from just after the `{`; keys are strings or names.
    fn object(&mut self, i: usize) -> Parsed<Vec<(String, Expr)>> {
        self.separated(i, b'}', Self::entry)
    }

    fn entry(&mut self, i: usize) -> Parsed<(String, Expr)> {
        let (end, key) = self.string(i).or_else(|| self.ident(i))?;
        let after = self.tag(self.ws(end), ":")?;
        let (end, value) = self.expression(self.ws(after))?;
        Some((self.ws(end), (key, value)))
    }

    fn atom(&mut self, i: usize) -> Parsed<Expr> {
        self.number(i)
            .or_else(|| self.literal(i))
            .or_else(|| self.ident(i).map(|(end, name)| (end, Expr::Ident(name))))
            .or_else(|| self.string(i).map(|(end, text)| (end, Expr::Str(text))))
    }

    fn number(&self, i: usize) -> Parsed<Expr> {
        let start = self.ws(i);
        let digits = |mut j: usize| {
            while self.at(j).is_some_and(|b| b.is_ascii_digit()) {
                j += 1;
            }
            j
        };
        let mut end = digits(start);
        if end == start {
            return None;
        }
        if self.at(end) == Some(b'.') && self.at(end + 1).is_some_and(|b| b.is_ascii_digit()) {
            end = digits(end + 1);
        }
        let value = self.src[start..end].parse().ok()?;
        Some((self.ws(end), Expr::Number(value)))
    }

    fn literal(&self, i: usize) -> Parsed<Expr> {
        let start = self.ws(i);
        [
            ("true", Expr::Bool(true)),
            ("false", Expr::Bool(false)),
            ("null", Expr::Null),
        ]
        .into_iter()
        .find_map(|(word, expr)| Some((self.ws(self.tag_not(start, word, is_word)?), expr)))
    }

    fn ident(&self, i: usize) -> Parsed<String> {
        let start = self.ws(i);
        if !self
            .at(start)
            .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        {
            return None;
        }
        let mut end = start + 1;
        while self.at(end).is_some_and(is_word) {
            end += 1;
        }
        Some((self.ws(end), self.src[start..end].to_owned()))
    }

    fn string(&self, i: usize) -> Parsed<String> {
        let start = self.ws(i);
        let quote = self.at(start).filter(|b| matches!(b, b'"' | b'\''))?;
        let close = start + 1 + self.text[start + 1..].iter().position(|&b| b == quote)?;
        Some((self.ws(close + 1), self.src[start + 1..close].to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Expr {
        parse_all(text).unwrap_or_else(|e| panic!("{text:?}: {e}"))
    }

    fn bin(l: Expr, op: &'static str, r: Expr) -> Expr {
        Expr::Binary(Box::new(l), op, Box::new(r))
    }

    fn id(name: &str) -> Expr {
        Expr::Ident(name.into())
    }

    #[test]
    fn precedence_and_associativity() {
        assert_eq!(
            ok("a || b && c"),
            bin(id("a"), "||", bin(id("b"), "&&", id("c")))
        );
        assert_eq!(
            ok("1 ** 2 ** 3"),
            bin(
                Expr::Number(1.0),
                "**",
                bin(Expr::Number(2.0), "**", Expr::Number(3.0))
            )
        );
        assert_eq!(
            ok("a - b - c"),
            bin(bin(id("a"), "-", id("b")), "-", id("c"))
        );
        assert_eq!(
            ok("x in [1]"),
            bin(id("x"), "in", Expr::Array(vec![Expr::Number(1.0)]))
        );
        assert_eq!(ok("inx"), id("inx"));
        assert_eq!(ok("falsey"), id("falsey"));
    }

    #[test]
    fn postfix_forms() {
        assert!(matches!(ok("a.b[1][1:][:2][:](3)"), Expr::Call(..)));
        assert!(matches!(ok("f()"), Expr::Call(_, ref args) if args.is_empty()));
        assert!(matches!(ok("{a: 1, 'b': [2, 3]}"), Expr::Object(ref e) if e.len() == 2));
    }

    #[test]
    fn the_renderers_quirks_are_kept() {
        for bad in [
            "[ ]", "f( )", "--1", "1.", "a[ :1]", "a[1: ]", "'a", "1e5", "a b", "",
        ] {
            assert!(
                matches!(parse_all(bad), Err(ParseError::Syntax(_))),
                "{bad:?}"
            );
        }
        for good in ["[]", "{}", "[1 ]", "a [0]", "- 1", "!a", "a<=b", "1in [1]"] {
            ok(good);
        }
    }

    #[test]
    fn deep_nesting_is_not_known_rather_than_refused() {
        let deep = format!("{}1{}", "(".repeat(500), ")".repeat(500));
        assert_eq!(parse_all(&deep), Err(ParseError::TooDeep));
    }

    #[test]
    fn partial_parses_stop_at_the_closing_brace() {
        assert_eq!(parse_partial("a }rest").unwrap().0, 2);
    }
}
