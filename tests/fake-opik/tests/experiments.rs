//! Experiments: create (with the dataset found by name), read by id and by name, update,
//! items linking experiment, dataset item and trace, the comparison view, delete.

mod common;

use common::*;
use fake_opik::FakeOpik;
use serde_json::{json, Value};

const P: &str = "fake-opik-exp";

fn setup(server: &FakeOpik) {
    let items = json!({"dataset_name": "ds", "project_name": P, "items": [
        {"id": v7(1), "source": "sdk", "data": {"q": "one"}},
        {"id": v7(2), "source": "sdk", "data": {"q": "two"}}]});
    assert_eq!(
        send_json(server, "PUT", "/v1/private/datasets/items", &items).status,
        204
    );
    let traces = json!({"traces": [
        {"id": v7(10), "project_name": P, "name": "task", "start_time": T0, "end_time": T1, "input": {"q": "one"}, "output": {"a": 1}},
        {"id": v7(11), "project_name": P, "name": "task", "start_time": T0, "end_time": T1, "input": {"q": "two"}, "output": {"a": 2}}]});
    assert_eq!(
        send_json(server, "POST", "/v1/private/traces/batch", &traces).status,
        204
    );
    send_json(
        server,
        "PUT",
        "/v1/private/traces/feedback-scores",
        &json!({"scores": [
        {"id": v7(10), "project_name": P, "name": "acc", "value": 1.0, "source": "sdk"},
        {"id": v7(11), "project_name": P, "name": "acc", "value": 0.0, "source": "sdk"}]}),
    );
}

