//! Who may do what: roles, namespace scopes and the checks every server function makes.
//!
//! Pure logic, compiled into the wasm too, so the UI hides or disables exactly what the server
//! would refuse. The server never trusts the UI: it runs the same checks on every call, and
//! the cluster's RBAC (through impersonation) has the last word on Kubernetes objects.

use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// What an account is for. Each role may do what the one before it may, and more.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Reads everything in their namespaces; changes nothing.
    Viewer,
    /// Launches and manages training jobs, registers and deploys models, in their namespaces.
    DataScientist,
    /// Operates the cluster (cordon, scale, roll back) and administers Gantry.
    OpsAdmin,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Viewer, Role::DataScientist, Role::OpsAdmin];

    /// The name stored in the database, sent to Kubernetes (`gantry:<name>`) and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::DataScientist => "data-scientist",
            Role::OpsAdmin => "ops-admin",
        }
    }

    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.as_str() == text)
    }

    /// Whether this role may take `action` at all (namespaces are checked separately).
    pub fn may(self, action: Action) -> bool {
        match action {
            Action::View => true,
            Action::LaunchJobs | Action::ManageModels => {
                matches!(self, Role::DataScientist | Role::OpsAdmin)
            }
            Action::OperateCluster | Action::Administer => self == Role::OpsAdmin,
        }
    }
}

/// The kinds of things a user does, as the authorization checks see them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Read nodes, jobs, models, services.
    View,
    /// Launch, cancel, suspend, clone training jobs.
    LaunchJobs,
    /// Register models and deploy versions.
    ManageModels,
    /// Cordon nodes, scale, autoscale and roll back services.
    OperateCluster,
    /// Accounts, tokens, the audit log.
    Administer,
}

impl Action {
    /// How the action reads in a refusal: "your role (viewer) may not {describe}".
    pub fn describe(self) -> &'static str {
        match self {
            Action::View => "view this",
            Action::LaunchJobs => "launch or change training jobs",
            Action::ManageModels => "register or deploy models",
            Action::OperateCluster => "operate nodes and services",
            Action::Administer => "administer Gantry",
        }
    }
}

/// The namespaces an account may use.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "scope", content = "names", rename_all = "kebab-case")]
pub enum Namespaces {
    All,
    Only(Vec<String>),
}

impl Namespaces {
    pub fn allows(&self, namespace: &str) -> bool {
        match self {
            Namespaces::All => true,
            Namespaces::Only(names) => names.iter().any(|n| n == namespace),
        }
    }

    /// Parses the form a person types and the database stores: `*` for all, else a
    /// comma-separated list of namespace names.
    pub fn parse(text: &str) -> Result<Namespaces, AppError> {
        let text = text.trim();
        if text == "*" {
            return Ok(Namespaces::All);
        }
        let mut names: Vec<String> = Vec::new();
        for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if !crate::names::is_dns_label(name) {
                return Err(AppError::invalid(
                    "namespaces",
                    format!(
                        "{name:?} is not a namespace name (lower-case letters, digits and '-', \
                         at most 63, starting and ending with a letter or digit)"
                    ),
                ));
            }
            if !names.iter().any(|n| n == name) {
                names.push(name.to_string());
            }
        }
        Ok(Namespaces::Only(names))
    }

    /// The stored and displayed form, which [`Namespaces::parse`] reads back.
    pub fn to_text(&self) -> String {
        match self {
            Namespaces::All => "*".into(),
            Namespaces::Only(names) => names.join(","),
        }
    }
}

/// A signed-in user (or an API token acting for one), as every check sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Principal {
    pub username: String,
    pub display_name: String,
    pub role: Role,
    pub namespaces: Namespaces,
}

impl Principal {
    /// Refuses, with a reason a person understands, unless this user may take `action`
    /// (in `namespace`, when the action concerns one).
    pub fn check(&self, action: Action, namespace: Option<&str>) -> Result<(), AppError> {
        if !self.role.may(action) {
            return Err(AppError::forbidden(format!(
                "your role ({}) may not {}",
                self.role.as_str(),
                action.describe()
            )));
        }
        if let Some(namespace) = namespace {
            if !self.namespaces.allows(namespace) {
                return Err(AppError::forbidden(format!(
                    "you may not use namespace {namespace:?}"
                )));
            }
        }
        Ok(())
    }
}

