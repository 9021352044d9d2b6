//! The search filters MLflow's client sends (`registered-models/search`, `model-versions/search`,
//! `logged-models/search`, `runs/search`): comparisons joined by `AND`, such as
//! ``name LIKE 'fraud%' AND tag.`mlflow.prompt.is_prompt` != 'true'``, which
//! `search_registered_models()` always sends, or `metrics.accuracy > 0.9 AND params.lr = '0.01'`
//! for runs.
//!
//! Pure: parsed once, then matched against each candidate's fields. A filter Gantry cannot
//! read is a 400 naming the `filter` field, never an empty result.

use crate::error::AppError;

/// What a clause compares: a field (a run's `attributes.…`), or a tag, a run's metric (its
/// latest value) or param by key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subject {
    Field(String),
    Tag(String),
    Metric(String),
    Param(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Like,
    ILike,
    In,
    NotIn,
    Lt,
    Le,
    Gt,
    Ge,
}

/// Which searches take which subjects: every one takes tags; runs' also metrics and params.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grammar {
    Registry,
    Runs,
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

/// What a filter is matched against: a field's value, a tag's value (`None` when absent);
/// a run's metrics and params besides.
pub trait Subjects {
    fn field(&self, name: &str) -> Option<String>;
    fn tag(&self, key: &str) -> Option<String>;
    fn metric(&self, _key: &str) -> Option<f64> {
        None
    }
    fn param(&self, _key: &str) -> Option<String> {
        None
    }
}

impl Filter {
    /// Parses `text`; `fields` are the names this search knows besides tags.
    pub fn parse(text: &str, fields: &[&str]) -> Result<Filter, AppError> {
        Filter::parse_in(text, fields, Grammar::Registry)
    }

    /// Parses `text` as `grammar` allows; `fields` are the names it knows besides keyed ones.
    pub fn parse_in(text: &str, fields: &[&str], grammar: Grammar) -> Result<Filter, AppError> {
        let tokens = tokenize(text)?;
        let mut clauses = Vec::new();
        let mut rest = tokens.as_slice();
        while !rest.is_empty() {
            let (clause, after) = clause(rest, fields, grammar)?;
            clauses.push(clause);
            rest = match after {
                [] => after,
                [Token::Word(and), more @ ..] if and.eq_ignore_ascii_case("and") => more,
                _ => return Err(bad("clauses must be joined by AND")),
            };
        }
        Ok(Filter(clauses))
    }

