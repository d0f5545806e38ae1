//! Chat command formats: `deploy {{branch}} to {{env=staging}}` parsed once, and chat lines
//! matched against them.
//!
//! A format is words: literal words, which a line must repeat (case-insensitively), and
//! parameters `{{name}}` or `{{name=default}}`, which take one word (or a `"quoted phrase"`).
//! The last word of a format, when it is a parameter, takes the rest of the line as free text.
//! A line may stop early when everything it leaves out is literal words or parameters with
//! defaults (`deploy main` matches the format above with `env=staging`), and may end with extra
//! `key=value` words, which set parameters by name.
//!
//! Owns: [`Format`], [`FormatError`], [`Format::matches`] and turning the matched strings into
//! typed values by the hook's trigger schema ([`typed_parameters`]). Leaves to others: which
//! alias a line is for (`chat`), the payload template and checking the payload (`fire`).

use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Longest format accepted, in bytes.
const MAX_FORMAT_LEN: usize = 500;

/// Why a format string was refused; the message is written for whoever wrote it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormatError {
    /// Nothing but whitespace.
    #[error("a format needs at least one word")]
    Empty,
    /// Longer than [`MAX_FORMAT_LEN`].
    #[error("a format may be at most {MAX_FORMAT_LEN} bytes")]
    TooLong,
    /// The first word must be literal, so the command has a name to be found by.
    #[error("format {0:?} must start with a literal word")]
    NoCommandWord(String),
    /// `{{` without a matching `}}`, braces inside a literal word, or a bad parameter name.
    #[error("format word {0:?} is not a literal word or a {{{{name}}}} / {{{{name=default}}}} parameter (names: letters, digits, _ and -)")]
    BadWord(String),
    /// A parameter named twice.
    #[error("parameter {0:?} appears twice in the format")]
    DuplicateParameter(String),
}

/// One word of a format.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Parameter {
        name: String,
        default: Option<String>,
    },
}

/// A parsed format. It serializes back to the string it was parsed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Format {
    written: String,
    parts: Vec<Part>,
}

/// What a line matched: the parameters as written (defaults filled in) and how many literal
/// words it repeated, which ranks matches of several formats (the most literal one wins).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormatMatch {
    /// Parameter name to its text.
    pub parameters: Map<String, Value>,
    /// Literal words the line repeated.
    pub literals: usize,
}

impl Format {
    /// Parses a format string.
    ///
    /// # Errors
    /// [`FormatError`] saying what is wrong with it.
    pub fn parse(written: &str) -> Result<Self, FormatError> {
        if written.len() > MAX_FORMAT_LEN {
            return Err(FormatError::TooLong);
        }
        let mut parts = Vec::new();
        for word in written.split_whitespace() {
            let part = parse_word(word)?;
            if let Part::Parameter { name, .. } = &part {
                if parts
                    .iter()
                    .any(|p| matches!(p, Part::Parameter { name: n, .. } if n == name))
                {
                    return Err(FormatError::DuplicateParameter(name.clone()));
                }
            }
            parts.push(part);
        }
        match parts.first() {
            None => return Err(FormatError::Empty),
            Some(Part::Parameter { .. }) => {
                return Err(FormatError::NoCommandWord(written.to_owned()))
            }
            Some(Part::Literal(_)) => {}
        }
        Ok(Self {
            written: written.to_owned(),
            parts,
        })
    }

    /// The first word, which names the command.
    pub fn command(&self) -> &str {
        match self.parts.first() {
            Some(Part::Literal(word)) => word,
            // `parse` refuses formats that do not start with a literal word.
            _ => "",
        }
    }

    /// The format as written.
    pub fn as_str(&self) -> &str {
        &self.written
    }

    /// Matches a chat line; `None` when the line is not this command.
    pub fn matches(&self, line: &str) -> Option<FormatMatch> {
        let mut words = split_words(line);
        let mut parameters = Map::new();
        // Extra `key=value` words at the end set parameters by name.
        while let Some((key, value)) = words.last().and_then(|w| w.key_value()) {
            parameters.insert(key, Value::String(value));
            words.pop();
        }
        let mut literals = 0;
        let mut next = 0;
        for (index, part) in self.parts.iter().enumerate() {
            let last = index + 1 == self.parts.len();
            match part {
                Part::Literal(literal) => match words.get(next) {
                    Some(word) if word.text.eq_ignore_ascii_case(literal) => {
                        literals += 1;
                        next += 1;
                    }
                    Some(_) => return None,
                    None => {}
                },
                Part::Parameter { name, default } => {
                    let text = match words.get(next) {
                        Some(_) if last => {
                            let text = rest_of_line(line, &words[next..]);
                            next = words.len();
                            text
                        }
                        Some(word) => {
                            next += 1;
                            word.text.clone()
                        }
                        None => match (parameters.contains_key(name), default) {
                            (true, _) => continue,
                            (false, Some(default)) => default.clone(),
                            (false, None) => return None,
                        },
                    };
                    parameters
                        .entry(name.clone())
                        .or_insert(Value::String(text));
                }
            }
        }
        // Every word spoken must have been used, and the command word must be there.
        (next == words.len() && literals > 0).then_some(FormatMatch {
            parameters,
            literals,
        })
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.written)
    }
}

