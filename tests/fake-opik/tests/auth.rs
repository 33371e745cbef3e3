//! `FakeOpik::require_auth`: the backend's auth filter and the `Check` endpoints.

mod common;

use common::{get, send_json, send_raw, KEY};
use fake_opik::FakeOpik;
use serde_json::json;

#[test]
fn an_open_server_lets_everything_through_and_names_the_default_workspace() {
    let server = FakeOpik::start();
    assert_eq!(
        send_json(&server, "POST", "/v1/private/auth", &json!({})).status,
        204
    );
    let r = get(&server, "GET", "/v1/private/auth/workspace");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!({"workspace_name": "default"}));
    server.assert_valid();
}

#[test]
fn a_wrong_key_is_401_and_a_foreign_workspace_403() {
    let server = FakeOpik::start();
    server.require_auth(KEY, &["team-a"]);
    let check = |key: &str, workspace: &str| {
        send_raw(
            server.port(),
            "POST",
            "/api/v1/private/auth",
            &[
                ("content-type", "application/json"),
                ("authorization", key),
                ("comet-workspace", workspace),
            ],
            b"{}",
        )
        .expect("request")
    };
    assert_eq!(check(KEY, "team-a").status, 204);
    let wrong_key = check("not-the-key", "team-a");
    assert_eq!(wrong_key.status, 401);
    assert_eq!(
        wrong_key.json()["message"],
        "User not allowed to access workspace"
    );
    assert_eq!(check(KEY, "team-b").status, 403);
    // The key's default workspace, whatever the request names; every call is guarded.
    let r = get(&server, "GET", "/v1/private/auth/workspace");
    assert_eq!(r.json(), json!({"workspace_name": "team-a"}));
    let create = send_json(
        &server,
        "POST",
        "/v1/private/projects",
        &json!({"name": "p"}),
    );
    assert_eq!(
        create.status, 403,
        "common's requests name the `default` workspace"
    );
    assert_eq!(get(&server, "GET", "/v1/private/projects").status, 403);
    // Not the health endpoint.
    let ping = send_raw(server.port(), "GET", "/api/is-alive/ping", &[], b"").expect("ping");
    assert_eq!(ping.status, 200);
    server.assert_valid();
}