    /// What `text` names on its own (an `order_by` entry's subject), read as a clause's
    /// subject is.
    pub fn parse_subject(
        text: &str,
        fields: &[&str],
        grammar: Grammar,
    ) -> Result<Subject, AppError> {
        match subject(&tokenize(text)?, fields, grammar)? {
            (subject, []) => Ok(subject),
            _ => Err(bad("expected one field or key")),
        }
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

    /// The keys of the metrics, params and tags the filter reads, for a store to fetch.
    pub fn keys(&self) -> impl Iterator<Item = &Subject> {
        self.0.iter().map(|c| &c.subject)
    }

    pub fn matches(&self, item: &impl Subjects) -> bool {
        self.0.iter().all(|clause| {
            let value = clause.values.first().map(String::as_str).unwrap_or("");
            let actual = match &clause.subject {
                Subject::Field(name) => item.field(name),
                Subject::Tag(key) => item.tag(key),
                Subject::Param(key) => item.param(key),
                Subject::Metric(key) => {
                    let Some(number) = item.metric(key) else {
                        return false;
                    };
                    return compare(number, &clause.op, value);
                }
            };
            if matches!(clause.op, Op::Lt | Op::Le | Op::Gt | Op::Ge) {
                // Only numeric fields (a run's start and end) are compared by order.
                return actual
                    .and_then(|a| a.parse::<f64>().ok())
                    .is_some_and(|a| compare(a, &clause.op, value));
            }
            match (&clause.op, actual) {
                // MLflow's `!=` on a tag holds when the tag is absent (the prompt filter); a
                // run without the param is not compared at all.
                (Op::Ne | Op::NotIn, None) => !matches!(clause.subject, Subject::Param(_)),
                (_, None) => false,
                (Op::Eq, Some(a)) => a == value,
                (Op::Ne, Some(a)) => a != value,
                (Op::Like, Some(a)) => like(&a, value),
                (Op::ILike, Some(a)) => like(&a.to_lowercase(), &value.to_lowercase()),
                (Op::In, Some(a)) => clause.values.contains(&a),
                (Op::NotIn, Some(a)) => !clause.values.contains(&a),
                (Op::Lt | Op::Le | Op::Gt | Op::Ge, Some(_)) => false,
            }
        })
    }
}

/// `actual op value`, numerically (a value that is no number matches nothing).
fn compare(actual: f64, op: &Op, value: &str) -> bool {
    let Ok(value) = value.parse::<f64>() else {
        return false;
    };
    match op {
        Op::Eq => actual == value,
        Op::Ne => actual != value,
        Op::Lt => actual < value,
        Op::Le => actual <= value,
        Op::Gt => actual > value,
        Op::Ge => actual >= value,
        Op::Like | Op::ILike | Op::In | Op::NotIn => false,
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
            '<' | '>' => {
                let or_equal = chars.get(i + 1) == Some(&'=');
                tokens.push(Token::Symbol(match (c, or_equal) {
                    ('<', false) => "<",
                    ('<', true) => "<=",
                    (_, false) => ">",
                    (_, true) => ">=",
                }));
                i += if or_equal { 2 } else { 1 };
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
                    && !"'\"`!=<>(),".contains(chars[i])
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

fn clause<'t>(
    tokens: &'t [Token],
    fields: &[&str],
    grammar: Grammar,
) -> Result<(Clause, &'t [Token]), AppError> {
    let (subject, rest) = subject(tokens, fields, grammar)?;
    let (op, rest) = match rest {
        [Token::Symbol("="), rest @ ..] => (Op::Eq, rest),
        [Token::Symbol("!="), rest @ ..] => (Op::Ne, rest),
        [Token::Word(w), rest @ ..] if w.eq_ignore_ascii_case("like") => (Op::Like, rest),
        [Token::Word(w), rest @ ..] if w.eq_ignore_ascii_case("ilike") => (Op::ILike, rest),
        [Token::Word(w), rest @ ..] if w.eq_ignore_ascii_case("in") => (Op::In, rest),
        [Token::Symbol("<"), rest @ ..] => (Op::Lt, rest),
        [Token::Symbol("<="), rest @ ..] => (Op::Le, rest),
        [Token::Symbol(">"), rest @ ..] => (Op::Gt, rest),
        [Token::Symbol(">="), rest @ ..] => (Op::Ge, rest),
        [Token::Word(n), Token::Word(w), rest @ ..]
            if n.eq_ignore_ascii_case("not") && w.eq_ignore_ascii_case("in") =>
        {
            (Op::NotIn, rest)
        }
        _ => {
            return Err(bad(
                "the comparison must be =, !=, <, <=, >, >=, LIKE, ILIKE, IN or NOT IN",
            ))
        }
    };
    let numeric = matches!(op, Op::Lt | Op::Le | Op::Gt | Op::Ge);
    match &subject {
        Subject::Metric(_) if !matches!(op, Op::Eq | Op::Ne) && !numeric => {
            return Err(bad("a metric is compared with =, !=, <, <=, > or >="));
        }
        Subject::Tag(_) | Subject::Param(_) if numeric => {
            return Err(bad(
                "tags and params are strings: compare them with = or LIKE",
            ));
        }
        Subject::Field(f) if numeric && !NUMERIC_FIELDS.contains(&f.as_str()) => {
            return Err(bad(&format!(
                "{f} is not a number: compare it with = or LIKE"
            )));
        }
        _ => {}
    }
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

/// The fields compared by order: a run's start and end, in milliseconds.
pub const NUMERIC_FIELDS: [&str; 2] = ["start_time", "end_time"];

/// The prefixes naming a key, and what each makes of it, as MLflow spells them.
fn keyed(prefix: &str, key: String, grammar: Grammar) -> Option<Subject> {
    match (prefix, grammar) {
        ("tag" | "tags", _) => Some(Subject::Tag(key)),
        ("metric" | "metrics", Grammar::Runs) => Some(Subject::Metric(key)),
        ("param" | "params" | "parameter" | "parameters", Grammar::Runs) => {
            Some(Subject::Param(key))
        }
        _ => None,
    }
}

/// A clause's subject: a field (`name`, or for runs `attributes.status`), or `prefix.key`
/// with the key bare or in backticks (``tag.`mlflow.note` ``).
fn subject<'t>(
    tokens: &'t [Token],
    fields: &[&str],
    grammar: Grammar,
) -> Result<(Subject, &'t [Token]), AppError> {
    let known = || {
        let keyed = match grammar {
            Grammar::Registry => "tag.<key>",
            Grammar::Runs => "metrics.<key>, params.<key>, tags.<key>",
        };
        format!("use {} or {keyed}", fields.join(", "))
    };
    let field = |name: &str| {
        let lower = name.to_lowercase();
        let bare = match grammar {
            Grammar::Runs => ["attributes.", "attribute.", "attr.", "run."]
                .iter()
                .find_map(|p| lower.strip_prefix(p))
                .unwrap_or(&lower)
                .to_string(),
            Grammar::Registry => lower,
        };
        fields
            .contains(&bare.as_str())
            .then_some(Subject::Field(bare))
    };
    match tokens {
        [Token::Word(prefix), Token::Backticked(key), rest @ ..] if prefix.ends_with('.') => {
            let name = prefix.trim_end_matches('.').to_lowercase();
            let subject = keyed(&name, key.clone(), grammar)
                .or_else(|| field(&format!("{prefix}{key}")))
                .ok_or_else(|| {
                    bad(&format!(
                        "{prefix}`{key}` cannot be searched on; {}",
                        known()
                    ))
                })?;
            Ok((subject, rest))
        }
        [Token::Word(word), rest @ ..] => {
            let keyed_subject = word
                .split_once('.')
                .and_then(|(prefix, key)| keyed(&prefix.to_lowercase(), key.to_string(), grammar));
            let subject = keyed_subject
                .or_else(|| field(word))
                .ok_or_else(|| bad(&format!("{word:?} cannot be searched on; {}", known())))?;
            Ok((subject, rest))
        }
        [Token::Backticked(word), rest @ ..] => {
            let subject = field(word)
                .ok_or_else(|| bad(&format!("{word:?} cannot be searched on; {}", known())))?;
            Ok((subject, rest))
        }
        _ => Err(bad("each clause starts with a field name or tag.<key>")),
    }
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

    struct Run {
        status: &'static str,
        accuracy: Option<f64>,
        lr: Option<&'static str>,
    }

    impl Subjects for Run {
        fn field(&self, name: &str) -> Option<String> {
            match name {
                "status" => Some(self.status.into()),
                "start_time" => Some("1000".into()),
                _ => None,
            }
        }
        fn tag(&self, _: &str) -> Option<String> {
            None
        }
        fn metric(&self, key: &str) -> Option<f64> {
            (key == "accuracy").then_some(self.accuracy).flatten()
        }
        fn param(&self, key: &str) -> Option<String> {
            (key == "lr").then(|| self.lr.map(String::from)).flatten()
        }
    }

    #[test]
    fn runs_are_filtered_by_metrics_params_and_attributes() {
        let fields = ["status", "start_time"];
        let f = Filter::parse_in(
            "metrics.accuracy >= 0.9 and params.`lr` = '0.01' and attributes.status = 'FINISHED'",
            &fields,
            Grammar::Runs,
        )
        .unwrap();
        let run = |status, accuracy, lr| Run {
            status,
            accuracy,
            lr,
        };
        assert!(f.matches(&run("FINISHED", Some(0.9), Some("0.01"))));
        assert!(!f.matches(&run("FINISHED", Some(0.89), Some("0.01"))));
        assert!(!f.matches(&run("FINISHED", None, Some("0.01"))));
        assert!(!f.matches(&run("RUNNING", Some(0.95), Some("0.01"))));
        let ne = Filter::parse_in("params.lr != '0.1'", &fields, Grammar::Runs).unwrap();
        assert!(
            !ne.matches(&run("FINISHED", None, None)),
            "no param, no match"
        );
        let time = Filter::parse_in("start_time > 999", &fields, Grammar::Runs).unwrap();
        assert!(time.matches(&run("FINISHED", None, None)));
        for (bad, grammar) in [
            ("metrics.accuracy > 0.9", Grammar::Registry),
            ("params.lr > '1'", Grammar::Runs),
            ("status < 'X'", Grammar::Runs),
            ("metrics.accuracy LIKE '0.9%'", Grammar::Runs),
            ("metrics.accuracy => 1", Grammar::Runs),
        ] {
            assert!(Filter::parse_in(bad, &fields, grammar).is_err(), "{bad}");
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
