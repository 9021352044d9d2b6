//! The audit log as CSV (RFC 4180), safe to open in a spreadsheet.

use super::AuditEntry;

/// The header line.
pub const HEADER: &str = "id,at,actor,action,object,detail,result,client\r\n";

/// One entry as a CSV line (RFC 4180). Cells that a spreadsheet would run as a formula
/// (`=`, `+`, `-`, `@`) are prefixed with `'`.
pub fn line(e: &AuditEntry) -> String {
    fn cell(value: &str) -> String {
        let value = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
            format!("'{value}")
        } else {
            value.to_string()
        };
        if value.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", value.replace('"', "\"\""))
        } else {
            value
        }
    }
    let cells = [
        e.id.to_string(),
        e.at.clone(),
        e.actor.clone(),
        e.action.clone(),
        e.object.clone(),
        e.detail.clone(),
        e.result.clone(),
        e.client.clone(),
    ];
    let mut out: String = cells.iter().map(|c| cell(c)).collect::<Vec<_>>().join(",");
    out.push_str("\r\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(actor: &str, detail: &str) -> AuditEntry {
        AuditEntry {
            id: 1,
            at: "2026-11-29T19:00:00Z".into(),
            actor: actor.into(),
            action: "login".into(),
            object: "account/alice".into(),
            detail: detail.into(),
            result: "ok".into(),
            client: "127.0.0.1".into(),
        }
    }

    #[test]
    fn csv_quotes_what_needs_quoting_and_defuses_formulas() {
        let csv = [
            HEADER.to_string(),
            line(&entry("alice", "a \"quoted\", comma")),
            line(&entry("bob", "=HYPERLINK(1)")),
        ]
        .concat();
        let lines: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(lines[0], "id,at,actor,action,object,detail,result,client");
        assert_eq!(
            lines[1],
            "1,2026-11-29T19:00:00Z,alice,login,account/alice,\"a \"\"quoted\"\", comma\",ok,127.0.0.1"
        );
        assert!(lines[2].contains(",'=HYPERLINK(1),"), "{}", lines[2]);
    }
}
