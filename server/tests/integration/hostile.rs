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

#[test]
fn hostile_requests_get_the_right_4xx_and_change_nothing() {
    let mut server = TestServer::spawn();
    let base = server.base.clone();
    let admin = server.login();
    server.create_account(&admin, "alice", ALICE_PASSWORD, "data-scientist", "team-a");
    server.create_account(&admin, "victor", VICTOR_PASSWORD, "viewer", "team-a");
    let alice = server.login_as("alice", ALICE_PASSWORD);
    let victor = server.login_as("victor", VICTOR_PASSWORD);
    let victor_token = server.create_token(&victor);
    let alice_token = server.create_token(&alice);
    let admin_token = server.create_token(&admin);
    let alice_token_id = server
        .request(
            "POST",
            "/api/tokens",
            "",
            &[("Cookie", &alice), ("Origin", &base)],
        )
        .json()[0]["id"]
        .as_i64()
        .unwrap();
    let revoked_token = server.create_token(&victor);
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
    let admin_bearer = bearer(&admin_token);
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
        "viewer revokes another user's token (one that exists)",
        404,
        server.request(
            "POST",
            "/api/tokens/revoke",
            &format!("id={alice_token_id}"),
            &[("Cookie", &victor), origin[0]],
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
    // A leaked ops-admin token must not mint a way in that outlives it.
    case(
        "an admin's token creates an account",
        403,
        server.request(
            "POST",
            "/api/accounts/create",
            new_account,
            &[("Authorization", &admin_bearer)],
        ),
    );
    case(
        "an admin's token sets its owner's password",
        403,
        server.request(
            "POST",
            "/api/accounts/password",
            "username=admin&password=taken+over+long+password",
            &[("Authorization", &admin_bearer)],
        ),
    );
    case(
        "an admin's token sets another account's password",
        403,
        server.request(
            "POST",
            "/api/accounts/password",
            "username=alice&password=taken+over+long+password",
            &[("Authorization", &admin_bearer)],
        ),
    );
    case(
        "an admin's token creates a token",
        403,
        server.request(
            "POST",
            "/api/tokens/create",
            "name=x",
            &[("Authorization", &admin_bearer)],
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
    // Victor's attempt on Alice's token (an id that exists) left it working.
    let alice_me = server
        .request(
            "POST",
            "/api/me",
            "",
            &[("Authorization", &bearer(&alice_token))],
        )
        .json();
    assert_eq!(alice_me["username"], "alice", "{alice_me}");

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
    // The passwords the admin's token tried to set were not set.
    server.login();
    server.login_as("alice", ALICE_PASSWORD);
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

/// Every namespace and name a URL or a form carries is checked as a Kubernetes name before
/// anything reads it: `/`, `..`, `?`, NUL, selector syntax and over-long values get a 400
/// naming the field. No cluster here, so a value that got past the check would meet "not
/// connected" (503) instead.
#[test]
fn path_parameters_are_checked_as_kubernetes_names() {
    let mut server = TestServer::spawn();
    let admin = server.login();
    let base = server.base.clone();
    let long = "a".repeat(300);
    let bad = [
        "team-a/jobs/llama-finetune?x=",
        "..",
        "../kube-system",
        "a?b",
        "a\0b",
        "job-name,x!=y",
        "Team_A",
        long.as_str(),
    ];
    let mut checked = 0;
    let mut wrong = Vec::new();
    for value in bad {
        let v = gantry_app::url::encode_component(value);
        let paths = [
            ("GET", format!("/api/v1/jobs/{v}/llama"), "namespace"),
            ("GET", format!("/api/v1/jobs/team-a/{v}"), "name"),
            ("DELETE", format!("/api/v1/jobs/{v}/llama"), "namespace"),
            ("DELETE", format!("/api/v1/jobs/team-a/{v}"), "name"),
            ("GET", format!("/api/v1/jobs/{v}/llama/stream"), "namespace"),
            ("GET", format!("/api/v1/jobs/team-a/{v}/stream"), "name"),
            ("GET", format!("/api/v1/jobs/{v}/llama/logs"), "namespace"),
            ("GET", format!("/api/v1/jobs/team-a/{v}/logs.txt"), "name"),
            (
                "GET",
                format!("/api/v1/jobs/team-a/llama/logs?pod={v}"),
                "pod",
            ),
            ("GET", format!("/api/v1/jobs?namespace={v}"), "namespace"),
            ("GET", format!("/api/v1/gpu-nodes/{v}"), "name"),
            ("GET", format!("/api/v1/gpu-nodes/{v}/stream"), "name"),
        ];
        let forms = [
            (
                "/api/jobs/detail",
                format!("namespace={v}&name=llama"),
                "namespace",
            ),
            (
                "/api/jobs/detail",
                format!("namespace=team-a&name={v}"),
                "name",
            ),
            (
                "/api/jobs/cancel",
                format!("namespace=team-a&name={v}"),
                "name",
            ),
            (
                "/api/jobs/suspend",
                format!("namespace={v}&name=llama&suspend=true"),
                "namespace",
            ),
            (
                "/api/jobs/form",
                format!("namespace=team-a&name={v}"),
                "name",
            ),
            (
                "/api/jobs/rerun",
                format!("namespace={v}&name=llama"),
                "namespace",
            ),
            ("/api/gpu-node", format!("name={v}"), "name"),
            ("/api/nodes/cordon", format!("node={v}&cordon=true"), "node"),
        ];
        let answers = paths
            .into_iter()
            .map(|(method, path, field)| {
                let response =
                    server.request(method, &path, "", &[("Cookie", &admin), ("Origin", &base)]);
                (format!("{method} {path}"), field, response)
            })
            .chain(forms.into_iter().map(|(path, body, field)| {
                let response = server.request(
                    "POST",
                    path,
                    &body,
                    &[("Cookie", &admin), ("Origin", &base)],
                );
                (format!("POST {path} {body}"), field, response)
            }));
        for (what, field, response) in answers {
            checked += 1;
            if response.status != 400 || !response.body.contains(field) {
                wrong.push(format!("{what}: {} {}", response.status, response.body));
            }
        }
    }
    println!(
        "path and form parameters checked: {checked}, wrong: {}",
        wrong.len()
    );
    assert!(wrong.is_empty(), "{wrong:#?}");
    server.stop();
}

/// Floods an anonymous client can send: 100 logins at once (each password check holds
/// 19 MiB), 10,000 more once throttled, and requests with made-up methods. Memory stays
/// bounded, the limiter holds against the burst, the audit log gains a handful of rows and
/// `/metrics` no series. Prints the figures.
#[test]
fn floods_of_logins_and_methods_stay_bounded() {
    let mut server = TestServer::spawn();
    let origin = server.base.clone();
    let login = |username: String| {
        server
            .request(
                "POST",
                "/api/login",
                &format!("username={username}&password=not+the+password"),
                &[("Origin", &origin)],
            )
            .status
    };
    let rss_before = server.peak_rss_kib();
    let burst: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..100)
            .map(|i| scope.spawn(move || login(format!("burst{i}"))))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let count = |code: u16| burst.iter().filter(|s| **s == code).count();
    let checked = count(401);
    let rss_burst = server.peak_rss_kib();
    println!("peak RSS after the burst: {} MiB", rss_burst / 1024);
    // Counted before hashing: no more than the address's 20 were ever checked.
    assert!(
        checked <= 20,
        "{checked} passwords checked in a burst of 100"
    );
    assert_eq!(checked + count(429) + count(503), 100, "{burst:?}");

    // The rest of the address's 20, one at a time, until it is throttled.
    let mut more = 0;
    while login(format!("more{more}")) != 429 {
        more += 1;
        assert!(checked + more <= 20, "the address limit did not hold");
    }
    let throttled: Vec<u16> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                scope.spawn(move || {
                    (0..1250)
                        .map(|i| login(format!("flood{t}x{i}")))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    assert!(
        throttled.iter().all(|s| *s == 429 || *s == 503),
        "a throttled login got through"
    );

    let methods_before = server.get("/metrics").body;
    for i in 0..2_000 {
        server.request(&format!("M{i}"), "/healthz", "", &[]);
    }
    let metrics = server.get("/metrics").body;
    let series = |text: &str| {
        text.lines()
            .filter(|l| l.starts_with("gantry_http_requests_total{"))
            .count()
    };
    assert!(
        !metrics.contains("method=\"M1"),
        "a made-up method became a label"
    );
    assert!(series(&metrics) <= series(&methods_before) + 2);
    let rss_end = server.peak_rss_kib();
    server.stop();

    let db = server.database();
    let rows = db.count("SELECT COUNT(*) FROM audit_log WHERE action = 'login.failed'");
    let summed: i64 = db
        .texts(
            "SELECT detail FROM audit_log WHERE action = 'login.failed' \
             AND detail LIKE '% refusals since %'",
        )
        .iter()
        .filter_map(|d| d.split(' ').next()?.parse::<i64>().ok())
        .sum();
    db.close();
    println!(
        "\n| flood | figure |\n|---|---|\n\
         | 100 parallel logins: passwords checked | {checked} (429: {}, 503: {}) |\n\
         | peak RSS before / after the burst / at the end | {} / {} / {} MiB |\n\
         | 10,000 throttled logins: audit rows for all 10,100 failures | {rows} (summed refusals: {summed}) |\n\
         | 2,000 made-up methods: request series added | {} |",
        count(429),
        count(503),
        rss_before / 1024,
        rss_burst / 1024,
        rss_end / 1024,
        series(&metrics) - series(&methods_before),
    );
    assert!(rss_end < 150 * 1024, "peak RSS {} MiB", rss_end / 1024);
    assert!(rows < 50, "{rows} audit rows for a flood");
    assert!(summed >= 9_000, "refusals summed: {summed}");
}
