//! Percent-encoding for query values, shared by the server (login redirects) and the wasm
//! (links that carry filters).

/// Encodes `value` for use inside a query string, as JavaScript's `encodeURIComponent` does.
pub fn encode_component(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `key=value` pairs joined with `&`, each value encoded.
pub fn query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(key, value)| format!("{key}={}", encode_component(value)))
        .collect::<Vec<_>>()
        .join("&")
}

#[cfg(test)]
mod tests {
    #[test]
    fn reserved_characters_are_encoded() {
        assert_eq!(
            super::encode_component("/jobs?a=b&c d"),
            "%2Fjobs%3Fa%3Db%26c%20d"
        );
        assert_eq!(super::encode_component("team-a_1.x~"), "team-a_1.x~");
        assert_eq!(super::query(&[("a", "1 2"), ("b", "")]), "a=1%202&b=");
    }
}
