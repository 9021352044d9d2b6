//! The search filters MLflow's client sends (`registered-models/search`, `model-versions/search`,
//! `logged-models/search`): comparisons joined by `AND`, such as
//! ``name LIKE 'fraud%' AND tag.`mlflow.prompt.is_prompt` != 'true'``, which
//! `search_registered_models()` always sends.
//!
//! Pure: parsed once, then matched against each candidate's fields. A filter Gantry cannot
//! read is a 400 naming the `filter` field, never an empty result.

use crate::error::AppError;

/// What a clause compares: a field, or a tag by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Field(String),
    Tag(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Like,
    ILike,
    In,
    NotIn,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    pub subject: Subject,
    pub op: Op,
    pub values: Vec<String>,
}

/// A parsed filter: every clause must hold. Empty matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter(pub Vec<Clause>);

/// What a filter is matched against: a field's value, a tag's value (`None` when absent).
pub trait Subjects {
    fn field(&self, name: &str) -> Option<String>;
    fn tag(&self, key: &str) -> Option<String>;
}

impl Filter {
    /// Parses `text`; `fields` are the names this search knows besides tags.
    pub fn parse(text: &str, fields: &[&str]) -> Result<Filter, AppError> {
        let tokens = tokenize(text)?;
        let mut clauses = Vec::new();
        let mut rest = tokens.as_slice();
        while !rest.is_empty() {
            let (clause, after) = clause(rest, fields)?;
            clauses.push(clause);
            rest = match after {
                [] => after,
                [Token::Word(and), more @ ..] if and.eq_ignore_ascii_case("and") => more,
                _ => return Err(bad("clauses must be joined by AND")),
            };
        }
        Ok(Filter(clauses))
    }

    /// The value of the first `field = '…'` clause: what a store can look up directly.
    pub fn equals(&self, field: &str) -> Option<&str> {
        self.0.iter().find_map(|c| match (&c.subject, &c.op) {
            (Subject::Field(f), Op::Eq) if f == field => c.values.first().map(String::as_str),
            _ => None,
        })
    }

    /// The clauses a store can narrow by in SQL before [`Filter::matches`] decides: a field
    /// compared with `=` (`exact`), or with `LIKE`/`ILIKE` (not exact: the store matches
    /// them case-blind, as SQLite's LIKE does, and `matches` then applies the case rule).
    pub fn narrowing(&self) -> Vec<Narrowing<'_>> {
        self.0
            .iter()
            .filter_map(|c| match (&c.subject, &c.op, c.values.first()) {
                (Subject::Field(field), Op::Eq, Some(value)) => Some(Narrowing {
                    field,
                    exact: true,
                    value,
                }),
                (Subject::Field(field), Op::Like | Op::ILike, Some(value)) => Some(Narrowing {
                    field,
                    exact: false,
                    value,
                }),
                _ => None,
            })
            .collect()
    }

    pub fn matches(&self, item: &impl Subjects) -> bool {
        self.0.iter().all(|clause| {
            let actual = match &clause.subject {
                Subject::Field(name) => item.field(name),
                Subject::Tag(key) => item.tag(key),
            };
            let value = clause.values.first().map(String::as_str).unwrap_or("");
            match (&clause.op, actual) {
                // MLflow's `!=` on a tag holds when the tag is absent (the prompt filter).
                (Op::Ne, None) => true,
                (Op::NotIn, None) => true,
                (_, None) => false,
                (Op::Eq, Some(a)) => a == value,
                (Op::Ne, Some(a)) => a != value,
                (Op::Like, Some(a)) => like(&a, value),
                (Op::ILike, Some(a)) => like(&a.to_lowercase(), &value.to_lowercase()),
                (Op::In, Some(a)) => clause.values.contains(&a),
                (Op::NotIn, Some(a)) => !clause.values.contains(&a),
            }
        })
    }
}

