//! Reading one member of a JSON object without parsing the rest of it.

/// Why [`last_member`] gave no answer: parse the whole text instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unread;

/// The raw text of the value of `key` in the JSON object `json` (its
/// top-level members only), read backwards from the object's end.
///
/// Both APIs put `usage` last in a response, or nearly, so this reads a few
/// dozen bytes where a parser reads the whole answer. Strings are skipped
/// whole: in JSON a `"` ends a string exactly when an even number of
/// backslashes precedes it, which can be seen reading either way.
///
/// `Ok(None)`: the object has no such member. `Err(Unread)`: `json` does not
/// end like an object, ends before its members do, or has a key written with
/// escapes (which might spell `key`). The text is not validated; a value
/// found in malformed JSON still has to parse as what the caller expects.
pub fn last_member<'a>(json: &'a [u8], key: &str) -> Result<Option<&'a [u8]>, Unread> {
    let key = key.as_bytes();
    let mut i = json.len();
    while i > 0 && json[i - 1].is_ascii_whitespace() {
        i -= 1;
    }
    if i == 0 || json[i - 1] != b'}' {
        return Err(Unread);
    }
    i -= 1;
    // Nesting below the top-level object (0: its own members).
    let mut depth = 0usize;
    // Where the member being read ends (its `,` or the closing `}`), and
    // its `:` once read: the string read next (before it, in the text) is
    // the member's key.
    let mut member_end = i;
    let mut colon = None;
    while i > 0 {
        i -= 1;
        match json[i] {
            b'"' => {
                let end = i;
                i = string_start(json, end).ok_or(Unread)?;
                if depth == 0
                    && let Some(colon) = colon.take()
                {
                    let name = &json[i + 1..end];
                    if name.contains(&b'\\') {
                        return Err(Unread);
                    }
                    if name == key {
                        return Ok(Some(&json[colon + 1..member_end]));
                    }
                }
            }
            b'}' | b']' => depth += 1,
            b'{' | b'[' => {
                if depth == 0 {
                    return Ok(None);
                }
                depth -= 1;
            }
            b':' if depth == 0 => colon = Some(i),
            b',' if depth == 0 => member_end = i,
            _ => {}
        }
    }
    Err(Unread)
}

/// Whether the `"` at `quote` is escaped: an odd number of backslashes
/// precedes it.
fn is_escaped(json: &[u8], quote: usize) -> bool {
    let backslashes = json[..quote]
        .iter()
        .rev()
        .take_while(|&&b| b == b'\\')
        .count();
    backslashes % 2 == 1
}

/// The index of the `"` opening the string whose closing `"` is at `end`.
fn string_start(json: &[u8], end: usize) -> Option<usize> {
    let mut at = end;
    loop {
        at = memchr::memrchr(b'"', &json[..at])?;
        if !is_escaped(json, at) {
            return Some(at);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usage(json: &str) -> Result<Option<&str>, Unread> {
        last_member(json.as_bytes(), "usage")
            .map(|v| v.map(|v| std::str::from_utf8(v).unwrap().trim()))
    }

    #[test]
    fn finds_the_member_near_the_end() {
        let openai = r#"{"id":"c1","choices":[{"message":{"content":"hi"}}],"usage":{"prompt_tokens":12,"completion_tokens":10}}"#;
        assert_eq!(
            usage(openai),
            Ok(Some(r#"{"prompt_tokens":12,"completion_tokens":10}"#))
        );
        let later =
            "{ \"usage\" : {\"a\": [1, {\"b\": \"}\"}]} ,\n \"system_fingerprint\": \"fp\" }\n";
        assert_eq!(usage(later), Ok(Some(r#"{"a": [1, {"b": "}"}]}"#)));
        assert_eq!(usage(r#"{"usage":null}"#), Ok(Some("null")));
    }

    #[test]
    fn nested_members_and_strings_are_not_the_member() {
        let nested = r#"{"choices":[{"usage":{"x":1}}],"meta":{"usage":2}}"#;
        assert_eq!(usage(nested), Ok(None));
        let in_strings = r#"{"content":"\"usage\":{\"x\":1}","k":"a\\","usage\\":3}"#;
        assert_eq!(usage(in_strings), Err(Unread), "a key with escapes");
        let quoted = r#"{"content":"say \"usage\": 5 \\","n":1}"#;
        assert_eq!(usage(quoted), Ok(None));
        assert_eq!(usage(r#"{"usage" :1, "v":"usage"}"#), Ok(Some("1")));
    }

    #[test]
    fn what_is_not_an_object_is_not_read() {
        for text in ["", "[1]", "\"usage\"", "{", "}", "{\"a\":\"}"] {
            assert_eq!(usage(text), Err(Unread), "{text:?}");
        }
        assert_eq!(usage("{}"), Ok(None));
    }
}
