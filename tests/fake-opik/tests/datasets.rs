//! Datasets: create, retrieve, list, update, delete; items upserted into versions, streamed
//! in pages (10,000 of them), paged, filtered, deleted; every request and answer spec-valid.

mod common;

use common::*;
use fake_opik::{FakeOpik, Reply};
use serde_json::{json, Value};

const P: &str = "fake-opik-data";

fn item(n: u64, data: Value) -> Value {
    json!({"id": v7(n), "source": "sdk", "data": data})
}

fn put_items(server: &FakeOpik, items: Vec<Value>, group: Option<String>) -> Resp {
    let mut body = json!({"dataset_name": "qa", "project_name": P, "items": items});
    if let Some(g) = group {
        body["batch_group_id"] = json!(g);
    }
    send_json(server, "PUT", "/v1/private/datasets/items", &body)
}

fn stream(server: &FakeOpik, body: Value) -> Vec<Value> {
    let r = send_json(server, "POST", "/v1/private/datasets/items/stream", &body);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/octet-stream"));
    r.lines()
}

#[test]
fn a_dataset_is_created_found_listed_and_deleted() {
    let server = FakeOpik::start();
    let r = send_json(
        &server,
        "POST",
        "/v1/private/datasets",
        &json!({"name": "qa", "project_name": P, "description": "questions", "tags": ["t"]}),
    );
    assert_eq!(r.status, 201);
    let location = r.header("location").unwrap().to_string();
    let id = location.rsplit('/').next().unwrap().to_string();
    assert!(
        location.ends_with(&format!("/api/v1/private/datasets/{id}")),
        "{location}"
    );
    let again = send_json(
        &server,
        "POST",
        "/v1/private/datasets",
        &json!({"name": "QA", "project_name": P}),
    );
    assert_eq!(
        (again.status, again.json()),
        (409, json!({"errors": ["Dataset already exists"]}))
    );

    let d = send_json(
        &server,
        "POST",
        "/v1/private/datasets/retrieve",
        &json!({"dataset_name": "qa", "project_name": P}),
    )
    .json();
    assert_eq!(
        (d["id"].as_str(), d["name"].as_str()),
        (Some(id.as_str()), Some("qa"))
    );
    assert_eq!(d["project_id"], server.project_id(P).unwrap());
    assert_eq!(
        (d["dataset_items_count"].as_u64(), d["description"].as_str()),
        (Some(0), Some("questions"))
    );
    assert!(
        d.get("latest_version").is_none(),
        "no version before the first items"
    );
    assert_eq!(
        get(&server, "GET", &format!("/v1/private/datasets/{id}")).json(),
        d
    );
    let missing = send_json(
        &server,
        "POST",
        "/v1/private/datasets/retrieve",
        &json!({"dataset_name": "nope"}),
    );
    assert_eq!(
        (missing.status, missing.json()),
        (404, json!({"errors": ["Dataset not found"]}))
    );

    // The same name in another project is another dataset.
    let r = send_json(
        &server,
        "POST",
        "/v1/private/datasets",
        &json!({"name": "qa", "project_name": "elsewhere"}),
    );
    assert_eq!(r.status, 201);
    let elsewhere = send_json(
        &server,
        "POST",
        "/v1/private/datasets/retrieve",
        &json!({"dataset_name": "qa", "project_name": "elsewhere"}),
    )
    .json();
    assert_ne!(elsewhere["id"].as_str(), Some(id.as_str()));
    assert_eq!(
        elsewhere["project_id"],
        server.project_id("elsewhere").unwrap()
    );
    get(
        &server,
        "DELETE",
        &format!("/v1/private/datasets/{}", elsewhere["id"].as_str().unwrap()),
    );
    send_json(
        &server,
        "POST",
        "/v1/private/datasets",
        &json!({"name": "other"}),
    );
    let page = get(&server, "GET", "/v1/private/datasets?page=1&size=10&name=Q").json();
    assert_eq!(page["total"], 1);
    let all = get(&server, "GET", "/v1/private/datasets?page=1&size=1").json();
    assert_eq!(
        (all["total"].as_u64(), all["content"][0]["name"].as_str()),
        (Some(2), Some("other"))
    );

    let r = send_json(
        &server,
        "PUT",
        &format!("/v1/private/datasets/{id}"),
        &json!({"name": "qa2", "description": "d"}),
    );
    assert_eq!(r.status, 204);
    assert_eq!(server.datasets(), ["qa2", "other"]);
    assert_eq!(
        send_json(
            &server,
            "POST",
            "/v1/private/datasets/delete",
            &json!({"dataset_name": "qa2", "project_name": P})
        )
        .status,
        204
    );
    assert_eq!(
        get(&server, "DELETE", &format!("/v1/private/datasets/{id}")).status,
        204
    );
    assert_eq!(
        get(&server, "GET", &format!("/v1/private/datasets/{id}")).status,
        404
    );
    assert_eq!(server.datasets(), ["other"]);
    server.assert_valid();
}

