//! Hostile requests against the real server: each gets the right 4xx, changes nothing, and
//! leaves no trace but an audit entry. Prints the table (`cargo test --test hostile --
//! --nocapture`) that the closing note reports.

use crate::common::server::{Response, TestServer};

const ALICE_PASSWORD: &str = "alice long password";
const VICTOR_PASSWORD: &str = "victor long password";

struct Case {
    what: &'static str,
    expected: u16,
    response: Response,
}

/// Accounts as the admin creates them, through the server function.
fn create_account(
    server: &TestServer,
    admin: &str,
    username: &str,
    password: &str,
    role: &str,
    namespaces: &str,
) {
    let origin = server.base.clone();
    let body = format!(
        "username={username}&display_name={username}&password={}&role={role}&namespaces={namespaces}",
        password.replace(' ', "+")
    );
    let response = server.request(
        "POST",
        "/api/accounts/create",
        &body,
        &[("Cookie", admin), ("Origin", &origin)],
    );
    assert_eq!(response.status, 200, "{}", response.body);
}

fn create_token(server: &TestServer, cookie: &str) -> String {
    let origin = server.base.clone();
    let response = server.request(
        "POST",
        "/api/tokens/create",
        "name=ci&days=",
        &[("Cookie", cookie), ("Origin", &origin)],
    );
    assert_eq!(response.status, 200, "{}", response.body);
    response.json().as_str().unwrap().to_string()
}

