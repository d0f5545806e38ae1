//! The nesting limit for JSON request bodies.
//!
//! serde_json refuses documents nested deeper than 128 levels on its own; hookd states a lower
//! limit of its own so that every later walk over a body (schema validation, JSON-e rendering,
//! storage, the fire context) has a known, tested bound. The check scans the raw bytes before
//! parsing, so a hostile body costs one pass and no allocation.

/// The deepest nesting of arrays and objects a request body may have.
pub const MAX_DEPTH: usize = 64;

/// Whether `json` nests arrays and objects deeper than `limit`. Brackets inside strings do not
/// count; malformed input is left for the parser to refuse.
pub fn exceeds(json: &[u8], limit: usize) -> bool {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for &byte in json {
        if in_string {
            match (escaped, byte) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return true;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nested(levels: usize) -> String {
        format!("{}{}", "[".repeat(levels), "]".repeat(levels))
    }

    #[test]
    fn depth_counts_arrays_and_objects_but_not_brackets_in_strings() {
        assert!(!exceeds(nested(3).as_bytes(), 3));
        assert!(exceeds(nested(4).as_bytes(), 3));
        assert!(exceeds(br#"{"a":{"b":[{}]}}"#, 3));
        assert!(!exceeds(br#"{"a":"[[[[[[\"[[[["}"#, 1));
        assert!(!exceeds(br#"[["\\"],["]"]]"#, 2));
    }
}