#[test]
fn an_experiment_links_dataset_items_and_traces() {
    let server = FakeOpik::start();
    setup(&server);
    let exp = v7(100);
    let r = send_json(
        &server,
        "POST",
        "/v1/private/experiments",
        &json!({"id": exp, "name": "run-1",
        "dataset_name": "ds", "project_name": P, "metadata": {"model": "m"}, "type": "regular"}),
    );
    assert_eq!(r.status, 201);
    assert!(r
        .header("location")
        .unwrap()
        .ends_with(&format!("/experiments/{exp}")));
    let dup = send_json(
        &server,
        "POST",
        "/v1/private/experiments",
        &json!({"id": exp, "dataset_name": "ds"}),
    );
    assert_eq!(dup.status, 409);

    let items = json!({"experiment_items": [
        {"id": v7(200), "experiment_id": exp, "dataset_item_id": v7(1), "trace_id": v7(10), "project_name": P},
        {"id": v7(201), "experiment_id": exp, "dataset_item_id": v7(2), "trace_id": v7(11), "project_name": P}]});
    assert_eq!(
        send_json(&server, "POST", "/v1/private/experiments/items", &items).status,
        204
    );
    let links: Vec<(String, String, String)> = server
        .experiment_items()
        .iter()
        .map(|i| {
            (
                i.experiment_id.clone(),
                i.dataset_item_id.clone(),
                i.trace_id.clone(),
            )
        })
        .collect();
    assert_eq!(
        links,
        [(exp.clone(), v7(1), v7(10)), (exp.clone(), v7(2), v7(11))]
    );
    let unknown = json!({"experiment_items": [{"experiment_id": v7(999), "dataset_item_id": v7(1), "trace_id": v7(10)}]});
    assert_eq!(
        send_json(&server, "POST", "/v1/private/experiments/items", &unknown).status,
        409
    );

    let e = get(&server, "GET", &format!("/v1/private/experiments/{exp}")).json();
    assert_eq!(
        (
            e["name"].as_str(),
            e["dataset_name"].as_str(),
            e["project_name"].as_str()
        ),
        (Some("run-1"), Some("ds"), Some(P))
    );
    assert_eq!(
        (e["trace_count"].as_u64(), e["dataset_item_count"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(e["feedback_scores"], json!([{"name": "acc", "value": 0.5}]));
    assert_eq!(e["metadata"], json!({"model": "m"}));
    assert!(
        e["dataset_version_id"].is_string(),
        "linked to the dataset's latest version"
    );
    assert_eq!(server.experiment("run-1").unwrap(), e);
    assert_eq!(
        get(
            &server,
            "GET",
            &format!("/v1/private/experiments/{}", v7(998))
        )
        .status,
        404
    );

    let by_name = send_json(
        &server,
        "POST",
        "/v1/private/experiments/stream",
        &json!({"name": "run", "limit": 10}),
    )
    .lines();
    assert_eq!(by_name.len(), 1);
    let dataset = send_json(
        &server,
        "POST",
        "/v1/private/datasets/retrieve",
        &json!({"dataset_name": "ds"}),
    )
    .json();
    assert_eq!(dataset["experiment_count"], 1);
    let found = get(
        &server,
        "GET",
        &format!(
            "/v1/private/experiments?page=1&size=10&datasetId={}",
            dataset["id"].as_str().unwrap()
        ),
    )
    .json();
    assert_eq!(found["total"], 1);

    let streamed = send_json(
        &server,
        "POST",
        "/v1/private/experiments/items/stream",
        &json!({"experiment_name": "run-1", "limit": 10}),
    )
    .lines();
    assert_eq!(streamed.len(), 2);
    assert_eq!(
        (streamed[0]["id"].as_str(), streamed[0]["output"].clone()),
        (Some(v7(201).as_str()), json!({"a": 2}))
    );

    let compare = get(
        &server,
        "GET",
        &format!(
            "/v1/private/datasets/{}/items/experiments/items?page=1&size=10&experiment_ids={}",
            dataset["id"].as_str().unwrap(),
            enc(&json!([exp]).to_string())
        ),
    )
    .json();
    assert_eq!(compare["total"], 2);
    let row: &Value = &compare["content"][1];
    assert_eq!(row["data"], json!({"q": "one"}));
    assert_eq!(row["experiment_items"][0]["trace_id"], v7(10));
    assert_eq!(
        row["experiment_items"][0]["feedback_scores"][0]["value"],
        1.0
    );

    let r = send_json(
        &server,
        "PATCH",
        &format!("/v1/private/experiments/{exp}"),
        &json!({"name": "run-1b", "experiment_scores": [{"name": "overall", "value": 0.5}], "tags_to_add": ["x"]}),
    );
    assert_eq!(r.status, 204);
    let e = server.experiment("run-1b").unwrap();
    assert_eq!(
        (
            e["experiment_scores"][0]["name"].as_str(),
            e["tags"].clone()
        ),
        (Some("overall"), json!(["x"]))
    );

    assert_eq!(
        send_json(
            &server,
            "POST",
            "/v1/private/experiments/items/delete",
            &json!({"ids": [v7(200)]})
        )
        .status,
        204
    );
    assert_eq!(server.experiment_items().len(), 1);
    assert_eq!(
        send_json(
            &server,
            "POST",
            "/v1/private/experiments/delete",
            &json!({"ids": [exp]})
        )
        .status,
        204
    );
    assert!(server.experiment("run-1b").is_none() && server.experiment_items().is_empty());
    server.assert_valid();
}

#[test]
fn an_experiment_links_prompt_versions() {
    let server = FakeOpik::start();
    let v = send_json(
        &server,
        "POST",
        "/v1/private/prompts/versions",
        &json!({"name": "calc", "version": {"template": "Compute {{x}}", "type": "mustache"}}),
    )
    .json();
    let r = send_json(
        &server,
        "POST",
        "/v1/private/experiments",
        &json!({"name": "with-prompt",
        "dataset_name": "ds", "prompt_versions": [{"id": v["id"]}]}),
    );
    assert_eq!(r.status, 201);
    let e = server.experiment("with-prompt").unwrap();
    let link = json!({"prompt_version_id": v["id"], "commit": v["commit"], "prompt_id": v["prompt_id"], "prompt_name": "calc"});
    assert_eq!(
        (e["prompt_versions"].clone(), e["prompt_version"].clone()),
        (json!([link.clone()]), link)
    );
    server.assert_valid();
}

#[test]
fn an_experiment_creates_its_dataset_and_gets_a_name() {
    let server = FakeOpik::start();
    let r = send_json(
        &server,
        "POST",
        "/v1/private/experiments",
        &json!({"dataset_name": "fresh"}),
    );
    assert_eq!(r.status, 201);
    assert_eq!(server.datasets(), ["fresh"]);
    let id = r
        .header("location")
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_string();
    let e = get(&server, "GET", &format!("/v1/private/experiments/{id}")).json();
    assert!(!e["name"].as_str().unwrap().is_empty());
    assert!(
        e.get("dataset_version_id").is_none(),
        "the dataset has no version yet"
    );
    server.assert_valid();
}