/// Usernames: 1–64 of lower-case letters, digits, `.`, `_`, `-`, starting with a letter or
/// digit. They go into Kubernetes user names (`gantry:<username>`) and the audit log, so
/// nothing that could be confused with a separator or markup.
pub fn validate_username(username: &str) -> Result<(), AppError> {
    let ok_start = username
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let ok_chars = username
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if username.is_empty() || username.len() > 64 || !ok_start || !ok_chars {
        return Err(AppError::invalid(
            "username",
            "use 1 to 64 lower-case letters, digits, '.', '_' or '-', starting with a letter \
             or digit",
        ));
    }
    Ok(())
}

/// The shortest password accepted. Length is what makes a password strong; no other rules.
pub const MIN_PASSWORD_LEN: usize = 12;
/// The longest: hashing is deliberately expensive, so unbounded input would be a way to
/// make the server work.
pub const MAX_PASSWORD_LEN: usize = 256;

pub fn validate_password(password: &str) -> Result<(), AppError> {
    let length = password.chars().count();
    if length < MIN_PASSWORD_LEN {
        return Err(AppError::invalid(
            "password",
            format!("use at least {MIN_PASSWORD_LEN} characters"),
        ));
    }
    if password.len() > MAX_PASSWORD_LEN {
        return Err(AppError::invalid(
            "password",
            format!("use at most {MAX_PASSWORD_LEN} bytes"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(role: Role, namespaces: Namespaces) -> Principal {
        Principal {
            username: "alice".into(),
            display_name: "Alice".into(),
            role,
            namespaces,
        }
    }

    #[test]
    fn each_role_may_what_the_one_before_may_and_more() {
        use Action::*;
        let table = [
            (Role::Viewer, [true, false, false, false, false]),
            (Role::DataScientist, [true, true, true, false, false]),
            (Role::OpsAdmin, [true, true, true, true, true]),
        ];
        for (role, expected) in table {
            let actual = [View, LaunchJobs, ManageModels, OperateCluster, Administer]
                .map(|action| role.may(action));
            assert_eq!(actual, expected, "{role:?}");
        }
    }

    #[test]
    fn a_refusal_says_which_rule_refused() {
        let viewer = user(Role::Viewer, Namespaces::All);
        let err = viewer
            .check(Action::LaunchJobs, Some("team-a"))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "not allowed: your role (viewer) may not launch or change training jobs"
        );
        let alice = user(Role::DataScientist, Namespaces::Only(vec!["team-a".into()]));
        assert!(alice.check(Action::LaunchJobs, Some("team-a")).is_ok());
        let err = alice.check(Action::LaunchJobs, Some("team-b")).unwrap_err();
        assert_eq!(err.status_code(), 403);
        assert!(err.to_string().contains("namespace \"team-b\""));
    }

    #[test]
    fn namespaces_parse_and_print_back() {
        assert_eq!(Namespaces::parse(" * ").unwrap(), Namespaces::All);
        let parsed = Namespaces::parse("team-a, team-b,,team-a").unwrap();
        assert_eq!(
            parsed,
            Namespaces::Only(vec!["team-a".into(), "team-b".into()])
        );
        assert_eq!(Namespaces::parse(&parsed.to_text()).unwrap(), parsed);
        assert_eq!(Namespaces::parse("").unwrap(), Namespaces::Only(vec![]));
        let err = Namespaces::parse("team-a,Team_B").unwrap_err();
        assert!(matches!(err, AppError::InvalidInput { ref field, .. } if field == "namespaces"));
    }

    #[test]
    fn usernames_and_passwords_are_checked() {
        for good in ["alice", "a", "ops.admin_2", "x-1"] {
            assert!(validate_username(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "Alice",
            "-alice",
            "al ice",
            "al:ice",
            "<b>",
            &"a".repeat(65),
        ] {
            assert!(validate_username(bad).is_err(), "{bad:?}");
        }
        assert!(validate_password("correct horse").is_ok());
        assert!(validate_password("short").is_err());
        assert!(validate_password(&"x".repeat(MAX_PASSWORD_LEN + 1)).is_err());
    }

    #[test]
    fn roles_round_trip_through_their_names() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }
}