impl TryFrom<String> for Format {
    type Error = FormatError;
    fn try_from(value: String) -> Result<Self, FormatError> {
        Self::parse(&value)
    }
}

impl From<Format> for String {
    fn from(format: Format) -> String {
        format.written
    }
}

fn parse_word(word: &str) -> Result<Part, FormatError> {
    let bad = || FormatError::BadWord(word.to_owned());
    let Some(inner) = word.strip_prefix("{{") else {
        return if word.contains("{{") || word.contains("}}") {
            Err(bad())
        } else {
            Ok(Part::Literal(word.to_owned()))
        };
    };
    let inner = inner.strip_suffix("}}").ok_or_else(bad)?;
    let (name, default) = match inner.split_once('=') {
        Some((name, default)) => (name, Some(default.to_owned())),
        None => (inner, None),
    };
    if name.is_empty() || !name.chars().all(is_name_char) {
        return Err(bad());
    }
    Ok(Part::Parameter {
        name: name.to_owned(),
        default,
    })
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

/// One word of a chat line, with where it is in the line (for free text).
#[derive(Debug)]
struct Word {
    text: String,
    start: usize,
    end: usize,
    quoted: bool,
}

impl Word {
    /// `key=value` when this unquoted word is one.
    fn key_value(&self) -> Option<(String, String)> {
        let (key, value) = self.text.split_once('=')?;
        (!self.quoted && !key.is_empty() && key.chars().all(is_name_char))
            .then(|| (key.to_owned(), value.to_owned()))
    }
}

/// Splits a line into words at whitespace; `"a quoted phrase"` is one word.
fn split_words(line: &str) -> Vec<Word> {
    let mut words = Vec::new();
    let mut chars = line.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
            continue;
        }
        let mut text = String::new();
        let mut end = line.len();
        let quoted = c == '"';
        if quoted {
            chars.next();
            for (at, c) in chars.by_ref() {
                if c == '"' {
                    end = at + 1;
                    break;
                }
                text.push(c);
            }
        } else {
            while let Some(&(at, c)) = chars.peek() {
                if c.is_whitespace() {
                    end = at;
                    break;
                }
                text.push(c);
                chars.next();
            }
        }
        words.push(Word {
            text,
            start,
            end,
            quoted,
        });
    }
    words
}

/// The line from the first of `rest` to the last, as spoken, for a trailing free-text
/// parameter; a single quoted word is its unquoted text.
fn rest_of_line(line: &str, rest: &[Word]) -> String {
    match rest {
        [only] if only.quoted => only.text.clone(),
        [first, .., last] => line[first.start..last.end].to_owned(),
        [only] => only.text.clone(),
        [] => String::new(),
    }
}

/// The matched parameters as the payload's values: each string is converted to the type the
/// hook's trigger schema gives its property (`integer`, `number`, `boolean`), when it reads as
/// one; everything else stays a string, and the schema has the last word when the fire checks
/// the payload.
pub fn typed_parameters(parameters: Map<String, Value>, trigger_schema: &Value) -> Value {
    let properties = trigger_schema.get("properties");
    let typed = parameters
        .into_iter()
        .map(|(name, value)| {
            let wanted = properties
                .and_then(|p| p.get(&name))
                .and_then(|p| p.get("type"))
                .and_then(Value::as_str);
            let value = match (wanted, value.as_str()) {
                (Some(kind), Some(text)) => convert(kind, text).unwrap_or(value),
                _ => value,
            };
            (name, value)
        })
        .collect();
    Value::Object(typed)
}