#[test]
fn items_are_upserted_into_versions() {
    let server = FakeOpik::start();
    // The first insert names a dataset that does not exist: the backend creates it.
    assert_eq!(
        put_items(
            &server,
            vec![item(1, json!({"q": "a"})), item(2, json!({"q": "b"}))],
            None
        )
        .status,
        204
    );
    assert_eq!(server.datasets(), ["qa"]);
    assert_eq!(server.dataset_versions("qa").len(), 1);
    // Without a batch group: the latest version is mutated (upsert by id).
    put_items(
        &server,
        vec![item(2, json!({"q": "b2"})), item(3, json!({"q": "c"}))],
        None,
    );
    assert_eq!(server.dataset_versions("qa").len(), 1);
    let items = server.dataset_items("qa");
    assert_eq!(
        items
            .iter()
            .map(|i| i["data"]["q"].clone())
            .collect::<Vec<_>>(),
        [json!("c"), json!("b2"), json!("a")]
    );
    // A batch group makes one new version for all its batches.
    let group = v7(500);
    put_items(
        &server,
        vec![item(4, json!({"q": "d"}))],
        Some(group.clone()),
    );
    put_items(&server, vec![item(1, json!({"q": "a2"}))], Some(group));
    let versions = server.dataset_versions("qa");
    assert_eq!(versions.len(), 2);

    let id = server
        .project_id(P)
        .map(|_| ())
        .and_then(|_| {
            let d = send_json(
                &server,
                "POST",
                "/v1/private/datasets/retrieve",
                &json!({"dataset_name": "qa"}),
            )
            .json();
            d["id"].as_str().map(str::to_string)
        })
        .unwrap();
    let list = get(
        &server,
        "GET",
        &format!("/v1/private/datasets/{id}/versions?page=1&size=1"),
    )
    .json();
    let v2 = &list["content"][0];
    assert_eq!(
        (
            list["total"].as_u64(),
            v2["version_name"].as_str(),
            v2["is_latest"].as_bool()
        ),
        (Some(2), Some("v2"), Some(true))
    );
    assert_eq!(
        (
            v2["items_total"].as_u64(),
            v2["items_added"].as_u64(),
            v2["items_modified"].as_u64()
        ),
        (Some(4), Some(1), Some(1))
    );
    assert_eq!(v2["version_hash"], versions[1]);
    assert_eq!(
        v2["change_description"],
        "Auto-created from SDK batch operation"
    );
    assert_eq!(v2["tags"], json!(["latest"]));
    let v1 = send_json(
        &server,
        "POST",
        &format!("/v1/private/datasets/{id}/versions/retrieve"),
        &json!({"version_name": "v1"}),
    )
    .json();
    assert_eq!(
        (v1["items_total"].as_u64(), v1["is_latest"].as_bool()),
        (Some(3), Some(false))
    );

    // Reads of the old version see it as it was.
    let old = stream(
        &server,
        json!({"dataset_name": "qa", "dataset_version": versions[0], "steam_limit": 100}),
    );
    assert_eq!(
        old.iter()
            .map(|i| i["data"]["q"].clone())
            .collect::<Vec<_>>(),
        [json!("c"), json!("b2"), json!("a")]
    );
    let page = get(
        &server,
        "GET",
        &format!(
            "/v1/private/datasets/{id}/items?page=1&size=10&version={}",
            versions[0]
        ),
    )
    .json();
    assert_eq!(page["total"], 3);
    assert_eq!(
        page["columns"],
        json!([{"name": "q", "types": ["string"], "filter_field_prefix": "data"}])
    );
    let latest = stream(&server, json!({"dataset_name": "qa", "steam_limit": 100}));
    assert_eq!(latest.len(), 4);
    assert_eq!(latest[3]["data"]["q"], "a2");
    assert_eq!(latest[0]["dataset_item_id"], latest[0]["id"]);

    // Deletes without a group mutate the latest version.
    let r = send_json(
        &server,
        "POST",
        "/v1/private/datasets/items/delete",
        &json!({"item_ids": [v7(4)]}),
    );
    assert_eq!(r.status, 204);
    assert_eq!(server.dataset_items("qa").len(), 3);
    assert_eq!(server.dataset_versions("qa").len(), 2);
    let one = get(
        &server,
        "GET",
        &format!("/v1/private/datasets/items/{}", v7(3)),
    );
    assert_eq!(
        (one.status, one.json()["data"]["q"].as_str()),
        (200, Some("c"))
    );
    assert_eq!(
        get(
            &server,
            "GET",
            &format!("/v1/private/datasets/items/{}", v7(4))
        )
        .status,
        404
    );
    server.assert_valid();
}