#[test]
fn hostile_requests_get_the_right_4xx_and_change_nothing() {
    let mut server = TestServer::spawn();
    let base = server.base.clone();
    let admin = server.login();
    create_account(
        &server,
        &admin,
        "alice",
        ALICE_PASSWORD,
        "data-scientist",
        "team-a",
    );
    create_account(
        &server,
        &admin,
        "victor",
        VICTOR_PASSWORD,
        "viewer",
        "team-a",
    );
    let alice = server.login_as("alice", ALICE_PASSWORD);
    let victor = server.login_as("victor", VICTOR_PASSWORD);
    let victor_token = create_token(&server, &victor);
    let revoked_token = create_token(&server, &victor);
    let origin = [("Origin", base.as_str())];
    let revoke_body = {
        let list = server.request(
            "POST",
            "/api/tokens",
            "",
            &[("Cookie", &victor), ("Origin", &base)],
        );
        let id = list.json()[0]["id"].as_i64().unwrap();
        format!("id={id}")
    };
    let revoked = server.request(
        "POST",
        "/api/tokens/revoke",
        &revoke_body,
        &[("Cookie", &victor), ("Origin", &base)],
    );
    assert_eq!(revoked.status, 200, "{}", revoked.body);
    let _ = revoked_token;

    let new_account = "username=mallory&display_name=M&password=mallory+long+password&role=ops-admin&namespaces=*";
    let bearer = |token: &str| format!("Bearer {token}");
    let victor_bearer = bearer(&victor_token);
    let revoked_bearer = bearer(&revoked_token);
    let long_password = format!("username=admin&password={}", "p".repeat(5000));

    let mut cases = Vec::new();
    let mut case = |what: &'static str, expected: u16, response: Response| {
        cases.push(Case {
            what,
            expected,
            response,
        });
    };
    case(
        "no session: list accounts",
        401,
        server.request("POST", "/api/accounts", "", &[]),
    );
    case(
        "no session: read the audit log",
        401,
        server.request("POST", "/api/audit", "", &[]),
    );
    case(
        "no session: a page",
        303,
        server.request("GET", "/admin", "", &[]),
    );
    case(
        "no session: the audit CSV",
        303,
        server.request("GET", "/admin/audit.csv", "", &[]),
    );
    case(
        "forged session cookie",
        401,
        server.request(
            "POST",
            "/api/accounts",
            "",
            &[
                ("Cookie", "gantry_session=AAAAAAAAAAAAAAAAAAAAAA"),
                origin[0],
            ],
        ),
    );
    case(
        "admin cookie, Origin of another site",
        403,
        server.request(
            "POST",
            "/api/accounts/create",
            new_account,
            &[("Cookie", &admin), ("Origin", "https://evil.example")],
        ),
    );
    case(
        "admin cookie, Origin that only starts like Gantry's",
        403,
        server.request(
            "POST",
            "/api/accounts/create",
            new_account,
            &[
                ("Cookie", &admin),
                ("Origin", &format!("{base}.evil.example")),
            ],
        ),
    );
    case(
        "admin cookie, Origin null (sandboxed frame)",
        403,
        server.request(
            "POST",
            "/api/accounts/create",
            new_account,
            &[("Cookie", &admin), ("Origin", "null")],
        ),
    );
    case(
        "admin cookie, Sec-Fetch-Site: cross-site",
        403,
        server.request(
            "POST",
            "/api/accounts/create",
            new_account,
            &[("Cookie", &admin), ("Sec-Fetch-Site", "cross-site")],
        ),
    );
    case(
        "admin cookie, no Origin nor Sec-Fetch-Site",
        403,
        server.request(
            "POST",
            "/api/accounts/create",
            new_account,
            &[("Cookie", &admin)],
        ),
    );
    case(
        "viewer creates an account",
        403,
        server.request(
            "POST",
            "/api/accounts/create",
            new_account,
            &[("Cookie", &victor), origin[0]],
        ),
    );
    case(
        "viewer reads the audit log",
        403,
        server.request(
            "POST",
            "/api/audit",
            "filter[actor]=admin",
            &[("Cookie", &victor), origin[0]],
        ),
    );
    case(
        "viewer downloads the audit CSV",
        403,
        server.request("GET", "/admin/audit.csv", "", &[("Cookie", &victor)]),
    );
    case(
        "data scientist makes themselves ops-admin",
        403,
        server.request(
            "POST",
            "/api/accounts/update",
            "username=alice&role=ops-admin&namespaces=*",
            &[("Cookie", &alice), origin[0]],
        ),
    );
    case(
        "data scientist cordons a node",
        403,
        server.request(
            "POST",
            "/api/nodes/cordon",
            "node=gpu-h100-0&cordon=true",
            &[("Cookie", &alice), origin[0]],
        ),
    );
    case(
        "no session: the GPU JSON API",
        401,
        server.request("GET", "/api/v1/gpu-summary", "", &[]),
    );
    case(
        "viewer sends Impersonate-User: gantry:admin",
        403,
        server.request(
            "POST",
            "/api/accounts",
            "",
            &[
                ("Cookie", &victor),
                origin[0],
                ("Impersonate-User", "gantry:admin"),
                ("Impersonate-Group", "gantry:ops-admin"),
            ],
        ),
    );
    case(
        "viewer's token calls an admin function",
        403,
        server.request(
            "POST",
            "/api/accounts",
            "",
            &[("Authorization", &victor_bearer)],
        ),
    );
    case(
        "viewer's token revokes another user's token",
        404,
        server.request(
            "POST",
            "/api/tokens/revoke",
            "id=999999",
            &[("Authorization", &victor_bearer)],
        ),
    );
    case(
        "a token creates a token",
        403,
        server.request(
            "POST",
            "/api/tokens/create",
            "name=x",
            &[("Authorization", &victor_bearer)],
        ),
    );
    case(
        "revoked token",
        401,
        server.request("POST", "/api/me", "", &[("Authorization", &revoked_bearer)]),
    );
    case(
        "made-up token",
        401,
        server.request(
            "POST",
            "/api/me",
            "",
            &[("Authorization", "Bearer gantry_0000")],
        ),
    );
    case(
        "2 MiB body",
        413,
        server.announce_body("/api/login", 2 * 1024 * 1024),
    );
    case(
        "malformed form body",
        400,
        server.request(
            "POST",
            "/api/accounts/create",
            "%zz=%",
            &[("Cookie", &admin), origin[0]],
        ),
    );
    case(
        "missing fields",
        400,
        server.request(
            "POST",
            "/api/accounts/create",
            "username=only",
            &[("Cookie", &admin), origin[0]],
        ),
    );
    case(
        "5,000-byte password at login",
        401,
        server.request("POST", "/api/login", &long_password, &origin),
    );
    case(
        "markup as a username at login",
        401,
        server.request(
            "POST",
            "/api/login",
            "username=%3Cscript%3E&password=whatever+it+is",
            &origin,
        ),
    );
    case(
        "admin creates an account with a bad role",
        400,
        server.request(
            "POST",
            "/api/accounts/create",
            "username=eve&display_name=E&password=eve+long+password&role=root&namespaces=*",
            &[("Cookie", &admin), origin[0]],
        ),
    );

    println!("\n| # | hostile request | expected | got |\n|---|---|---|---|");
    for (i, c) in cases.iter().enumerate() {
        println!(
            "| {} | {} | {} | {} |",
            i + 1,
            c.what,
            c.expected,
            c.response.status
        );
    }
    let wrong: Vec<String> = cases
        .iter()
        .filter(|c| c.response.status != c.expected)
        .map(|c| {
            format!(
                "{}: expected {}, got {} ({})",
                c.what, c.expected, c.response.status, c.response.body
            )
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert!(cases.len() >= 20);

    // The impersonation case above would be 403 for a viewer anyway; this shows the header
    // changes nothing about who the caller is.
    let me = server
        .request(
            "POST",
            "/api/me",
            "",
            &[
                ("Cookie", &victor),
                origin[0],
                ("Impersonate-User", "gantry:admin"),
            ],
        )
        .json();
    assert_eq!(me["username"], "victor", "{me}");
    assert_eq!(me["role"], "viewer", "{me}");

    // Nothing was created or changed...
    let accounts = server
        .request(
            "POST",
            "/api/accounts",
            "",
            &[("Cookie", &admin), ("Origin", &base)],
        )
        .json();
    let names: Vec<&str> = accounts
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["admin", "alice", "victor"]);
    let alice_row = accounts
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["username"] == "alice")
        .unwrap();
    assert_eq!(alice_row["role"], "data-scientist");
    // ...and the attempts that reached the application are on the record.
    let audit = server
        .request(
            "POST",
            "/api/audit",
            "filter[action]=login.failed",
            &[("Cookie", &admin), ("Origin", &base)],
        )
        .json();
    let failed: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert!(failed.contains(&"admin"), "{failed:?}");
    assert!(
        failed.contains(&"-"),
        "markup is never recorded as a name: {failed:?}"
    );
    server.stop();
}