fn convert(kind: &str, text: &str) -> Option<Value> {
    match kind {
        "integer" => text.parse::<i64>().ok().map(Value::from),
        "number" => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number),
        "boolean" => match text.to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Some(Value::Bool(true)),
            "false" | "no" | "off" => Some(Value::Bool(false)),
            _ => None,
        },
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn matched(format: &str, line: &str) -> Option<Value> {
        Format::parse(format)
            .unwrap()
            .matches(line)
            .map(|m| Value::Object(m.parameters))
    }

    #[test]
    fn literals_parameters_and_defaults_match() {
        let format = "deploy {{branch}} to {{env=staging}}";
        let cases = [
            (
                "deploy main to prod",
                Some(json!({"branch": "main", "env": "prod"})),
            ),
            (
                "Deploy main TO prod",
                Some(json!({"branch": "main", "env": "prod"})),
            ),
            (
                "deploy main",
                Some(json!({"branch": "main", "env": "staging"})),
            ),
            (
                "deploy main to",
                Some(json!({"branch": "main", "env": "staging"})),
            ),
            ("deploy", None),
            ("deploy main from prod", None),
            ("build main to prod", None),
            (
                "deploy main to prod now",
                Some(json!({"branch": "main", "env": "prod now"})),
            ),
        ];
        for (line, expected) in cases {
            assert_eq!(matched(format, line), expected, "line {line:?}");
        }
    }

    #[test]
    fn the_last_parameter_takes_the_rest_of_the_line_as_free_text() {
        assert_eq!(
            matched("say {{message}}", "say  hello,   world! "),
            Some(json!({"message": "hello,   world!"}))
        );
        assert_eq!(
            matched("say {{message}}", "say hello there dry=1"),
            Some(json!({"message": "hello there", "dry": "1"})),
            "extra pairs are not free text"
        );
        assert_eq!(
            matched("say {{message}}", "say \"quoted\""),
            Some(json!({"message": "quoted"}))
        );
    }

    #[test]
    fn quoted_phrases_are_one_word() {
        assert_eq!(
            matched("tag {{name}} as {{label}}", "tag \"my build\" as gold"),
            Some(json!({"name": "my build", "label": "gold"}))
        );
    }

    #[test]
    fn extra_key_value_words_set_parameters() {
        assert_eq!(
            matched("deploy {{branch}}", "deploy main dry_run=true region=eu"),
            Some(json!({"branch": "main", "dry_run": "true", "region": "eu"}))
        );
        assert_eq!(
            matched(
                "deploy {{branch}} to {{env=staging}}",
                "deploy main env=prod"
            ),
            Some(json!({"branch": "main", "env": "prod"})),
            "an extra pair wins over a default"
        );
        assert_eq!(
            matched("deploy {{branch}}", "deploy branch=dev"),
            Some(json!({"branch": "dev"})),
            "an extra pair may give a required parameter"
        );
    }

    #[test]
    fn more_literal_matches_rank_higher() {
        let general = Format::parse("deploy {{what}}").unwrap();
        let specific = Format::parse("deploy docs {{version=latest}}").unwrap();
        let line = "deploy docs";
        assert!(specific.matches(line).unwrap().literals > general.matches(line).unwrap().literals);
    }

    #[test]
    fn bad_formats_are_refused_with_a_reason() {
        let cases = [
            ("", FormatError::Empty),
            ("   ", FormatError::Empty),
            (
                "{{x}} deploy",
                FormatError::NoCommandWord("{{x}} deploy".into()),
            ),
            ("deploy {{x", FormatError::BadWord("{{x".into())),
            ("deploy a}}", FormatError::BadWord("a}}".into())),
            ("deploy {{}}", FormatError::BadWord("{{}}".into())),
            ("deploy {{a b}}", FormatError::BadWord("{{a".into())),
            (
                "deploy {{a}} {{a}}",
                FormatError::DuplicateParameter("a".into()),
            ),
        ];
        for (format, error) in cases {
            assert_eq!(Format::parse(format), Err(error), "format {format:?}");
        }
        assert_eq!(
            Format::parse(&"a".repeat(MAX_FORMAT_LEN + 1)),
            Err(FormatError::TooLong)
        );
    }

    #[test]
    fn a_format_round_trips_through_serde_as_its_string() {
        let format: Format = serde_json::from_value(json!("deploy {{b=main}}")).unwrap();
        assert_eq!(format.command(), "deploy");
        assert_eq!(
            serde_json::to_value(&format).unwrap(),
            json!("deploy {{b=main}}")
        );
        assert!(serde_json::from_value::<Format>(json!("{{b}}")).is_err());
    }

    #[test]
    fn parameters_take_the_types_of_the_trigger_schema() {
        let schema = json!({"properties": {
            "count": {"type": "integer"}, "ratio": {"type": "number"},
            "force": {"type": "boolean"}, "name": {"type": "string"}
        }});
        let parameters = json!({
            "count": "3", "ratio": "0.5", "force": "yes", "name": "42", "other": "7", "bad": "x"
        });
        let Value::Object(parameters) = parameters else {
            unreachable!()
        };
        assert_eq!(
            typed_parameters(parameters, &schema),
            json!({"count": 3, "ratio": 0.5, "force": true, "name": "42", "other": "7", "bad": "x"})
        );
        let Value::Object(not_a_number) = json!({"count": "three"}) else {
            unreachable!()
        };
        assert_eq!(
            typed_parameters(not_a_number, &schema),
            json!({"count": "three"}),
            "left for the schema to refuse"
        );
    }
}