#[test]
fn ten_thousand_items_are_streamed_in_pages() {
    let server = FakeOpik::start();
    let group = v7(20_000);
    for chunk in 0..10u64 {
        let items: Vec<Value> = (0..1000).map(|i| {
            let n = chunk * 1000 + i + 1;
            item(n, json!({"input": {"n": n}, "expected": if n % 10 == 0 { "ten" } else { "other" }}))
        }).collect();
        assert_eq!(put_items(&server, items, Some(group.clone())).status, 204);
    }
    assert_eq!(server.dataset_versions("qa").len(), 1);
    let mut seen: Vec<String> = Vec::new();
    let mut requests = 0;
    loop {
        let mut body = json!({"dataset_name": "qa", "project_name": P, "steam_limit": 2000});
        if let Some(last) = seen.last() {
            body["last_retrieved_id"] = json!(last);
        }
        let page = stream(&server, body);
        requests += 1;
        seen.extend(page.iter().map(|i| i["id"].as_str().unwrap().to_string()));
        if page.len() < 2000 {
            break;
        }
    }
    assert_eq!((seen.len(), requests), (10_000, 6));
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest id first, no repeats"
    );
    let tens = stream(
        &server,
        json!({"dataset_name": "qa", "steam_limit": 2000,
        "filters": json!([{"field": "data", "operator": "=", "key": "expected", "value": "ten"}]).to_string()}),
    );
    assert_eq!(tens.len(), 1000);
    let d = send_json(
        &server,
        "POST",
        "/v1/private/datasets/retrieve",
        &json!({"dataset_name": "qa"}),
    )
    .json();
    assert_eq!(d["dataset_items_count"], 10_000);
    let page = get(
        &server,
        "GET",
        &format!(
            "/v1/private/datasets/{}/items?page=5&size=2000",
            d["id"].as_str().unwrap()
        ),
    )
    .json();
    assert_eq!(
        (
            page["content"].as_array().unwrap().len(),
            page["total"].as_u64()
        ),
        (2000, Some(10_000))
    );
    server.assert_valid();
}

#[test]
fn stream_errors_and_scripts() {
    let server = FakeOpik::start();
    let lines = stream(&server, json!({"dataset_name": "missing"}));
    assert_eq!(
        lines,
        [json!({"code": 404, "message": "Dataset not found"})],
        "the stream ends with the error"
    );
    put_items(&server, vec![item(1, json!({"q": 1}))], None);
    server.script("/datasets/items/stream", [Reply::status(500)]);
    let r = send_json(
        &server,
        "POST",
        "/v1/private/datasets/items/stream",
        &json!({"dataset_name": "qa"}),
    );
    assert_eq!(r.status, 500);
    assert_eq!(stream(&server, json!({"dataset_name": "qa"})).len(), 1);
    let r = send_json(
        &server,
        "PUT",
        "/v1/private/datasets/items",
        &json!({"items": [item(2, json!({}))]}),
    );
    assert_eq!(
        (r.status, r.json()),
        (
            422,
            json!({"errors": ["dataset_id or dataset_name must be provided"]})
        )
    );
    server.assert_valid();
}
