//! Live streams as access changes under them, on the real local cluster: each of a logout,
//! an account disabled, a role changed and a token revoked ends an open stream within
//! `live::RECHECK` (15 s), not at the end of its 5-minute lifetime; and one user cannot hold
//! more streams than the cap.

use std::time::Duration;

use crate::common::server::{assert_contains, TestServer};

const PASSWORD: &str = "sam long password";
const STREAM: &str = "/api/v1/gpu-summary/stream";
/// `live::RECHECK` and a margin for a busy machine; far below the 300 s lifetime.
const ENDS_WITHIN: Duration = Duration::from_secs(40);

fn admin_post(server: &TestServer, admin: &str, path: &str, body: &str) {
    let origin = server.base.clone();
    let response = server.request(
        "POST",
        path,
        body,
        &[("Cookie", admin), ("Origin", &origin)],
    );
    assert_eq!(response.status, 200, "{path}: {}", response.body);
}

fn set_account(server: &TestServer, admin: &str, role: &str, disabled: bool) {
    let disabled = if disabled { "&disabled=on" } else { "" };
    admin_post(
        server,
        admin,
        "/api/accounts/update",
        &format!("username=sam&role={role}&namespaces=*{disabled}"),
    );
}

#[test]
fn streams_end_soon_after_logout_disable_role_change_and_revocation() {
    let Some((mut server, admin)) =
        TestServer::on_cluster_with("stream-access", &[("GANTRY_STREAMS_PER_USER", "3")])
    else {
        return;
    };
    let base = server.base.clone();
    admin_post(
        &server,
        &admin,
        "/api/accounts/create",
        &format!(
            "username=sam&display_name=Sam&password={}&role=data-scientist&namespaces=*",
            PASSWORD.replace(' ', "+")
        ),
    );
    let mut figures = Vec::new();

    // Logout.
    let sam = server.login_as("sam", PASSWORD);
    let mut stream = server.events(STREAM, &sam);
    stream.next();
    let response = server.request(
        "POST",
        "/api/logout",
        "",
        &[("Cookie", &sam), ("Origin", &base)],
    );
    assert_eq!(response.status, 200, "{}", response.body);
    figures.push(("logout", stream.ends_within(ENDS_WITHIN)));

    // The account disabled.
    let sam = server.login_as("sam", PASSWORD);
    let mut stream = server.events(STREAM, &sam);
    stream.next();
    set_account(&server, &admin, "data-scientist", true);
    figures.push(("account disabled", stream.ends_within(ENDS_WITHIN)));
    set_account(&server, &admin, "data-scientist", false);

    // The role changed.
    let sam = server.login_as("sam", PASSWORD);
    let mut stream = server.events(STREAM, &sam);
    stream.next();
    set_account(&server, &admin, "viewer", false);
    figures.push(("role changed", stream.ends_within(ENDS_WITHIN)));

    // A token revoked.
    let response = server.request(
        "POST",
        "/api/tokens/create",
        "name=ci&days=",
        &[("Cookie", &sam), ("Origin", &base)],
    );
    assert_eq!(response.status, 200, "{}", response.body);
    let token = response.json().as_str().unwrap().to_string();
    let bearer = format!("Bearer {token}");
    let mut stream = server.events_with(STREAM, ("Authorization", &bearer));
    stream.next();
    let id = server
        .request(
            "POST",
            "/api/tokens",
            "",
            &[("Cookie", &sam), ("Origin", &base)],
        )
        .json()[0]["id"]
        .as_i64()
        .unwrap();
    let response = server.request(
        "POST",
        "/api/tokens/revoke",
        &format!("id={id}"),
        &[("Cookie", &sam), ("Origin", &base)],
    );
    assert_eq!(response.status, 200, "{}", response.body);
    figures.push(("token revoked", stream.ends_within(ENDS_WITHIN)));

    // The cap: three streams for sam, the fourth refused with the reason; others unaffected.
    let mut open: Vec<_> = (0..3)
        .map(|_| {
            let mut stream = server.events(STREAM, &sam);
            stream.next();
            stream
        })
        .collect();
    let refused = server.request(
        "GET",
        STREAM,
        "",
        &[("Cookie", &sam), ("Accept", "text/event-stream")],
    );
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_contains(&refused.body, "you have 3 live streams open");
    server.events(STREAM, &admin).next();
    open.clear();

    println!("\n| access change | stream ended after |\n|---|---|");
    for (what, after) in &figures {
        println!("| {what} | {:.1} s |", after.as_secs_f64());
    }
    server.stop();
}