/// One clause a store can apply in SQL: see [`Filter::narrowing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Narrowing<'f> {
    pub field: &'f str,
    pub exact: bool,
    pub value: &'f str,
}

fn bad(reason: &str) -> AppError {
    AppError::invalid("filter", reason)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Backticked(String),
    Symbol(&'static str),
}

fn tokenize(text: &str) -> Result<Vec<Token>, AppError> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '\'' | '"' | '`' => {
                let end = chars[i + 1..]
                    .iter()
                    .position(|&d| d == c)
                    .ok_or_else(|| bad("a quote is not closed"))?;
                let inner: String = chars[i + 1..i + 1 + end].iter().collect();
                tokens.push(if c == '`' {
                    Token::Backticked(inner)
                } else {
                    Token::Quoted(inner)
                });
                i += end + 2;
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                tokens.push(Token::Symbol("!="));
                i += 2;
            }
            '=' => {
                tokens.push(Token::Symbol("="));
                i += 1;
            }
            '(' | ')' | ',' => {
                tokens.push(Token::Symbol(match c {
                    '(' => "(",
                    ')' => ")",
                    _ => ",",
                }));
                i += 1;
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !"'\"`!=(),".contains(chars[i])
                {
                    i += 1;
                }
                if start == i {
                    return Err(bad(&format!("unexpected {c:?}")));
                }
                tokens.push(Token::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(tokens)
}

fn clause<'t>(tokens: &'t [Token], fields: &[&str]) -> Result<(Clause, &'t [Token]), AppError> {
    let (subject, rest) = match tokens {
        // tag.`key with dots` or tags.`key`
        [Token::Word(prefix), Token::Backticked(key), rest @ ..]
            if matches!(prefix.to_lowercase().as_str(), "tag." | "tags.") =>
        {
            (Subject::Tag(key.clone()), rest)
        }
        [Token::Word(word), rest @ ..] => {
            let lower = word.to_lowercase();
            let subject = if let Some(key) = lower
                .strip_prefix("tag.")
                .or_else(|| lower.strip_prefix("tags."))
            {
                Subject::Tag(word[word.len() - key.len()..].to_string())
            } else if fields.contains(&lower.as_str()) {
                Subject::Field(lower)
            } else {
                return Err(bad(&format!(
                    "{word:?} cannot be searched on; use {} or tag.<key>",
                    fields.join(", ")
                )));
            };
            (subject, rest)
        }
        [Token::Backticked(word), rest @ ..] if fields.contains(&word.as_str()) => {
            (Subject::Field(word.clone()), rest)
        }
        _ => return Err(bad("each clause starts with a field name or tag.<key>")),
    };
    let (op, rest) = match rest {
        [Token::Symbol("="), rest @ ..] => (Op::Eq, rest),
        [Token::Symbol("!="), rest @ ..] => (Op::Ne, rest),
        [Token::Word(w), rest @ ..] if w.eq_ignore_ascii_case("like") => (Op::Like, rest),
        [Token::Word(w), rest @ ..] if w.eq_ignore_ascii_case("ilike") => (Op::ILike, rest),
        [Token::Word(w), rest @ ..] if w.eq_ignore_ascii_case("in") => (Op::In, rest),
        [Token::Word(n), Token::Word(w), rest @ ..]
            if n.eq_ignore_ascii_case("not") && w.eq_ignore_ascii_case("in") =>
        {
            (Op::NotIn, rest)
        }
        _ => {
            return Err(bad(
                "the comparison must be =, !=, LIKE, ILIKE, IN or NOT IN",
            ))
        }
    };
    let (values, rest) = if matches!(op, Op::In | Op::NotIn) {
        let mut rest = match rest {
            [Token::Symbol("("), rest @ ..] => rest,
            _ => return Err(bad("IN takes a list in parentheses")),
        };
        let mut values = Vec::new();
        loop {
            match rest {
                [Token::Quoted(v) | Token::Word(v), Token::Symbol(","), more @ ..] => {
                    values.push(v.clone());
                    rest = more;
                }
                [Token::Quoted(v) | Token::Word(v), Token::Symbol(")"), more @ ..] => {
                    values.push(v.clone());
                    break (values, more);
                }
                _ => return Err(bad("IN takes quoted values separated by commas")),
            }
        }
    } else {
        match rest {
            [Token::Quoted(v), rest @ ..] => (vec![v.clone()], rest),
            [Token::Word(v), rest @ ..] if v.parse::<f64>().is_ok() => (vec![v.clone()], rest),
            _ => return Err(bad("a comparison's value must be quoted")),
        }
    };
    Ok((
        Clause {
            subject,
            op,
            values,
        },
        rest,
    ))
}

/// SQL's LIKE: `%` any run of characters, `_` any one.
pub fn like(text: &str, pattern: &str) -> bool {
    fn go(t: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('%', rest)) => (0..=t.len()).any(|i| go(&t[i..], rest)),
            Some(('_', rest)) => !t.is_empty() && go(&t[1..], rest),
            Some((c, rest)) => t.first() == Some(c) && go(&t[1..], rest),
        }
    }
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    go(&t, &p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    struct Item {
        name: &'static str,
        tags: HashMap<&'static str, &'static str>,
    }

    impl Subjects for Item {
        fn field(&self, name: &str) -> Option<String> {
            (name == "name").then(|| self.name.to_string())
        }
        fn tag(&self, key: &str) -> Option<String> {
            self.tags.get(key).map(|v| v.to_string())
        }
    }

    fn item(name: &'static str, tags: &[(&'static str, &'static str)]) -> Item {
        Item {
            name,
            tags: tags.iter().copied().collect(),
        }
    }

    #[test]
    fn the_clients_prompt_filter_parses_and_passes_models_without_the_tag() {
        let f = Filter::parse(
            "name LIKE 'fraud%' AND tag.`mlflow.prompt.is_prompt` != 'true'",
            &["name"],
        )
        .unwrap();
        assert!(f.matches(&item("fraud-detector", &[])));
        assert!(f.matches(&item("fraud-x", &[("mlflow.prompt.is_prompt", "false")])));
        assert!(!f.matches(&item("fraud-x", &[("mlflow.prompt.is_prompt", "true")])));
        assert!(!f.matches(&item("churn", &[])));
    }

    #[test]
    fn equality_in_and_ilike() {
        let f = Filter::parse("name='my-model'", &["name", "run_id"]).unwrap();
        assert_eq!(f.equals("name"), Some("my-model"));
        assert!(f.matches(&item("my-model", &[])));
        assert!(!f.matches(&item("my-model-2", &[])));
        let f = Filter::parse("name IN ('a', 'b') and tags.team = \"x\"", &["name"]).unwrap();
        assert!(f.matches(&item("b", &[("team", "x")])));
        assert!(!f.matches(&item("c", &[("team", "x")])));
        let f = Filter::parse("name ILIKE '%DETECT%'", &["name"]).unwrap();
        assert!(f.matches(&item("fraud-detector", &[])));
        assert_eq!(
            f.narrowing(),
            [Narrowing {
                field: "name",
                exact: false,
                value: "%DETECT%"
            }]
        );
        assert!(Filter::parse("", &["name"]).unwrap().0.is_empty());
    }

    #[test]
    fn a_filter_gantry_cannot_read_is_a_400_naming_the_field() {
        for bad in [
            "name = 'x' OR name = 'y'",
            "owner = 'me'",
            "name > 'a'",
            "name = 'unclosed",
            "name = bare",
        ] {
            let err = Filter::parse(bad, &["name"]).unwrap_err();
            assert!(
                matches!(&err, AppError::InvalidInput { field, .. } if field == "filter"),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn like_follows_sql() {
        assert!(like("abc", "a%"));
        assert!(like("abc", "_b_"));
        assert!(like("abc", "%"));
        assert!(!like("abc", "b%"));
        assert!(like("", "%"));
    }
}
