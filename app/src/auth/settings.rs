//! Gantry's session, cookie and origin settings, as configured.

use std::time::Duration;

/// Session and login settings, from Gantry's configuration.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// A session unused this long is over.
    pub session_idle: Duration,
    /// A session is over this long after its login, used or not.
    pub session_lifetime: Duration,
    /// Origins (`https://portal.example`) whose pages may make state-changing requests:
    /// the configured trusted origins and the embedding portals.
    pub trusted_origins: Vec<String>,
    /// Origins allowed to show Gantry in a frame (CSP `frame-ancestors`).
    pub embed_origins: Vec<String>,
    /// Whether the session cookie is `Secure` (Gantry served over HTTPS, or embedded).
    pub secure_cookies: bool,
    /// Reverse proxies whose `X-Forwarded-For` names the client (`GANTRY_TRUSTED_PROXIES`).
    pub trusted_proxies: Vec<super::proxies::Network>,
}
