//! `opik::healthcheck` against the fake Opik: a working setup, a wrong key (401), a server that
//! is not there, a workspace the key has no access to, and a configuration that does not
//! resolve; each failure names what is wrong and the fix, and the key never shows.

mod common;

use common::TEST_KEY;
use fake_opik::FakeOpik;
use opik::config::{ConfigBuilder, Origin};
use opik::health::{HealthReport, Outcome};

const WORKSPACE: &str = "team-a";

fn builder(url: &str, key: Option<&str>, workspace: &str) -> ConfigBuilder {
    let mut vars = vec![
        ("OPIK_URL_OVERRIDE", url.to_owned()),
        ("OPIK_WORKSPACE", workspace.to_owned()),
    ];
    vars.extend(key.map(|k| ("OPIK_API_KEY", k.to_owned())));
    ConfigBuilder::with_env_map(vars)
}

/// The server, requiring `TEST_KEY` for `team-a`.
fn server() -> FakeOpik {
    let server = FakeOpik::start();
    server.require_auth(TEST_KEY, &[WORKSPACE]);
    server
}

/// The first failure: its check's name, problem and fix. Asserts the key is in no output.
fn failure(report: &HealthReport) -> (&'static str, String, String) {
    let printed = format!("{report}\n{report:?}");
    assert!(!printed.contains(TEST_KEY), "the key leaked: {printed}");
    let check = report
        .failure()
        .unwrap_or_else(|| panic!("a failure in {report}"));
    match &check.outcome {
        Outcome::Failed { problem, fix } => (check.name, problem.clone(), fix.clone()),
        other => panic!("{other:?}"),
    }
}

#[test]
fn hc01_a_working_setup_is_healthy_and_shows_where_each_setting_came_from() {
    let server = server();
    let report = opik::healthcheck_with(builder(&server.base_url(), Some(TEST_KEY), WORKSPACE));
    assert!(report.is_healthy(), "{report}");
    assert_eq!(report.checks().len(), 3);
    let printed = report.to_string();
    assert!(!printed.contains(TEST_KEY), "{printed}");
    let key = report
        .settings()
        .iter()
        .find(|s| s.name == "api_key")
        .unwrap();
    assert_eq!(
        key.value,
        format!("****{}", &TEST_KEY[TEST_KEY.len() - 4..])
    );
    assert_eq!(key.origin, Origin::Env("OPIK_API_KEY"));
    assert!(printed.contains("from OPIK_URL_OVERRIDE"), "{printed}");
    assert!(
        printed.contains("shutdown_timeout"),
        "the knobs are listed: {printed}"
    );
    // The server saw the ping and the access check, each valid against the spec.
    assert_eq!(server.request_count("GET /is-alive/ping"), 1);
    let auth = server.requests_to("POST /v1/private/auth");
    assert_eq!(auth.len(), 1);
    assert_eq!(auth[0].header("comet-workspace"), Some(WORKSPACE));
    assert_eq!(
        auth[0].header("content-encoding"),
        None,
        "a 2-byte body is sent plain"
    );
    server.assert_valid();
}

#[test]
fn hc02_a_wrong_key_is_a_401_failure_saying_to_copy_the_key_again() {
    let server = server();
    let report = opik::healthcheck_with(builder(
        &server.base_url(),
        Some("sk-not-the-right-key-0000"),
        WORKSPACE,
    ));
    let (name, problem, fix) = failure(&report);
    assert_eq!(name, "API key and workspace");
    assert!(
        problem.contains("401") && problem.contains("refused"),
        "{problem}"
    );
    assert!(
        problem.contains("OPIK_API_KEY"),
        "names where the key came from: {problem}"
    );
    assert!(fix.contains("Copy the key again"), "{fix}");
    assert!(
        !report.to_string().contains("not-the-right-key"),
        "{report}"
    );
    server.assert_valid();
}

#[test]
fn hc03_an_unreachable_server_fails_with_the_url_and_where_it_came_from() {
    let reserved = FakeOpik::reserve(); // bound, not listening: connections are refused
    let report = opik::healthcheck_with(builder(&reserved.base_url(), Some(TEST_KEY), WORKSPACE));
    let (name, problem, fix) = failure(&report);
    assert_eq!(name, "server reachable");
    assert!(problem.contains(&reserved.base_url()), "{problem}");
    assert!(problem.contains("could not connect"), "{problem}");
    assert!(
        fix.contains("url_override (from OPIK_URL_OVERRIDE)"),
        "{fix}"
    );
    assert_eq!(
        report.checks().len(),
        2,
        "the key is not checked without a server"
    );
}

#[test]
fn hc04_a_wrong_workspace_names_the_keys_own() {
    let server = server();
    let report = opik::healthcheck_with(builder(&server.base_url(), Some(TEST_KEY), "team-b"));
    let (name, problem, fix) = failure(&report);
    assert_eq!(name, "API key and workspace");
    assert!(
        problem.contains("valid, but not for workspace \"team-b\""),
        "{problem}"
    );
    assert!(problem.contains("OPIK_WORKSPACE"), "{problem}");
    assert!(
        fix.contains("\"team-a\""),
        "the key's default workspace: {fix}"
    );
    server.assert_valid();
}

#[test]
fn hc05_no_key_where_one_is_needed() {
    let server = server();
    let report = opik::healthcheck_with(builder(&server.base_url(), None, WORKSPACE));
    let (_, problem, fix) = failure(&report);
    assert!(problem.contains("needs an API key"), "{problem}");
    assert!(fix.contains("OPIK_API_KEY"), "{fix}");
}

#[test]
fn hc06_a_configuration_that_does_not_resolve_or_sends_nowhere() {
    let report = opik::healthcheck_with(builder("htp://nowhere", Some(TEST_KEY), WORKSPACE));
    let (name, problem, fix) = failure(&report);
    assert_eq!(name, "configuration");
    assert!(
        problem.contains("url_override from OPIK_URL_OVERRIDE"),
        "{problem}"
    );
    assert!(fix.contains("http://localhost:5173/api"), "{fix}");
    assert!(report.settings().is_empty());

    let nothing = ConfigBuilder::with_env_map(Vec::<(String, String)>::new());
    let (_, problem, fix) = failure(&opik::healthcheck_with(nothing));
    assert!(
        problem.contains("no Opik server is configured"),
        "{problem}"
    );
    assert!(fix.contains("OPIK_URL_OVERRIDE"), "{fix}");
}

#[test]
fn hc07_a_url_that_is_not_opiks_api() {
    let server = server();
    // The fake's root, without `/api`: no such operation, a 404.
    let root = server.base_url().trim_end_matches("/api").to_owned();
    let (name, problem, fix) = failure(&opik::healthcheck_with(builder(
        &root,
        Some(TEST_KEY),
        WORKSPACE,
    )));
    assert_eq!(name, "server reachable");
    assert!(problem.contains("404"), "{problem}");
    assert!(fix.contains("ends in /api"), "{fix}");
}

#[tokio::test]
async fn hc08_the_async_healthcheck_in_a_runtime() {
    let server = server();
    let report =
        opik::healthcheck_async(builder(&server.base_url(), Some(TEST_KEY), WORKSPACE)).await;
    assert!(report.is_healthy(), "{report}");
    // And the blocking one is safe inside a runtime too (it runs on a thread of its own).
    let report = opik::healthcheck_with(builder(&server.base_url(), Some(TEST_KEY), WORKSPACE));
    assert!(report.is_healthy(), "{report}");
}
