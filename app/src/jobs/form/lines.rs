//! Lists edited as lines of text in the form: `KEY=value`, `NAME=secret/key`,
//! `claim:/path` (`:ro` for read-only). Each reader has a writer that it reads back.

use super::{KeyValue, Mount, SecretRef};

fn nonblank(text: &str) -> impl Iterator<Item = &str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty())
}

pub fn pairs(text: &str) -> Vec<KeyValue> {
    nonblank(text)
        .map(|l| {
            let (key, value) = l.split_once('=').unwrap_or((l, ""));
            KeyValue {
                key: key.trim().into(),
                value: value.trim().into(),
            }
        })
        .collect()
}

pub fn pairs_text(pairs: &[KeyValue]) -> String {
    pairs
        .iter()
        .map(|p| format!("{}={}", p.key, p.value))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn secrets(text: &str) -> Vec<SecretRef> {
    pairs(text)
        .into_iter()
        .map(|kv| {
            let (secret, key) = kv.value.split_once('/').unwrap_or((&kv.value, ""));
            SecretRef {
                secret: secret.into(),
                key: key.into(),
                name: kv.key,
            }
        })
        .collect()
}

pub fn secrets_text(secrets: &[SecretRef]) -> String {
    secrets
        .iter()
        .map(|s| format!("{}={}/{}", s.name, s.secret, s.key))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn mounts(text: &str) -> Vec<Mount> {
    nonblank(text)
        .map(|l| {
            let (claim, rest) = l.split_once(':').unwrap_or((l, ""));
            let (path, read_only) = match rest.strip_suffix(":ro") {
                Some(path) => (path, true),
                None => (rest, false),
            };
            Mount {
                claim: claim.trim().into(),
                path: path.trim().into(),
                read_only,
            }
        })
        .collect()
}

pub fn mounts_text(mounts: &[Mount]) -> String {
    mounts
        .iter()
        .map(|m| {
            format!(
                "{}:{}{}",
                m.claim,
                m.path,
                if m.read_only { ":ro" } else { "" }
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_list_reads_back_what_it_writes() {
        let kv = pairs("LR = 3e-4\n\n  FLAG\nURL=a=b");
        assert_eq!(pairs_text(&kv), "LR=3e-4\nFLAG=\nURL=a=b");
        assert_eq!(pairs(&pairs_text(&kv)), kv);
        let s = secrets("HF_TOKEN=hf/token\nX=only");
        assert_eq!(
            (s[0].secret.as_str(), s[0].key.as_str(), s[1].key.as_str()),
            ("hf", "token", "")
        );
        assert_eq!(secrets(&secrets_text(&s)), s);
        let m = mounts("data:/data:ro\nout:/out");
        assert!(m[0].read_only && !m[1].read_only);
        assert_eq!(m[1].path, "/out");
        assert_eq!(mounts(&mounts_text(&m)), m);
    }
}
