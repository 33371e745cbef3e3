//! Prompts: versions (a new one for every post, as the backend does), commits, retrieve by
//! name (latest), commit or version number, text and chat, mustache and jinja2, search, delete.

mod common;

use common::*;
use fake_opik::FakeOpik;
use serde_json::{json, Value};

fn version(server: &FakeOpik, name: &str, template: &str, kind: &str, structure: &str) -> Resp {
    send_json(
        server,
        "POST",
        "/v1/private/prompts/versions",
        &json!({"name": name,
        "version": {"template": template, "type": kind, "metadata": {"v": 1}}, "template_structure": structure}),
    )
}

fn retrieve(server: &FakeOpik, body: Value) -> Resp {
    send_json(
        server,
        "POST",
        "/v1/private/prompts/versions/retrieve",
        &body,
    )
}

#[test]
fn versions_commits_and_retrieval() {
    let server = FakeOpik::start();
    let missing = retrieve(&server, json!({"name": "greet"}));
    assert_eq!(
        (missing.status, missing.json()),
        (404, json!({"code": 404, "message": "Prompt not found"}))
    );

    let v1 = version(&server, "greet", "Hello {{name}}", "mustache", "text");
    assert_eq!(v1.status, 200);
    let v1 = v1.json();
    let commit = v1["commit"].as_str().unwrap().to_string();
    assert_eq!(commit.len(), 8);
    assert!(
        v1["id"].as_str().unwrap().ends_with(&commit),
        "the commit is the id's last 8 characters"
    );
    assert_eq!(
        (v1["variables"].clone(), v1["version_number"].as_str()),
        (json!(["name"]), Some("v1"))
    );
    assert_eq!(v1["template_structure"], "text");

    // The same template again: the backend makes a new version anyway.
    let v2 = version(&server, "greet", "Hello {{name}}", "mustache", "chat").json();
    assert_ne!(v2["commit"], v1["commit"]);
    assert_eq!(
        (
            v2["version_number"].as_str(),
            v2["template_structure"].as_str()
        ),
        (Some("v2"), Some("text")),
        "the structure is the first version's"
    );
    let v3 = version(
        &server,
        "greet",
        "Hi {{ user.name }}{% for x in items %}{{ x }}{% endfor %}",
        "jinja2",
        "text",
    )
    .json();
    assert_eq!(v3["variables"], json!(["user", "items"]));
    assert_eq!(server.prompt_versions("greet").len(), 3);

    let latest = retrieve(&server, json!({"name": "greet"})).json();
    assert_eq!(latest["commit"], v3["commit"]);
    assert_eq!(
        retrieve(&server, json!({"name": "greet", "commit": commit})).json()["template"],
        "Hello {{name}}"
    );
    assert_eq!(
        retrieve(&server, json!({"name": "greet", "version_number": "v2"})).json()["id"],
        v2["id"]
    );
    let none = retrieve(&server, json!({"name": "greet", "commit": "00000000"}));
    assert_eq!(
        (none.status, none.json()["message"].as_str()),
        (404, Some("Prompt version not found"))
    );

    let given = send_json(
        &server,
        "POST",
        "/v1/private/prompts/versions",
        &json!({"name": "greet", "version": {"template": "x", "commit": commit}}),
    );
    assert_eq!(given.status, 409, "a given commit in use");

    let prompt_id = v1["prompt_id"].as_str().unwrap().to_string();
    let history = get(
        &server,
        "GET",
        &format!("/v1/private/prompts/{prompt_id}/versions?page=1&size=100"),
    )
    .json();
    assert_eq!(history["total"], 3);
    assert_eq!(history["content"][0]["id"], v3["id"], "newest first");
    let detail = get(&server, "GET", &format!("/v1/private/prompts/{prompt_id}")).json();
    assert_eq!(
        (
            detail["version_count"].as_u64(),
            detail["latest_version"]["id"].clone()
        ),
        (Some(3), v3["id"].clone())
    );
    let by_id = get(
        &server,
        "GET",
        &format!(
            "/v1/private/prompts/versions/{}",
            v2["id"].as_str().unwrap()
        ),
    )
    .json();
    assert_eq!(by_id["commit"], v2["commit"]);
    let by_commit = get(
        &server,
        "GET",
        &format!("/v1/private/prompts/by-commit/{commit}"),
    )
    .json();
    assert_eq!(by_commit["requested_version"]["commit"], commit);
    server.assert_valid();
}

#[test]
fn prompts_are_created_searched_and_deleted() {
    let server = FakeOpik::start();
    let chat = json!([{"role": "system", "content": "You help {{who}}"}]).to_string();
    let r = send_json(
        &server,
        "POST",
        "/v1/private/prompts",
        &json!({"name": "chatty", "template": chat,
        "template_structure": "chat", "description": "a chat", "tags": ["a"], "type": "mustache"}),
    );
    assert_eq!(r.status, 201);
    let id = r
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let dup = send_json(
        &server,
        "POST",
        "/v1/private/prompts",
        &json!({"name": "Chatty"}),
    );
    assert_eq!(dup.status, 409);
    let v = send_json(
        &server,
        "POST",
        "/v1/private/prompts/versions/retrieve",
        &json!({"name": "chatty"}),
    )
    .json();
    assert_eq!(
        (v["template_structure"].as_str(), v["variables"].clone()),
        (Some("chat"), json!(["who"]))
    );
    version(&server, "other", "plain", "mustache", "text");

    let found = get(
        &server,
        "GET",
        "/v1/private/prompts?page=1&size=100&name=CHAT",
    )
    .json();
    assert_eq!(found["total"], 1);
    assert_eq!(
        (
            found["content"][0]["id"].as_str(),
            found["content"][0]["version_count"].as_u64()
        ),
        (Some(id.as_str()), Some(1))
    );
    assert_eq!(
        get(&server, "GET", "/v1/private/prompts?page=1&size=100").json()["total"],
        2
    );

    assert_eq!(
        get(&server, "DELETE", &format!("/v1/private/prompts/{id}")).status,
        204
    );
    assert_eq!(
        get(&server, "GET", &format!("/v1/private/prompts/{id}")).status,
        404
    );
    let other = send_json(
        &server,
        "POST",
        "/v1/private/prompts/versions/retrieve",
        &json!({"name": "other"}),
    )
    .json();
    assert_eq!(
        send_json(
            &server,
            "POST",
            "/v1/private/prompts/delete",
            &json!({"ids": [other["prompt_id"]]})
        )
        .status,
        204
    );
    assert_eq!(
        get(&server, "GET", "/v1/private/prompts?page=1&size=100").json()["total"],
        0
    );
    server.assert_valid();
}
